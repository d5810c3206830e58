"""The operator's backdoor of the EWS stand-in (``/_fake/...``; Exchange has no such thing):
mailboxes and service accounts, ApplicationImpersonation grants, passwords, calendars, raw
items (what a migration can leave behind, e.g. a CalendarItem without Start and End),
ErrorServerBusy on demand, the push subscriptions and a status ping sent now, and, shared with
every stand-in, what would have been mailed and a request count."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Response

from calsync_localinfra.ews.events import PushSubscription
from calsync_localinfra.ews.notifier import PushNotifier
from calsync_localinfra.ews.properties import key_of_element
from calsync_localinfra.ews.soap import Element, from_fragment, local, t
from calsync_localinfra.ews.store import ExchangeState, Throttle
from calsync_localinfra.standin_backdoor import add_observation_routes

JsonBody = Annotated[dict[str, Any], Body()]


def add_routes(app: FastAPI, state: ExchangeState, notifier: PushNotifier) -> None:
    @app.post("/_fake/accounts")
    async def add_account(body: JsonBody) -> dict[str, str]:
        """A mailbox; answers its Calendar's FolderId."""
        with state.locked():
            return {"id": state.add_account(body["email"], body["password"]).id}

    @app.post("/_fake/accounts/{email}/calendars")
    async def add_calendar(email: str, body: JsonBody) -> dict[str, str]:
        with state.locked():
            folder = state.add_calendar(email.lower(), body["name"], body.get("parent_id"))
            return {"id": folder.id}

    @app.post("/_fake/service-accounts", status_code=204)
    async def add_service_account(body: JsonBody) -> Response:
        state.add_service_account(body["login"], body["password"])
        return Response(status_code=204)

    @app.post("/_fake/accounts/{login}/impersonate", status_code=204)
    async def grant(login: str, body: JsonBody) -> Response:
        """The ApplicationImpersonation role over one mailbox."""
        _known(state, login)
        state.grant_impersonation(login, body["mailbox"])
        return Response(status_code=204)

    @app.post("/_fake/accounts/{login}/password", status_code=204)
    async def set_password(login: str, body: JsonBody) -> Response:
        _known(state, login)
        state.set_password(login, body["password"])
        return Response(status_code=204)

    @app.post("/_fake/raw-items")
    async def put_raw(body: JsonBody) -> dict[str, str]:
        """An item stored as given, unchecked: ``{"folder_id", "xml"}`` with a CalendarItem
        fragment (``t:`` prefix), or ``{"folder_id", "item": {"Subject": ...}}``."""
        with state.locked():
            folder = state.folders.get(body["folder_id"])
            if folder is None:
                raise HTTPException(404, "no such folder")
            elem = _raw(body)
            props = {key_of_element(e): e for e in elem}
            item = state.new_item(folder, local(elem.tag), props)
            return {"id": item.id, "changekey": item.changekey}

    @app.post("/_fake/mailboxes/{email}/fail-next", status_code=204)
    async def fail_next(email: str, body: JsonBody) -> Response:
        """The next ``count`` requests acting on the mailbox fail with ErrorServerBusy."""
        with state.locked():
            throttle = Throttle(int(body.get("count", 1)), int(body.get("back_off_ms", 1000)))
            state.throttles[email.lower()] = throttle
        return Response(status_code=204)

    @app.get("/_fake/subscriptions")
    async def subscriptions() -> list[dict[str, Any]]:
        """Every push subscription made, ended ones too (``alive`` false, ``ended`` why)."""
        with state.locked():
            return [_subscription(s) for s in state.events.subscriptions.values()]

    @app.post("/_fake/subscriptions/ping")
    async def ping() -> dict[str, int]:
        """Every live push subscription is sent a notification now (a StatusEvent when
        nothing is pending) instead of after StatusFrequency minutes."""
        return {"pinged": notifier.ping()}

    add_observation_routes(app, state)


def _known(state: ExchangeState, login: str) -> None:
    if login.lower() not in state.accounts:
        raise HTTPException(404, "no such account")


def _subscription(subscription: PushSubscription) -> dict[str, Any]:
    folder_ids = subscription.folder_ids
    return {
        "id": subscription.id,
        "mailbox": subscription.mailbox,
        "folder_ids": None if folder_ids is None else sorted(folder_ids),
        "event_types": sorted(subscription.event_types),
        "url": subscription.url,
        "status_frequency": subscription.status_frequency,
        "alive": subscription.alive,
        "ended": subscription.ended,
    }


def _raw(body: dict[str, Any]) -> Element:
    if "xml" in body:
        try:
            return from_fragment(str(body["xml"]))
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
    elem = t("CalendarItem")
    elem.extend(t(str(name), str(value)) for name, value in dict(body["item"]).items())
    return elem
