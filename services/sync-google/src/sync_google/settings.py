"""sync-google's settings: the shared sync-service settings plus the Google OAuth client (made
in the Google Cloud console; its secret is read from the environment, never logged) and where
Google is (its real addresses unless a stand-in is used)."""

from __future__ import annotations

from pydantic import SecretStr, model_validator

from calsync_platform.settings import Environment
from sync_google.api import GoogleEndpoints, OAuthClient
from sync_runtime.settings import SyncServiceSettings

GOOGLE = GoogleEndpoints()


class Settings(SyncServiceSettings):
    google_client_id: str
    google_client_secret: SecretStr
    google_api_endpoint: str = GOOGLE.api_endpoint
    google_token_uri: str = GOOGLE.token_uri
    google_auth_uri: str = GOOGLE.auth_uri
    google_push_url: str | None = None
    """The public HTTPS address of this service's ``/webhooks/google``: Google notifies it of
    changes (``events.watch``). Unset: changes are found by polling only."""
    google_allow_plain_http: bool = False
    """For a stand-in speaking plain HTTP (the local one, compose's): OAuth needs HTTPS
    (RFC 6749 §3.1.2.1). Refused in production."""

    @model_validator(mode="after")
    def _https_in_production(self) -> Settings:
        if self.google_allow_plain_http and self.environment is Environment.PROD:
            raise ValueError("GOOGLE_ALLOW_PLAIN_HTTP is for development only")
        return self

    @property
    def oauth_client(self) -> OAuthClient:
        return OAuthClient(self.google_client_id, self.google_client_secret.get_secret_value())

    @property
    def endpoints(self) -> GoogleEndpoints:
        return GoogleEndpoints(
            self.google_api_endpoint,
            self.google_token_uri,
            self.google_auth_uri,
            self.google_allow_plain_http,
        )
