"""The sync services' internal API as crm-api sees it: the connection test (libs/contracts
``internal.py``). The secret travels only in this request body, over the internal network."""

from __future__ import annotations

import httpx

from calsync_contracts.internal import ProbeRequest, ProbeResult, ProbeVerdict


class SyncServiceUnavailable(Exception):
    """No sync service is configured for the provider in this deployment."""


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
