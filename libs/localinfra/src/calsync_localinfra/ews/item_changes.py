"""One UpdateItem change applied to an item's properties, the ChangeKey conflict check, and the
mails a meeting would send; shared by items, recurring masters and their occurrences.

Conflicts follow [MS-OXWSCORE] 3.1.4.9.4.1 (ConflictResolutionType): with a stale ChangeKey,
NeverOverwrite fails with ErrorIrresolvableConflict whatever changed since; AutoResolve fails
only when a property being set was itself changed since the client's ChangeKey (otherwise it
merges); AlwaysOverwrite writes. No ChangeKey at all means no conflict check.
"""

from __future__ import annotations

from calsync_localinfra.ews.item_values import READ_ONLY, attendees, normalised, subject
from calsync_localinfra.ews.properties import key_of_element, path_key
from calsync_localinfra.ews.soap import Element, EwsError, local, malformed
from calsync_localinfra.ews.store import ExchangeState, Item

INVITING = {"SendOnlyToAll", "SendToAllAndSaveCopy"}
INVITING_CHANGED = {"SendOnlyToChanged", "SendToChangedAndSaveCopy"}


def apply_update(props: dict[str, Element], update: Element) -> str:
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


def check_conflict(item: Item, changekey: str | None, mode: str, changed: list[str]) -> None:
    if not changekey or changekey == item.changekey or mode == "AlwaysOverwrite":
        return
    seen = item.versions_by_changekey.get(changekey)
    if seen is None:
        raise EwsError("ErrorInvalidChangeKey", "The change key is invalid.")
    if mode == "AutoResolve" and all(item.prop_versions.get(k, 0) <= seen for k in changed):
        return
    raise conflict()


def conflict() -> EwsError:
    return EwsError(
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in "
        "the request does not match the current change key for the item.",
    )


def mail_update(state: ExchangeState, item: Item, before: list[str], sending: str) -> None:
    """Attendees taken off get a cancellation; the others an update (all of them, or with
    SendOnlyToChanged only those added)."""
    if sending == "SendToNone":
        return
    now = attendees(item.props)
    mail(state, item, [a for a in before if a not in now], "cancellation")
    kept = now if sending in INVITING else [a for a in now if a not in before]
    mail(state, item, kept, "update" if sending in INVITING else "invitation")


def mail(state: ExchangeState, item: Item, recipients: list[str], kind: str) -> None:
    for address in recipients:
        state.mailed.append(
            {"from": item.mailbox, "to": address, "subject": subject(item.props), "kind": kind}
        )
