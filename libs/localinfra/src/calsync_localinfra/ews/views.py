"""Folders and items as EWS answers them, and folder ids resolved for the acting mailbox.

A folder's properties are computed (counts, parent); an item's are what was stored plus ItemId
and ParentFolderId. ItemId always carries the ChangeKey, whatever the shape ("ItemId").
"""

from __future__ import annotations

from dataclasses import dataclass

from calsync_localinfra.ews.properties import Shape, path_key, render_element, wanted_keys
from calsync_localinfra.ews.soap import Element, EwsError, local, malformed, t, tag, text_of
from calsync_localinfra.ews.store import Account, ExchangeState, Folder, Item

FOLDER_ORDER = [
    "FolderId",
    "ParentFolderId",
    "FolderClass",
    "DisplayName",
    "TotalCount",
    "ChildFolderCount",
    "EffectiveRights",
    "UnreadCount",
]
DEFAULT_FOLDER_SHAPE = {"FolderId", "DisplayName", "TotalCount", "ChildFolderCount", "UnreadCount"}
RIGHTS = "CreateAssociated CreateContents CreateHierarchy Delete Modify Read ViewPrivateItems"


@dataclass
class Call:
    """One request: the state, who signed in, and the mailbox it acts on."""

    state: ExchangeState
    caller: Account
    mailbox: str


def resolve_folder(call: Call, elem: Element) -> Folder:
    """A ``t:FolderId`` or ``t:DistinguishedFolderId`` (with or without ``t:Mailbox``)."""
    name = local(elem.tag)
    if name == "FolderId":
        return call.state.folder(call.mailbox, elem.get("Id") or "")
    if name != "DistinguishedFolderId":
        raise malformed(f"{name} is not a folder id")
    mailbox = elem.find(tag("t", "Mailbox"))
    owner = call.mailbox
    if mailbox is not None:
        owner = (text_of(mailbox, "t", "EmailAddress") or "").strip().lower()
        _check_mailbox(call, owner)
    found = call.state.find_distinguished(owner, elem.get("Id") or "")
    if found is None:
        raise EwsError(
            "ErrorFolderNotFound", "The specified folder could not be found in the store."
        )
    return found


def _check_mailbox(call: Call, owner: str) -> None:
    if owner == call.mailbox:
        return
    account = call.state.accounts.get(owner)
    if account is None or not account.has_mailbox:
        raise EwsError(
            "ErrorNonExistentMailbox",
            f"The SMTP address has no mailbox associated with it: {owner}",
        )
    raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def render_folder(call: Call, folder: Folder, shape: Shape) -> Element:
    values = _folder_values(call.state, folder)
    if shape.base == "AllProperties":
        keys = set(values)
    elif shape.base == "Default":
        keys = DEFAULT_FOLDER_SHAPE & set(values)
    else:
        keys = set()
    keys |= {path_key(p) for p in shape.additional}
    keys.add("FolderId")
    elem = t(folder.kind)
    elem.extend(values[k] for k in FOLDER_ORDER if k in keys and k in values)
    return elem


def _folder_values(state: ExchangeState, folder: Folder) -> dict[str, Element]:
    values = {
        "FolderId": t("FolderId", Id=folder.id, ChangeKey=folder.changekey),
        "DisplayName": t("DisplayName", folder.name),
        "TotalCount": t("TotalCount", str(len(state.items_in(folder)))),
        "ChildFolderCount": t("ChildFolderCount", str(len(state.children(folder, deep=False)))),
        "EffectiveRights": t("EffectiveRights"),
    }
    for right in RIGHTS.split():
        values["EffectiveRights"].append(t(right, "true"))
    if folder.parent_id:
        parent = state.folders[folder.parent_id]
        values["ParentFolderId"] = t("ParentFolderId", Id=parent.id, ChangeKey=parent.changekey)
    if folder.folder_class:
        values["FolderClass"] = t("FolderClass", folder.folder_class)
    if folder.kind == "Folder":
        values["UnreadCount"] = t("UnreadCount", "0")
    return values


def render_item(state: ExchangeState, item: Item, shape: Shape, find: bool = False) -> Element:
    folder = state.folders[item.folder_id]
    head = [
        t("ItemId", Id=item.id, ChangeKey=item.changekey),
        t("ParentFolderId", Id=folder.id, ChangeKey=folder.changekey),
    ]
    keys = wanted_keys(shape, list(item.props), find)
    asked = {path_key(p) for p in shape.additional}
    if shape.base == "IdOnly" and "ParentFolderId" not in asked:
        head = head[:1]
    return render_element(item.kind, head, [item.props[k] for k in keys])


def item_id_only(item: Item) -> Element:
    elem = t(item.kind)
    elem.append(t("ItemId", Id=item.id, ChangeKey=item.changekey))
    return elem
