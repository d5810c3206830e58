"""The HTTP face of the Google stand-in: OAuth 2.0 for web server applications (consent page,
token and revoke endpoints) and the parts of Calendar API v3 a sync service uses
(``calendarList.list``, ``events.*``, ``events.watch``, ``channels.stop``), at the paths
Google serves them, so ``google-api-python-client`` and ``google-auth`` talk to it unchanged
(``client_options={"api_endpoint": <this>/calendar/v3/}``, ``token_uri=<this>/token``).

``/_fake/...`` is the operator's backdoor (accounts, calendars, a corrupt event, revoking a
user's grants, expiring sync tokens); Google has no such thing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from calsync_localinfra.google import events
from calsync_localinfra.google.store import ApiError, Channel, GoogleState
from calsync_localinfra.oauth_authority import add_oauth_routes
from calsync_localinfra.standin_backdoor import add_backdoor_routes

CHANNEL_TTL_SECONDS = 604800  # events.watch's default: one week


def create_app(state: GoogleState) -> FastAPI:
    app = FastAPI(title="Google stand-in", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.google = state
    deliveries: set[asyncio.Task[None]] = set()

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    def notify(calendar_id: str) -> None:
        """Push notifications carry no body, only X-Goog-* headers ("Push notifications")."""
        with state.locked():
            now_ms = int(time.time() * 1000)
            targets = [c for c in state.channels.values() if c.calendar_id == calendar_id]
            messages = [_message(c, "exists") for c in targets if c.expiration_ms > now_ms]
        for address, headers in messages:
            task = asyncio.create_task(_deliver(address, headers))
            deliveries.add(task)
            task.add_done_callback(deliveries.discard)

    # --- OAuth 2.0 ----------------------------------------------------------------------------

    title = "Sign in - Google Accounts (stand-in)"
    add_oauth_routes(app, state, "/o/oauth2/v2/auth", "/token", title)

    @app.post("/revoke")
    async def revoke(token: str) -> dict[str, str]:
        state.revoke(token)
        return {}

    # --- Calendar API v3 ------------------------------------------------------------------------

    @app.get("/calendar/v3/users/me/calendarList")
    async def calendar_list(authorization: Annotated[str | None, Header()] = None) -> Any:
        with state.locked():
            email = state.user_of(authorization)
            items = [
                {
                    "kind": "calendar#calendarListEntry",
                    "etag": f'"{c.seq}"',
                    "id": c.id,
                    "summary": c.summary,
                    "timeZone": "UTC",
                    "backgroundColor": c.color,
                    "accessRole": "owner",
                    **({"primary": True} if c.primary else {}),
                }
                for c in state.calendars_of(email)
            ]
        return {"kind": "calendar#calendarList", "etag": '"1"', "items": items}

    @app.get("/calendar/v3/calendars/{calendar_id}/events")
    async def list_events(
        calendar_id: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            return events.list_events(calendar, dict(request.query_params))

    @app.post("/calendar/v3/calendars/{calendar_id}/events")
    async def insert_event(
        calendar_id: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            created = events.insert(calendar, body)
        notify(calendar.id)
        return created

    @app.post("/calendar/v3/calendars/{calendar_id}/events/watch")
    async def watch(
        calendar_id: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            channel = _open_channel(state, calendar.id, body)
            first = _message(channel, "sync")
        await _deliver(*first)
        return {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": _resource_uri(calendar.id),
            "token": channel.token,
            "expiration": str(channel.expiration_ms),
        }

    @app.get("/calendar/v3/calendars/{calendar_id}/events/{event_id}")
    async def get_event(
        calendar_id: str, event_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            return events.get(calendar, event_id)

    @app.api_route(
        "/calendar/v3/calendars/{calendar_id}/events/{event_id}", methods=["PUT", "PATCH"]
    )
    async def write_event(
        calendar_id: str,
        event_id: str,
        request: Request,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Any:
        """``events.update`` (PUT: the body replaces the event) and ``events.patch``."""
        write = events.update if request.method == "PUT" else events.patch
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            written = write(calendar, event_id, body, if_match)
        notify(calendar.id)
        return written

    @app.delete("/calendar/v3/calendars/{calendar_id}/events/{event_id}", status_code=204)
    async def delete_event(
        calendar_id: str,
        event_id: str,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
        send_updates: Annotated[str, Query(alias="sendUpdates")] = "none",
    ) -> Response:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            events.delete(calendar, event_id, if_match)
            if send_updates in ("all", "externalOnly"):  # Google mails the guests
                state.mailed.append({"calendar": calendar.id, "event": event_id, "kind": "cancel"})
        notify(calendar.id)
        return Response(status_code=204)

    @app.post("/calendar/v3/channels/stop", status_code=204)
    async def stop_channel(
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        with state.locked():
            state.user_of(authorization)
            channel = state.channels.get(str(body.get("id")))
            if channel is None or channel.resource_id != body.get("resourceId"):
                raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found")
            del state.channels[channel.id]
        return Response(status_code=204)

    # --- the operator's backdoor ------------------------------------------------------------------

    @app.post("/_fake/calendars/{calendar_id}/raw")
    async def put_raw(calendar_id: str, body: Annotated[dict[str, Any], Body()]) -> Any:
        with state.locked():
            calendar = state.calendars[calendar_id]
            stored = events.put_raw(calendar, body)
        notify(calendar_id)
        return stored

    @app.post("/_fake/calendars/{calendar_id}/bulk")
    async def put_many(calendar_id: str, body: Annotated[list[dict[str, Any]], Body()]) -> Any:
        """Many events at once, each checked as ``events.insert`` checks it (benchmarks)."""
        with state.locked():
            calendar = state.calendars[calendar_id]
            return [events.insert(calendar, event)["id"] for event in body]

    @app.post("/_fake/calendars/{calendar_id}/expire-sync-tokens", status_code=204)
    async def expire(calendar_id: str) -> Response:
        with state.locked():
            events.expire_sync_tokens(state.calendars[calendar_id])
        return Response(status_code=204)

    @app.get("/_fake/channels")
    async def channels() -> list[dict[str, Any]]:
        with state.locked():
            return [vars(c) for c in state.channels.values()]

    add_backdoor_routes(app, state)
    return app


def _open_channel(state: GoogleState, calendar_id: str, body: dict[str, Any]) -> Channel:
    if body.get("type") not in ("web_hook", "webhook") or not body.get("address"):
        raise ApiError(400, "invalid", "Missing or invalid channel type or address.")
    channel_id = str(body.get("id") or "")
    if not channel_id or channel_id in state.channels:
        raise ApiError(400, "channelIdNotUnique", "Channel id not unique.")
    token = body.get("token")
    if token is not None and len(str(token)) > 256:
        raise ApiError(400, "invalid", "Channel token longer than 256 characters.")
    ttl = int((body.get("params") or {}).get("ttl", CHANNEL_TTL_SECONDS))
    channel = Channel(
        id=channel_id,
        resource_id=secrets.token_urlsafe(20),
        calendar_id=calendar_id,
        address=str(body["address"]),
        token=None if token is None else str(token),
        expiration_ms=int((time.time() + ttl) * 1000),
    )
    state.channels[channel_id] = channel
    return channel


def _message(channel: Channel, resource_state: str) -> tuple[str, dict[str, str]]:
    headers = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Message-Number": str(channel.messages + 1),
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": resource_state,
        "X-Goog-Resource-URI": _resource_uri(channel.calendar_id),
        "X-Goog-Channel-Expiration": time.strftime(
            "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(channel.expiration_ms / 1000)
        ),
    }
    if channel.token is not None:
        headers["X-Goog-Channel-Token"] = channel.token
    channel.messages += 1
    return channel.address, headers


async def _deliver(address: str, headers: dict[str, str]) -> None:
    """One attempt; a failed delivery is dropped, as Google warns some notifications are."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.post(address, headers=headers)
    except httpx.HTTPError:
        return


def _resource_uri(calendar_id: str) -> str:
    return f"https://www.googleapis.com/calendar/v3/calendars/{calendar_id}/events?alt=json"
