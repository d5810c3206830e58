"""An administrator connects a colleague's Exchange Server calendar from the page, with the
company's service account acting for the colleague's mailbox (EWS impersonation): the form
tests the connection, the calendars are chosen, then a meeting made in Outlook appears on the
page and a meeting booked in the CRM appears in Exchange, whose invitation Exchange mails (the
default for Exchange connections; our notifier then sends none: never both)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import exchangelib
import httpx
import pytest
from exchangelib.folders import Calendar as CalendarFolder
from exchangelib.recurrence import Recurrence, WeeklyPattern
from playwright.async_api import Browser, expect

from calsync_localinfra.ews import LocalExchangeServer

from .support import eventually
from .web_support import new_colleague, page_of, reload, shot

pytestmark = pytest.mark.e2e


def exchange_of(stack: Any, base_dir: Any) -> LocalExchangeServer:
    """The stack's Exchange Server stand-in, driven through its backdoor (not started again)."""
    known = stack.state["exchange_server"]
    return LocalExchangeServer(base_dir, port=httpx.URL(known["ews_url"]).port)


@contextmanager
def outlook(ews_url: str, email: str, password: str) -> Iterator[exchangelib.Account]:
    """The colleague's own Outlook: exchangelib with their login, our code not involved."""
    config = exchangelib.Configuration(
        service_endpoint=ews_url, credentials=exchangelib.Credentials(email, password)
    )
    account = exchangelib.Account(
        email, config=config, autodiscover=False, access_type=exchangelib.DELEGATE
    )
    try:
        yield account
    finally:
        account.protocol.close()


def make_in_outlook(account: exchangelib.Account, folder_id: str, subject: str, start: Any) -> None:
    folder = CalendarFolder(root=account.root, id=folder_id)
    exchangelib.CalendarItem(
        account=account,
        folder=folder,
        subject=subject,
        start=exchangelib.EWSDateTime.from_datetime(start),
        end=exchangelib.EWSDateTime.from_datetime(start + timedelta(hours=1)),
    ).save()


def make_series_in_outlook(
    account: exchangelib.Account, folder_id: str, subject: str, start: datetime
) -> None:
    """Three weeks of a weekly meeting, as Outlook makes a series."""
    folder = CalendarFolder(root=account.root, id=folder_id)
    exchangelib.CalendarItem(
        account=account,
        folder=folder,
        subject=subject,
        start=exchangelib.EWSDateTime.from_datetime(start),
        end=exchangelib.EWSDateTime.from_datetime(start + timedelta(hours=1)),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[start.isoweekday()]),
            start=start.date(),
            number=3,
        ),
    ).save()


def subjects_in(account: exchangelib.Account, folder_id: str) -> dict[str, Any]:
    folder = CalendarFolder(root=account.root, id=folder_id)
    return {item.subject: item for item in folder.all()}


async def test_connecting_an_exchange_server_calendar_with_a_service_account(
    stack: Any, browser: Browser, tmp_path: Any
) -> None:
    exchange = exchange_of(stack, tmp_path)
    suffix = uuid.uuid4().hex[:6]
    email, service = f"eve-{suffix}@corp.test", f"svc-{suffix}@corp.test"
    await asyncio.to_thread(exchange.add_account, email, "eve-password")
    team = await asyncio.to_thread(exchange.add_calendar, email, "Team")
    await asyncio.to_thread(exchange.add_service_account, service, "service-password")
    await asyncio.to_thread(exchange.grant_impersonation, service, email)
    ews_url = stack.state["exchange_server"]["ews_url"]

    async with page_of(stack, browser) as (page, api):
        eve, _ = await new_colleague(stack, api, "Eve Exchange")
        await reload(page)
        await page.get_by_role("button", name="Calendar connection").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("For the user").select_option(label="Eve Exchange")
        await dialog.get_by_label("Microsoft Exchange / Office 365").check()
        await dialog.get_by_label("Exchange Server (on-premises, EWS)").check()
        await dialog.get_by_label("EWS address").fill(ews_url)
        await dialog.get_by_label("Email address").fill(email)
        await dialog.get_by_label("Sign in with a service account (impersonation)").check()
        await dialog.get_by_label("Service account username").fill(service)
        await dialog.get_by_label("Service account password").fill("wrong")
        await dialog.get_by_role("button", name="Test the connection").click()
        await expect(dialog.locator("#verdict")).to_have_attribute(
            "data-verdict", "wrong_credentials"
        )
        await dialog.get_by_label("Service account password").fill("service-password")
        await dialog.get_by_role("button", name="Test the connection").click()
        await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
        await expect(dialog.get_by_label("Calendar", exact=True)).to_be_checked()  # the default
        await dialog.get_by_label("Team").check()
        await shot(page, "exchange-server-connected")
        await dialog.get_by_role("button", name="Save and subscribe").click()
        await expect(dialog).to_be_hidden()

        saved = (await api.get(f"/users/{eve}/calendar-connection")).json()
        assert (saved["provider"], saved["mailbox"], saved["impersonate"]) == (
            "exchange",
            email,
            True,
        )
        assert saved["username"] == service
        assert "service-password" not in str(saved)
        assert team in {c["id"] for c in saved["calendars"]}
        default = next(c["id"] for c in saved["calendars"] if c["name"] == "Calendar")
        await page.locator("#people").get_by_role("checkbox", name="Eve Exchange").check()
        await expect(page.locator("#sync-state")).to_have_attribute(
            "data-state", "in_sync", timeout=60_000
        )

        # A meeting Eve makes in Outlook appears on the page by itself: Exchange's push
        # notification starts a pass (the next poll is a minute away).
        start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
        with outlook(ews_url, email, "eve-password") as eves_outlook:
            await asyncio.to_thread(
                make_in_outlook, eves_outlook, default, "Made in Outlook", start
            )
            series_start = start + timedelta(hours=5)
            await asyncio.to_thread(
                make_series_in_outlook, eves_outlook, default, "Weekly in Outlook", series_start
            )
            await expect(
                page.locator("#ec .ec-event", has_text="Made in Outlook").first
            ).to_be_visible(timeout=30_000)
            # The series shows as its occurrences: this week's and, a week on, the next.
            weekly = page.locator("#ec .ec-event", has_text="Weekly in Outlook")
            await expect(weekly).to_have_count(1)
            shown = await api.get(
                "/calendar",
                params={
                    "users": eve,
                    "start": start.isoformat(),
                    "end": (start + timedelta(weeks=4)).isoformat(),
                },
            )
            assert sorted(
                datetime.fromisoformat(e["start"])
                for e in shown.json()
                if e["meeting"]["subject"] == "Weekly in Outlook"
            ) == [series_start + timedelta(weeks=n) for n in range(3)]
            await page.get_by_role("button", name="Next week").click()
            await expect(weekly).to_have_count(1)
            await page.get_by_role("button", name="Today").click()

            # A meeting booked in the CRM for Eve, with a guest, appears in her Exchange
            # calendar in its time zone, and Exchange invites the guest.
            booked = await api.post(
                "/meetings",
                json={
                    "subject": "Booked in the CRM",
                    "owner_user_id": eve,
                    "start": (start + timedelta(hours=3)).isoformat(),
                    "end": (start + timedelta(hours=4)).isoformat(),
                    "timezone": "Europe/Copenhagen",
                    "participants": [{"kind": "external", "email": "guest@example.com"}],
                },
            )
            assert booked.status_code == 201, booked.text

            async def in_exchange() -> list[Any]:
                found = await asyncio.to_thread(subjects_in, eves_outlook, default)
                return [found["Booked in the CRM"]] if "Booked in the CRM" in found else []

            [item] = await eventually(
                in_exchange, what="the CRM's meeting in Exchange", timeout_s=60
            )
        assert item.start == start + timedelta(hours=3)
        assert item._start_timezone.ms_id == "Romance Standard Time"
        assert [a.mailbox.email_address for a in item.required_attendees] == ["guest@example.com"]
        assert saved["invitation_sender"] == "provider"
        invitations = [m for m in await asyncio.to_thread(exchange.mailed) if m["from"] == email]
        assert [(m["to"], m["subject"], m["kind"]) for m in invitations] == [
            ("guest@example.com", "Booked in the CRM", "invitation")
        ]
        await expect(page.locator("#sync-state")).to_have_attribute(
            "data-state", "in_sync", timeout=60_000
        )
        # The page follows the CRM's meetings by itself (no reload).
        await expect(
            page.locator("#ec .ec-event", has_text="Booked in the CRM").first
        ).to_be_visible(timeout=15_000)
        await shot(page, "exchange-server-week")
