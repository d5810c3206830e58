"""CreateItem, UpdateItem and DeleteItem on calendar items ("CreateItem operation (calendar
item)", "UpdateItem operation", "DeleteItem operation"), and the mails a meeting would send.

Conflicts follow [MS-OXWSCORE] 3.1.4.9.4.1 (ConflictResolutionType): with a stale ChangeKey,
NeverOverwrite fails with ErrorIrresolvableConflict whatever changed since; AutoResolve fails
only when a property being set was itself changed since the client's ChangeKey (otherwise it
merges); AlwaysOverwrite writes. No ChangeKey at all means no conflict check.
"""

from __future__ import annotations

import copy

from calsync_localinfra.ews.item_read_ops import item_ids
from calsync_localinfra.ews.item_values import (
    READ_ONLY,
    attendees,
    normalised,
    props_of,
    refresh_meeting_flags,
    server_props,
    subject,
    value_is_true,
)
from calsync_localinfra.ews.properties import key_of_element, path_key
from calsync_localinfra.ews.soap import Element, EwsError, child, local, m, malformed, t
from calsync_localinfra.ews.soap import response_message as message
from calsync_localinfra.ews.store import Item
from calsync_localinfra.ews.views import Call, item_id_only, resolve_folder

INVITING = {"SendOnlyToAll", "SendToAllAndSaveCopy"}
INVITING_CHANGED = {"SendOnlyToChanged", "SendToChangedAndSaveCopy"}
CONFLICT_MODES = {"NeverOverwrite", "AutoResolve", "AlwaysOverwrite"}
DELETE_TYPES = {"HardDelete", "SoftDelete", "MoveToDeletedItems"}


def _choice(op: Element, name: str, allowed: set[str]) -> str:
    value = op.get(name)
    if value not in allowed:
        raise malformed(f"{name} must be one of {sorted(allowed)} for calendar items")
    return value


def create_item(call: Call, op: Element) -> list[Element]:
    invitations = _choice(op, "SendMeetingInvitations", {"SendToNone"} | INVITING)
    saved = child(op, "m", "SavedItemFolderId")
    items = child(op, "m", "Items")
    if items is None or not len(items):
        raise malformed("CreateItem needs Items")
    messages = []
    for elem in items:
        if local(elem.tag) != "CalendarItem":
            raise malformed(f"{local(elem.tag)}: this stand-in stores calendar items only")
        try:
            folder = resolve_folder(call, saved[0]) if saved is not None and len(saved) else None
            folder = folder or call.state.distinguished(call.mailbox, "calendar")
        except EwsError as error:
            messages.append(message("CreateItem", error, [m("Items")]))
            continue
        props = props_of(elem)
        props |= server_props(call.mailbox, props)
        invited = invitations in INVITING and bool(attendees(props))
        refresh_meeting_flags(props, invited)
        item = call.state.new_item(folder, "CalendarItem", props)
        if invited:
            _mail(call, item, attendees(props), "invitation")
        answer = m("Items")
        answer.append(item_id_only(item))
        messages.append(message("CreateItem", children=[answer]))
    return messages


def update_item(call: Call, op: Element) -> list[Element]:
    mode = _choice(op, "ConflictResolution", CONFLICT_MODES)
    sending = op.get("SendMeetingInvitationsOrCancellations") or ""
    if sending not in {"SendToNone"} | INVITING | INVITING_CHANGED:
        raise malformed("SendMeetingInvitationsOrCancellations is required for calendar items")
    changes = child(op, "m", "ItemChanges")
    if changes is None or not len(changes):
        raise malformed("UpdateItem needs ItemChanges")
    messages = []
    for change in changes:
        try:
            item = _update_one(call, change, mode, sending)
        except EwsError as error:
            messages.append(message("UpdateItem", error, [m("Items")]))
            continue
        answer, conflicts = m("Items"), m("ConflictResults")
        answer.append(item_id_only(item))
        conflicts.append(t("Count", "0"))
        messages.append(message("UpdateItem", children=[answer, conflicts]))
    return messages


def _update_one(call: Call, change: Element, mode: str, sending: str) -> Item:
    item_id, updates = child(change, "t", "ItemId"), child(change, "t", "Updates")
    if item_id is None or updates is None:
        raise malformed("an ItemChange needs ItemId and Updates")
    item = call.state.item(call.mailbox, item_id.get("Id") or "")
    props = {k: copy.deepcopy(v) for k, v in item.props.items()}
    changed = [_apply(props, update) for update in updates]
    _check_conflict(item, item_id.get("ChangeKey"), mode, changed)
    before = attendees(item.props)
    refresh_meeting_flags(props, sending != "SendToNone" and bool(attendees(props)))
    item.props = props
    call.state.touch(item, changed)
    _mail_update(call, item, before, sending)
    return item


def _apply(props: dict[str, Element], update: Element) -> str:
    """One SetItemField / AppendToItemField / DeleteItemField; answers the property's key."""
    kind, key = local(update.tag), path_key(update[0])
    if key in READ_ONLY:
        raise EwsError("ErrorInvalidPropertySet", f"{key} is read-only and cannot be set.")
    if kind == "DeleteItemField":
        if key in {"Start", "End"}:
            raise EwsError("ErrorInvalidPropertyDelete", f"{key} cannot be deleted.")
        props.pop(key, None)
        return key
    if len(update) != 2 or len(update[1]) != 1:
        raise EwsError("ErrorIncorrectUpdatePropertyCount", "An update must set one property.")
    value = normalised(update[1][0])
    if key_of_element(value) != key:
        raise malformed(f"the value of {key} is a {local(value.tag)}")
    if kind == "SetItemField":
        props[key] = value
    elif kind == "AppendToItemField" and key == "Body" and key in props:
        props[key].text = (props[key].text or "") + (value.text or "")
    else:
        raise EwsError("ErrorInvalidPropertyAppend", f"{key} cannot be appended to.")
    return key


def _check_conflict(item: Item, changekey: str | None, mode: str, changed: list[str]) -> None:
    if not changekey or changekey == item.changekey or mode == "AlwaysOverwrite":
        return
    seen = item.versions_by_changekey.get(changekey)
    if seen is None:
        raise EwsError("ErrorInvalidChangeKey", "The change key is invalid.")
    if mode == "AutoResolve" and all(item.prop_versions.get(k, 0) <= seen for k in changed):
        return
    raise EwsError(
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in "
        "the request does not match the current change key for the item.",
    )


def delete_item(call: Call, op: Element) -> list[Element]:
    delete_type = _choice(op, "DeleteType", DELETE_TYPES)
    cancelling = _choice(op, "SendMeetingCancellations", {"SendToNone"} | INVITING)
    messages = []
    for item_id in item_ids(op):
        try:
            item = call.state.item(call.mailbox, item_id)
        except EwsError as error:
            messages.append(message("DeleteItem", error))
            continue
        if cancelling != "SendToNone" and value_is_true(item.props.get("IsOrganizer")):
            _mail(call, item, attendees(item.props), "cancellation")
        if delete_type == "MoveToDeletedItems":
            call.state.move_item(item, call.state.distinguished(call.mailbox, "deleteditems"))
        else:
            call.state.remove_item(item)
        messages.append(message("DeleteItem"))
    return messages


def _mail_update(call: Call, item: Item, before: list[str], sending: str) -> None:
    """Attendees taken off get a cancellation; the others an update (all of them, or with
    SendOnlyToChanged only those added)."""
    if sending == "SendToNone":
        return
    now = attendees(item.props)
    _mail(call, item, [a for a in before if a not in now], "cancellation")
    kept = now if sending in INVITING else [a for a in now if a not in before]
    _mail(call, item, kept, "update" if sending in INVITING else "invitation")


def _mail(call: Call, item: Item, recipients: list[str], kind: str) -> None:
    for address in recipients:
        call.state.mailed.append(
            {"from": item.mailbox, "to": address, "subject": subject(item.props), "kind": kind}
        )
