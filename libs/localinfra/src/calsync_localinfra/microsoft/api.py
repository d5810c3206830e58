"""The HTTP face of the Microsoft stand-in: the Microsoft identity platform's OAuth 2.0 endpoints
(tenant ``common``: OpenID configuration, consent page, token endpoint) and the part of Microsoft
Graph v1.0 a calendar sync uses (``/me``, ``/me/calendars``, events, the calendar view's delta
query), at Microsoft's paths, over HTTPS (MSAL refuses anything else), so MSAL and any Graph
client talk to it unchanged but for the address and the certificate they trust.

``/_fake/...`` is the operator's backdoor; Microsoft has no such thing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from calsync_localinfra.microsoft import events, notifications
from calsync_localinfra.microsoft.store import Calendar, GraphError, MicrosoftState
from calsync_localinfra.oauth_authority import add_oauth_routes
from calsync_localinfra.standin_backdoor import add_backdoor_routes

TENANT = "common"


def create_app(state: MicrosoftState) -> FastAPI:
    app = FastAPI(title="Microsoft stand-in", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(GraphError)
    async def graph_error(request: Request, error: GraphError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    # --- Microsoft identity platform ----------------------------------------------------------

    @app.get(f"/{TENANT}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{TENANT}/oauth2/v2.0/token",
            "issuer": f"{base}/{{tenantid}}/v2.0",
            "jwks_uri": f"{base}/{TENANT}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }

    title = "Sign in to your account (Microsoft stand-in)"
    authorize, token = f"/{TENANT}/oauth2/v2.0/authorize", f"/{TENANT}/oauth2/v2.0/token"
    add_oauth_routes(app, state, authorize, token, title)

    # --- Microsoft Graph v1.0 -----------------------------------------------------------------

    @app.get("/v1.0/me")
    async def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        email = state.user_of(authorization)
        name = email.split("@")[0].title()
        return {"id": email, "displayName": name, "mail": email, "userPrincipalName": email}

    @app.get("/v1.0/me/calendars")
    async def calendars(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        with state.locked():
            email = state.user_of(authorization)
            mine = [c for c in state.calendars.values() if c.owner == email]
            return {"value": [_calendar(c) for c in mine]}

    @app.post("/v1.0/me/calendars/{calendar_id}/events", status_code=201)
    async def create_event(
        calendar_id: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            created = events.create(calendar, body)
        notifications.notify(state, calendar.id, created["id"], "created")
        return events.shown(created)

    @app.get("/v1.0/me/calendars/{calendar_id}/calendarView/delta")
    async def delta(
        calendar_id: str,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        prefer: Annotated[str | None, Header()] = None,
    ) -> Any:
        size = events.PAGE_SIZE
        for part in (prefer or "").split(","):
            name, _, value = part.strip().partition("=")
            if name == "odata.maxpagesize" and value.isdigit():
                size = int(value)
        with state.locked():
            calendar = state.calendar(state.user_of(authorization), calendar_id)
            base = str(request.url).split("?")[0]
            return events.delta(calendar, dict(request.query_params), size, base)

    @app.get("/v1.0/me/events/{event_id}")
    async def get_event(
        event_id: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        expand = "singleValueExtendedProperties" in request.query_params.get("$expand", "")
        with state.locked():
            calendar = state.calendar_of_event(state.user_of(authorization), event_id)
            return events.shown(events.get(calendar, event_id), expand)

    @app.patch("/v1.0/me/events/{event_id}")
    async def update_event(
        event_id: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Any:
        with state.locked():
            calendar = state.calendar_of_event(state.user_of(authorization), event_id)
            updated = events.update(calendar, event_id, body, if_match)
        notifications.notify(state, calendar.id, event_id, "updated")
        return events.shown(updated)

    @app.delete("/v1.0/me/events/{event_id}", status_code=204)
    async def delete_event(
        event_id: str,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        with state.locked():
            calendar = state.calendar_of_event(state.user_of(authorization), event_id)
            events.delete(calendar, event_id, if_match)
        notifications.notify(state, calendar.id, event_id, "deleted")
        return Response(status_code=204)

    @app.post("/v1.0/me/events/{event_id}/cancel", status_code=202)
    async def cancel_event(
        event_id: str,
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The organizer cancels: the attendees are mailed and the event goes."""
        with state.locked():
            calendar = state.calendar_of_event(state.user_of(authorization), event_id)
            events.cancel(calendar, event_id)
            state.mailed.append({"calendar": calendar.id, "event": event_id, "kind": "cancel"})
        notifications.notify(state, calendar.id, event_id, "deleted")
        return Response(status_code=202)

    @app.post("/v1.0/subscriptions", status_code=201)
    async def subscribe(
        body: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        made = await notifications.subscribe(state, state.user_of(authorization), body)
        return {
            "id": made.id,
            "resource": body.get("resource"),
            "changeType": body.get("changeType"),
            "notificationUrl": made.url,
            "expirationDateTime": made.expires.isoformat().replace("+00:00", "Z"),
        }

    @app.delete("/v1.0/subscriptions/{subscription_id}", status_code=204)
    async def unsubscribe(
        subscription_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        with state.locked():
            state.user_of(authorization)
            if state.subscriptions.pop(subscription_id, None) is None:
                raise GraphError(404, "ResourceNotFound", "The subscription was not found.")
        return Response(status_code=204)

    # --- the operator's backdoor ----------------------------------------------------------------

    @app.post("/_fake/calendars/{calendar_id}/raw")
    async def put_raw(calendar_id: str, body: Annotated[dict[str, Any], Body()]) -> Any:
        with state.locked():
            return events.shown(events.put_raw(state.calendars[calendar_id], body))

    @app.post("/_fake/calendars/{calendar_id}/expire-delta-tokens", status_code=204)
    async def expire(calendar_id: str) -> Response:
        with state.locked():
            events.expire_delta_tokens(state.calendars[calendar_id])
        return Response(status_code=204)

    add_backdoor_routes(app, state)
    return app


def _calendar(calendar: Calendar) -> dict[str, Any]:
    return {
        "id": calendar.id,
        "name": calendar.name,
        "color": calendar.color,
        "hexColor": "#0078d4" if calendar.default else "#8cbd18",
        "isDefaultCalendar": calendar.default,
        "canEdit": True,
        "owner": {"name": calendar.owner, "address": calendar.owner},
    }
