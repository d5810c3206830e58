"""Settings every sync service shares (read once at start-up, injected)."""

from __future__ import annotations

import os
import socket

from pydantic import Field, SecretStr, field_validator, model_validator

from calsync_platform.settings import ServiceSettings, require_strong_secret


class SyncServiceSettings(ServiceSettings):
    database_url: str
    """The sync service's OWN database (links, cursors, leases): never crm-api's."""
    internal_api_token: SecretStr
    """Authenticates the internal API calls to and from crm-api."""
    crm_api_url: str = "http://127.0.0.1:8000"
    ssrf_allow: list[str] = Field(
        default_factory=list,
        description="Hosts, host:port or CIDRs a connection may use although private/loopback.",
    )
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_seconds: int = Field(default=120, ge=5)
    tick_seconds: float = Field(default=1.0, gt=0)
    max_parallel_connections: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(
        default=60.0, gt=0, description="First pause after a temporary error (doubles after)."
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            value = value.replace("postgresql://", "postgresql+asyncpg://", 1)
        return value

    @model_validator(mode="after")
    def _strong_token(self) -> SyncServiceSettings:
        token = self.internal_api_token.get_secret_value()
        require_strong_secret("INTERNAL_API_TOKEN", token, self.environment)
        return self
