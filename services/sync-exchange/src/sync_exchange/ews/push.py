"""EWS push notifications ("Push notifications in EWS"): one push subscription per chosen
calendar folder, through the shared push channels (``sync_runtime.push``).

Exchange calls the address it was given with a ``SendNotification`` SOAP request, so our channel
id and its token ride in that address's query. A push subscription has no expiry: it lives while
Exchange reaches us and we answer OK, and ends when we answer Unsubscribe (there is no operation
to end one). So a channel is replaced daily like the others, and the webhook answers
Unsubscribe for a channel it no longer keeps. Exchange also pings every ``STATUS_MINUTES`` with a
status event (nothing changed), which keeps an idle subscription's health known to Exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from exchangelib.errors import EWSError
from exchangelib.folders import Calendar
from exchangelib.properties import StatusEvent
from exchangelib.services import SendNotification

from sync_exchange.ews.session import Mailbox
from sync_runtime.push import Delivery, Notification

EVENTS = ["CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent"]
STATUS_MINUTES = 30
LIFETIME = timedelta(days=1)


class EwsPush:
    def __init__(self, mailbox: Mailbox, folder_of: Callable[[str], Calendar]) -> None:
        self.mailbox, self._folder_of = mailbox, folder_of

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        callback = f"{address}{'&' if '?' in address else '?'}"
        callback += urlencode({"channel": channel_id, "token": token})
        folder = self._folder_of(calendar_id)

        def subscribe() -> str:
            subscription_id, _ = folder.subscribe_to_push(
                callback_url=callback, event_types=EVENTS, status_frequency=STATUS_MINUTES
            )
            return str(subscription_id)

        return await self.mailbox.run(subscribe), datetime.now(UTC) + LIFETIME

    async def stop(self, channel_id: str, resource_id: str) -> None:
        """Nothing to call: the webhook answers Unsubscribe once the channel is forgotten."""


def read_ews_notification(
    headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> Delivery | None:
    """A ``SendNotification`` request: the channel from our address's query; a notification
    holding only status events is a ping (nothing changed)."""
    channel_id, token = query.get("channel"), query.get("token")
    if not channel_id or not token:
        return None
    try:
        notifications = list(SendNotification(protocol=None).parse(body))
    except (EWSError, ValueError, TypeError, AttributeError):
        return None
    if not notifications or any(isinstance(n, Exception) for n in notifications):
        return None
    ping = all(isinstance(e, StatusEvent) for n in notifications for e in n.events or [])
    return Delivery([Notification(channel_id, token, initial=ping)], reply=_reply)


def _reply(live: bool) -> tuple[bytes, bytes]:
    """``SendNotificationResult``: OK for a channel we keep, else Unsubscribe."""
    service = SendNotification(protocol=None)
    payload = service.ok_payload() if live else service.unsubscribe_payload()
    return bytes(payload), b"text/xml; charset=utf-8"
