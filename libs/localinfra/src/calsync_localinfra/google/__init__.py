"""A stand-in for Google (OAuth 2.0 and Calendar API v3) as a local process: Google cannot run
here, so tests, benchmarks and ``make run`` talk to this with the real client libraries.

``LocalGoogle`` starts it on a free port; ``api_endpoint`` and ``token_uri`` are what a client
points at instead of Google's addresses. Accounts and calendars are made through its backdoor.
"""

from __future__ import annotations

from typing import Any

from calsync_localinfra.standin_process import LocalStandIn

CLIENT_ID = "local-client.apps.googleusercontent.com"
CLIENT_SECRET = "local-client-secret"  # noqa: S105 (the stand-in's, known to tests)


class LocalGoogle(LocalStandIn):
    module = "calsync_localinfra.google"
    name = "Google stand-in"

    def __init__(
        self,
        base_dir: Any,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        accounts: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        super().__init__(
            base_dir, client_id=client_id, client_secret=client_secret, accounts=accounts, port=port
        )

    @property
    def api_endpoint(self) -> str:
        return self.url + "calendar/v3/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def auth_uri(self) -> str:
        return self.url + "o/oauth2/v2/auth"

    @property
    def authorize_uri(self) -> str:
        return self.auth_uri

    @property
    def token_endpoint(self) -> str:
        return self.token_uri

    def put_many(self, calendar_id: str, events: list[dict[str, Any]]) -> list[str]:
        return list(self._post(f"_fake/calendars/{calendar_id}/bulk", events))

    def expire_sync_tokens(self, calendar_id: str) -> None:
        self._post(f"_fake/calendars/{calendar_id}/expire-sync-tokens", None)

    def channels(self) -> list[dict[str, Any]]:
        return list(self._get("_fake/channels"))
