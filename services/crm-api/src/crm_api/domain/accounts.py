"""Rules for the account a connection signs in with, checked before a sync service is asked.

Exchange Server on premises (provider ``exchange``, ``auth_kind`` basic: EWS with a login and
a password, ADR 13) needs what an Exchange Online sign-in brings by itself:

- the mailbox whose calendar is synced: ``mailbox``, else the username when that is an address
  (a user signing in to their own mailbox by its address);
- with impersonation, the service account's login (``username``): without it Exchange would
  only answer "wrong username or password", at no field;
- an https EWS address: the password travels in every request (Basic, or NTLM which a relay can
  replay). Plain http only for a host on the deployment's SSRF allow-list (``SSRF_ALLOW``, the
  list the sync services take for loopback and private addresses: only a development stack's
  stand-ins are on it). The sync service still guards the address it connects to;
- impersonation (a service account with Exchange's ApplicationImpersonation role acting for
  the mailbox) exists in EWS only.

Errors are ``Invalid`` at the field, with a code the page words (``missing``,
``https_required``, ``exchange_server_only``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from calsync_contracts.internal import AuthKind
from calsync_platform.allow_list import allow_listed
from crm_api.errors import Invalid

MAILBOX_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""An SMTP address, loosely: on-premises Exchange organisations often use internal domains
(``corp.local``) that stricter e-mail validators refuse as special-use names (RFC 6761)."""


def is_exchange_server(provider: str, auth_kind: AuthKind | str) -> bool:
    return provider == "exchange" and AuthKind(auth_kind) is AuthKind.BASIC


def mailbox_for(
    provider: str,
    auth_kind: AuthKind,
    username: str,
    mailbox: str,
    impersonate: bool,
) -> str:
    """The mailbox to store ('' outside Exchange Server), once the account names its login."""
    if not is_exchange_server(provider, auth_kind):
        if impersonate:
            raise Invalid(
                ("body", "impersonate"),
                "impersonation is for Exchange Server (EWS) connections only",
                "exchange_server_only",
            )
        if mailbox:
            raise Invalid(
                ("body", "mailbox"),
                "a mailbox is for Exchange Server (EWS) connections only",
                "exchange_server_only",
            )
        return ""
    if not mailbox and (impersonate or not _looks_like_address(username)):
        raise Invalid(
            ("body", "mailbox"),
            "the address of the mailbox whose calendar is synchronised is required",
            "missing",
        )
    if impersonate and not username.strip():
        raise Invalid(("body", "username"), "the service account's username is required", "missing")
    return mailbox or username


def check_ews_url(server_url: str, plain_http_hosts: Sequence[str]) -> None:
    parts = urlsplit(server_url)
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        host = None
    if host and parts.scheme == "https":
        return
    if host and parts.scheme == "http" and allow_listed(host, port or 80, plain_http_hosts):
        return
    raise Invalid(
        ("body", "server_url"),
        "the EWS address must be an https:// address "
        "(such as https://mail.example.com/EWS/Exchange.asmx)",
        "https_required",
    )


def _looks_like_address(username: str) -> bool:
    return re.fullmatch(MAILBOX_PATTERN, username) is not None
