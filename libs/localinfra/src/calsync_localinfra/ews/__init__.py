"""A stand-in for Exchange Server's EWS (SOAP over HTTP, HTTP Basic) as a local process:
Exchange cannot run here, so tests and ``make run`` talk to this with the real ``exchangelib``.

``LocalExchangeServer`` starts it on a free loopback port; ``ews_url`` is the service endpoint a
client is configured with. Mailboxes, service accounts with ApplicationImpersonation, calendars,
raw items and failures are made through its backdoor, which also shows the push subscriptions
and sends them a status ping on demand (Exchange would wait StatusFrequency minutes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calsync_localinfra.standin_process import LocalStandInProcess


class LocalExchangeServer(LocalStandInProcess):
    module = "calsync_localinfra.ews"
    name = "Exchange (EWS) stand-in"

    def __init__(
        self,
        base_dir: Path | str,
        *,
        accounts: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        """``accounts``: mailboxes made at start-up, address → password."""
        super().__init__(base_dir, port=port)
        self.accounts = dict(accounts or {})

    @property
    def ews_url(self) -> str:
        return self.url + "EWS/Exchange.asmx"

    def server_argv(self) -> list[str]:
        return [arg for e, p in self.accounts.items() for arg in ("--account", f"{e}:{p}")]

    # --- the backdoor ---------------------------------------------------------------------------

    def add_account(self, email: str, password: str) -> str:
        """A mailbox (its address is its login); returns its Calendar's FolderId."""
        return str(self._post("_fake/accounts", {"email": email, "password": password})["id"])

    def add_calendar(self, email: str, name: str, parent_id: str | None = None) -> str:
        """A calendar folder under the mailbox's Calendar (or ``parent_id``); its FolderId."""
        body = {"name": name, "parent_id": parent_id}
        return str(self._post(f"_fake/accounts/{email}/calendars", body)["id"])

    def add_service_account(self, login: str, password: str) -> None:
        """An account with no mailbox, for impersonation."""
        self._post("_fake/service-accounts", {"login": login, "password": password})

    def grant_impersonation(self, login: str, mailbox: str) -> None:
        """The ApplicationImpersonation role for ``login`` over ``mailbox``."""
        self._post(f"_fake/accounts/{login}/impersonate", {"mailbox": mailbox})

    def set_password(self, login: str, password: str) -> None:
        self._post(f"_fake/accounts/{login}/password", {"password": password})

    def put_raw(self, folder_id: str, item: dict[str, str] | str) -> dict[str, str]:
        """An item stored unchecked: ``{"Subject": "x", ...}`` (EWS element names) or a
        ``<t:CalendarItem>`` XML fragment. Answers ``{"id", "changekey"}``."""
        body: dict[str, Any] = {"folder_id": folder_id}
        body |= {"xml": item} if isinstance(item, str) else {"item": item}
        return dict(self._post("_fake/raw-items", body))

    def fail_next(self, mailbox: str, count: int = 1, back_off_ms: int = 1000) -> None:
        """The next ``count`` requests acting on ``mailbox`` answer ErrorServerBusy with
        BackOffMilliseconds, as EWS throttling does."""
        self._post(
            f"_fake/mailboxes/{mailbox}/fail-next", {"count": count, "back_off_ms": back_off_ms}
        )

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every push subscription made: ``id``, ``mailbox``, ``folder_ids`` (None for all
        folders), ``event_types``, ``url``, ``status_frequency``, ``alive`` and ``ended``
        (``Unsubscribe`` or ``unreachable`` once it ended)."""
        return list(self._get("_fake/subscriptions"))

    def ping_subscriptions(self) -> int:
        """Every live push subscription is sent its next notification now, a StatusEvent when
        nothing is pending, in the background; answers how many were pinged."""
        return int(self._post("_fake/subscriptions/ping", None)["pinged"])
