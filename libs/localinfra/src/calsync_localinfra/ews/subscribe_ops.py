"""Subscribe with a PushSubscriptionRequest ("Subscribe operation", "PushSubscriptionRequest",
[MS-OXWSNTIF] 3.1.4.3): FolderIds (or SubscribeToAllFolders), EventTypes, an optional
Watermark to start from, StatusFrequency (minutes, 1-1440, 30 when left out) and the client's
URL. Answers the SubscriptionId and the Watermark the subscription starts at; the notifier
(``notifier``) then delivers.

Pull and streaming subscriptions are not served here (ErrorInvalidSubscriptionRequest), nor
is Unsubscribe: a push subscription ends only by its client answering Unsubscribe.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from calsync_localinfra.ews.events import EVENT_TYPES
from calsync_localinfra.ews.soap import (
    Element,
    EwsError,
    child,
    local,
    m,
    malformed,
    response_message,
    text_of,
)
from calsync_localinfra.ews.views import Call, resolve_folder

DEFAULT_STATUS_FREQUENCY = 30


def subscribe(call: Call, op: Element) -> list[Element]:
    if len(op) != 1:
        raise malformed("Subscribe needs one subscription request")
    request = op[0]
    if local(request.tag) != "PushSubscriptionRequest":
        raise EwsError(
            "ErrorInvalidSubscriptionRequest",
            f"The EWS stand-in serves push subscriptions only, not {local(request.tag)}.",
        )
    event_types = _event_types(request)
    frequency = _status_frequency(text_of(request, "t", "StatusFrequency"))
    folder_ids = _folders(call, request)
    url = (text_of(request, "t", "URL") or "").strip()
    if not _valid_url(url):
        raise EwsError("ErrorInvalidPushSubscriptionUrl", "The push subscription URL is invalid.")
    # The schema puts Watermark in the types namespace; exchangelib sends it in messages'.
    watermark = text_of(request, "t", "Watermark") or text_of(request, "m", "Watermark")
    subscription, start = call.state.events.subscribe(
        call.mailbox, folder_ids, event_types, url, frequency, watermark or None
    )
    children = [m("SubscriptionId", subscription.id), m("Watermark", start)]
    return [response_message("Subscribe", children=children)]


def _folders(call: Call, request: Element) -> frozenset[str] | None:
    if request.get("SubscribeToAllFolders") in {"true", "1"}:
        return None
    ids = child(request, "t", "FolderIds")
    if ids is None or not len(ids):
        raise malformed("a PushSubscriptionRequest needs FolderIds or SubscribeToAllFolders")
    return frozenset(resolve_folder(call, elem).id for elem in ids)


def _event_types(request: Element) -> frozenset[str]:
    types = child(request, "t", "EventTypes")
    names = frozenset((e.text or "").strip() for e in (types if types is not None else []))
    if not names:
        raise malformed("a PushSubscriptionRequest needs EventTypes")
    unknown = names - EVENT_TYPES
    if unknown:
        raise malformed(f"unknown EventType {sorted(unknown)[0]!r}")
    return names


def _status_frequency(text: str | None) -> int:
    """SubscriptionStatusFrequencyType: an integer from 1 to 1440 ("StatusFrequency")."""
    if text is None:
        return DEFAULT_STATUS_FREQUENCY
    try:
        minutes = int(text)
    except ValueError:
        raise malformed("StatusFrequency must be an integer") from None
    if not 1 <= minutes <= 1440:
        raise malformed("StatusFrequency must be between 1 and 1440")
    return minutes


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)
