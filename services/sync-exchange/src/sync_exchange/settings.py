"""sync-exchange's settings: the shared sync-service settings plus the app registration in
Microsoft Entra ID (its secret read from the environment, never logged) and where Microsoft is
(its real addresses unless a stand-in is used)."""

from __future__ import annotations

from pydantic import SecretStr, model_validator

from calsync_platform.settings import Environment
from sync_exchange.graph.client import AppRegistration, MicrosoftEndpoints
from sync_runtime.settings import SyncServiceSettings

MICROSOFT = MicrosoftEndpoints()


class Settings(SyncServiceSettings):
    microsoft_client_id: str
    microsoft_client_secret: SecretStr
    microsoft_authority: str = MICROSOFT.authority
    microsoft_sign_in_authority: str | None = None
    """Where browsers reach the authority, when not where this service does (a stand-in in
    compose); unset: ``microsoft_authority``."""
    microsoft_graph_endpoint: str = MICROSOFT.graph
    microsoft_push_url: str | None = None
    """The public HTTPS address of this service's ``/webhooks/microsoft``: Graph (subscriptions)
    and Exchange Server (EWS push subscriptions) notify it of changes; an Exchange Server must
    be able to reach it. Unset: changes are found by polling only."""
    microsoft_ca_file: str | None = None
    """A certificate to trust for a stand-in (self-signed). Refused in production."""

    @model_validator(mode="after")
    def _system_trust_in_production(self) -> Settings:
        if self.microsoft_ca_file and self.environment is Environment.PROD:
            raise ValueError("MICROSOFT_CA_FILE is for development only")
        return self

    @property
    def app_registration(self) -> AppRegistration:
        return AppRegistration(
            self.microsoft_client_id, self.microsoft_client_secret.get_secret_value()
        )

    @property
    def endpoints(self) -> MicrosoftEndpoints:
        return MicrosoftEndpoints(
            self.microsoft_authority,
            self.microsoft_graph_endpoint,
            self.microsoft_ca_file,
            self.microsoft_sign_in_authority,
        )
