"""CreateItem, UpdateItem and DeleteItem on calendar items ("CreateItem operation (calendar
item)", "UpdateItem operation", "DeleteItem operation"), and the mails a meeting would send.

An item id may name an occurrence of a recurring series (its ItemId or an OccurrenceItemId) or
a master (RecurringMasterItemId); ``series_write`` handles occurrences, ``item_changes`` holds
the update and conflict rules all of them share.
"""

from __future__ import annotations

import copy

from calsync_localinfra.ews.item_changes import (
    INVITING,
    INVITING_CHANGED,
    apply_update,
    check_conflict,
    mail,
    mail_update,
)
from calsync_localinfra.ews.item_read_ops import item_ids
from calsync_localinfra.ews.item_values import (
    attendees,
    props_of,
    refresh_meeting_flags,
    server_props,
    value_is_true,
)
from calsync_localinfra.ews.series import TIMING, resolve, series_of
from calsync_localinfra.ews.series_write import (
    anchor,
    delete_occurrence,
    settle_master,
    update_occurrence,
)
from calsync_localinfra.ews.soap import Element, EwsError, child, local, m, malformed, t
from calsync_localinfra.ews.soap import response_message as message
from calsync_localinfra.ews.store import Item
from calsync_localinfra.ews.views import Call, item_id_only, resolve_folder

ID_ELEMENTS = {"ItemId", "OccurrenceItemId", "RecurringMasterItemId"}
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
        try:
            anchor(props)
        except EwsError as error:
            messages.append(message("CreateItem", error, [m("Items")]))
            continue
        invited = invitations in INVITING and bool(attendees(props))
        refresh_meeting_flags(props, invited)
        item = call.state.new_item(folder, "CalendarItem", props)
        settle_master(item, None)
        if invited:
            mail(call.state, item, attendees(props), "invitation")
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
    ids = [c for c in change if local(c.tag) in ID_ELEMENTS]
    updates = child(change, "t", "Updates")
    if len(ids) != 1 or updates is None:
        raise malformed("an ItemChange needs one item id and Updates")
    target = resolve(call.state, call.mailbox, ids[0])
    if target.index is not None:
        change_args = (list(updates), ids[0].get("ChangeKey"), mode, sending)
        return update_occurrence(call.state, target.item, target.index, change_args)
    item = target.item
    props = {k: copy.deepcopy(v) for k, v in item.props.items()}
    changed = [apply_update(props, update) for update in updates]
    check_conflict(item, ids[0].get("ChangeKey"), mode, changed)
    if TIMING & set(changed):
        anchor(props)
    series, before = series_of(item), attendees(item.props)
    refresh_meeting_flags(props, sending != "SendToNone" and bool(attendees(props)))
    item.props = props
    call.state.touch(item, changed)
    settle_master(item, series)
    mail_update(call.state, item, before, sending)
    return item


def delete_item(call: Call, op: Element) -> list[Element]:
    delete_type = _choice(op, "DeleteType", DELETE_TYPES)
    cancelling = _choice(op, "SendMeetingCancellations", {"SendToNone"} | INVITING)
    messages = []
    for item_id in item_ids(op):
        try:
            target = resolve(call.state, call.mailbox, item_id)
        except EwsError as error:
            messages.append(message("DeleteItem", error))
            continue
        item = target.item
        if target.index is not None:
            item = delete_occurrence(call.state, item, target.index)
        elif delete_type == "MoveToDeletedItems":
            call.state.move_item(item, call.state.distinguished(call.mailbox, "deleteditems"))
        else:
            call.state.remove_item(item)
        if cancelling != "SendToNone" and value_is_true(item.props.get("IsOrganizer")):
            mail(call.state, item, attendees(item.props), "cancellation")
        messages.append(message("DeleteItem"))
    return messages
