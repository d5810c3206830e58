"""The sync services' internal API as crm-api sees it: the connection test and the OAuth steps
(libs/contracts ``internal.py``). Secrets travel only in these bodies, over the internal
network."""

from __future__ import annotations

import httpx

from calsync_contracts.internal import (
    OAuthFinish,
    OAuthFinished,
    OAuthStart,
    OAuthStarted,
    ProbeRequest,
    ProbeResult,
    ProbeVerdict,
)


class SyncServiceUnavailable(Exception):
    """No sync service is configured for the provider in this deployment."""


class SyncServiceRefused(Exception):
    """The sync service said no (409), with a message meant for the user."""


class SyncServiceDown(Exception):
    """The sync service did not answer."""


class SyncServices:
    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], token: str | None) -> None:
        self._http = http
        self._urls = urls
        self._token = token

    def available(self, provider: str) -> bool:
        return provider in self._urls and self._token is not None

    async def probe(self, provider: str, request: ProbeRequest) -> ProbeResult:
        if not self.available(provider):
            raise SyncServiceUnavailable(provider)
        body = request.model_dump(mode="json")
        body["credentials"]["secret"] = request.credentials.secret.get_secret_value()
        try:
            response = await self._http.post(
                self._urls[provider].rstrip("/") + "/internal/probe",
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
            )
            response.raise_for_status()
        except httpx.HTTPError:
            return ProbeResult(
                verdict=ProbeVerdict.UNREACHABLE,
                message="The calendar sync service did not answer; try again in a moment.",
            )
        return ProbeResult.model_validate_json(response.content)

    async def oauth_start(self, provider: str, request: OAuthStart) -> OAuthStarted:
        answer = await self._call(provider, "/internal/oauth/start", request)
        return OAuthStarted.model_validate_json(answer)

    async def oauth_finish(self, provider: str, request: OAuthFinish) -> OAuthFinished:
        answer = await self._call(provider, "/internal/oauth/finish", request)
        return OAuthFinished.model_validate_json(answer)

    async def _call(self, provider: str, path: str, request: OAuthStart | OAuthFinish) -> bytes:
        if not self.available(provider):
            raise SyncServiceUnavailable(provider)
        body = request.model_dump(mode="json")
        for name, value in request:  # SecretStr fields are sent in clear on this internal call
            if hasattr(value, "get_secret_value"):
                body[name] = value.get_secret_value()
        try:
            response = await self._http.post(
                self._urls[provider].rstrip("/") + path,
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.HTTPError as error:
            raise SyncServiceDown(provider) from error
        if response.status_code == 409:
            raise SyncServiceRefused(str(response.json().get("detail", "")))
        if response.is_error:
            raise SyncServiceDown(f"{provider} answered {response.status_code}")
        return response.content
