"""Push notifications as pure functions (no I/O): the ``SendNotification`` request Exchange POSTs
to a push subscription's URL, and the client's ``SendNotificationResult`` read back
([MS-OXWSPSNTIF] "SendNotification operation", "Notification", "SubscriptionStatus").

    <m:SendNotification>
      <m:ResponseMessages>
        <m:SendNotificationResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Notification>
            <t:SubscriptionId/> <t:PreviousWatermark/> <t:MoreEvents/>
            <t:CreatedEvent> <t:Watermark/> <t:TimeStamp/> <t:ItemId/> <t:ParentFolderId/>
            ...  (or one <t:StatusEvent><t:Watermark/></t:StatusEvent> when nothing happened)

A moved item's event also carries OldItemId and OldParentFolderId, in the schema's order
(BaseObjectChangedEventType, MovedCopiedEventType).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from calsync_localinfra.ews.events import MailboxEvent, Outgoing, Ref
from calsync_localinfra.ews.soap import (
    SERVER_VERSION,
    Element,
    m,
    response_message,
    t,
    tag,
    text_of,
)

SOAP_ACTION = '"http://schemas.microsoft.com/exchange/services/2006/messages/SendNotification"'
STATUSES = {"OK", "Unsubscribe"}


def notification_request(outgoing: Outgoing) -> bytes:
    """The SOAP request carrying one notification."""
    notification = m("Notification")
    notification.append(t("SubscriptionId", outgoing.subscription_id))
    notification.append(t("PreviousWatermark", outgoing.previous_watermark))
    notification.append(t("MoreEvents", "true" if outgoing.more else "false"))
    notification.extend(_event(event, watermark) for event, watermark in outgoing.events)
    if not outgoing.events:
        status = t("StatusEvent")
        status.append(t("Watermark", outgoing.status_watermark))
        notification.append(status)
    operation = m("SendNotification")
    messages = ET.SubElement(operation, tag("m", "ResponseMessages"))
    messages.append(response_message("SendNotification", children=[notification]))
    root = Element(tag("s", "Envelope"))
    header = ET.SubElement(root, tag("s", "Header"))
    ET.SubElement(header, tag("t", "RequestServerVersion"), Version=SERVER_VERSION["Version"])
    ET.SubElement(root, tag("s", "Body")).append(operation)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _event(event: MailboxEvent, watermark: str) -> Element:
    elem = t(event.kind)
    elem.append(t("Watermark", watermark))
    elem.append(t("TimeStamp", event.timestamp))
    elem.append(_ref("ItemId", event.item))
    elem.append(_ref("ParentFolderId", event.parent))
    if event.moved_from is not None:
        elem.append(_ref("OldItemId", event.moved_from[0]))
        elem.append(_ref("OldParentFolderId", event.moved_from[1]))
    return elem


def _ref(name: str, ref: Ref) -> Element:
    return t(name, Id=ref.id, ChangeKey=ref.changekey)


def subscription_status(body: bytes) -> str | None:
    """``OK`` or ``Unsubscribe`` from a ``SendNotificationResult`` envelope; None for anything
    else (not XML, a SOAP Fault, another value), which counts as no answer."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (expat refuses entity bombs; see soap)
    except ET.ParseError:
        return None
    result = root.find(f"{tag('s', 'Body')}/{tag('m', 'SendNotificationResult')}")
    if root.tag != tag("s", "Envelope") or result is None:
        return None
    status = (text_of(result, "m", "SubscriptionStatus") or "").strip()
    return status if status in STATUSES else None
