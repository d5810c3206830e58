"""Graph's change notifications for the stand-in ("Set up notifications for changes in
resource data"): a subscription's address is checked first (a POST with ``validationToken``
that must be echoed as plain text within 10 seconds), then every change to the calendar's
events is POSTed as ``{"value": [{"subscriptionId", "clientState", "changeType", "resource",
"resourceData"}]}``. Outlook resources allow 4,230 minutes at most until expiry."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from calsync_localinfra.microsoft.store import GraphError, MicrosoftState, Subscription

MAX_MINUTES = 4230
RESOURCE = "me/calendars/{calendar_id}/events"


async def subscribe(state: MicrosoftState, email: str, body: dict[str, Any]) -> Subscription:
    resource = str(body.get("resource", "")).strip("/")
    parts = resource.split("/")
    if len(parts) != 4 or parts[:2] != ["me", "calendars"] or parts[3] != "events":
        raise GraphError(400, "InvalidRequest", "Only a calendar's events can be subscribed to.")
    with state.locked():
        calendar = state.calendar(email, parts[2])
    expires = _when(str(body.get("expirationDateTime", "")))
    if expires > datetime.now(UTC) + timedelta(minutes=MAX_MINUTES):
        raise GraphError(400, "InvalidRequest", "Expiration is too far in the future.")
    url, token = str(body.get("notificationUrl", "")), secrets.token_urlsafe(16)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(url, params={"validationToken": token})
    except httpx.HTTPError:
        answer = None
    if answer is None or answer.status_code != 200 or answer.text != token:
        raise GraphError(400, "ValidationError", "Subscription validation request failed.")
    made = Subscription(
        id=str(secrets.token_hex(16)),
        calendar_id=calendar.id,
        url=url,
        client_state=str(body.get("clientState", "")),
        expires=expires,
    )
    with state.locked():
        state.subscriptions[made.id] = made
    return made


def notify(state: MicrosoftState, calendar_id: str, event_id: str, change: str) -> None:
    """Sends the change to every live subscription of the calendar (one attempt each)."""
    now = datetime.now(UTC)
    with state.locked():
        targets = [
            s
            for s in state.subscriptions.values()
            if s.calendar_id == calendar_id and s.expires > now
        ]
    for target in targets:
        note = {
            "subscriptionId": target.id,
            "subscriptionExpirationDateTime": target.expires.isoformat(),
            "changeType": change,
            "resource": f"Users/me/Events/{event_id}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id},
            "clientState": target.client_state,
            "tenantId": "",
        }
        task = asyncio.get_running_loop().create_task(_deliver(target.url, {"value": [note]}))
        _pending.add(task)
        task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()


async def _deliver(url: str, body: dict[str, Any]) -> None:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.post(url, json=body)
    except httpx.HTTPError:
        return


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "InvalidRequest", "Invalid expirationDateTime.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
