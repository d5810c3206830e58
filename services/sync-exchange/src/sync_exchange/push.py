"""sync-exchange's webhook, as the shared webhook reads it: Exchange Server's SOAP
``SendNotification`` requests (``ews.push``), and Graph's change notifications ("Receive change
notifications"): the address check (``?validationToken=…``, echoed as plain text), and
notifications in a JSON body, each with the ``clientState`` we gave the subscription
(``<channel id>.<token>``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sync_exchange.ews.push import read_ews_notification
from sync_runtime.push import Delivery, Handshake, Notification

WEBHOOK_PATH = "/webhooks/microsoft"


def read_notification(
    headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> Delivery | None:
    if "xml" in headers.get("content-type", ""):
        return read_ews_notification(headers, query, body)
    if "validationToken" in query:
        return Delivery([], Handshake(query["validationToken"]))
    try:
        values = json.loads(body)["value"]
        states = [str(v["clientState"]) for v in values]
    except (ValueError, KeyError, TypeError):
        return None
    notes = []
    for state in states:
        channel_id, _, token = state.partition(".")
        notes.append(Notification(channel_id, token, initial=False))
    return Delivery(notes) if notes else None
