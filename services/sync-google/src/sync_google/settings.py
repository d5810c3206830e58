"""sync-google's settings: the shared sync-service settings plus the Google OAuth client (made
in the Google Cloud console; its secret is read from the environment, never logged) and where
Google is (its real addresses unless a stand-in is used)."""

from __future__ import annotations

from pydantic import SecretStr

from sync_google.api import GoogleEndpoints, OAuthClient
from sync_runtime.settings import SyncServiceSettings

GOOGLE = GoogleEndpoints()


class Settings(SyncServiceSettings):
    google_client_id: str
    google_client_secret: SecretStr
    google_api_endpoint: str = GOOGLE.api_endpoint
    google_token_uri: str = GOOGLE.token_uri
    google_auth_uri: str = GOOGLE.auth_uri

    @property
    def oauth_client(self) -> OAuthClient:
        return OAuthClient(self.google_client_id, self.google_client_secret.get_secret_value())

    @property
    def endpoints(self) -> GoogleEndpoints:
        return GoogleEndpoints(
            self.google_api_endpoint, self.google_token_uri, self.google_auth_uri
        )
