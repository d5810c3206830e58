"""What the composition root builds once and every request shares."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from crm_api.adapters.database import SessionFactory
from crm_api.adapters.secret_box import SecretBox
from crm_api.settings import Settings


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    sessions: SessionFactory
    secrets: SecretBox
    sync_services: httpx.AsyncClient
    """Talks to the sync services' internal API (connection tests)."""
