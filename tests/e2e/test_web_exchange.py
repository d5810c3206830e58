"""An administrator connects a colleague's Exchange Online calendar from the page: "Sign in with
Microsoft and subscribe" goes to Microsoft's sign-in page (the stand-in's, over HTTPS), comes
back, the calendars are chosen; then a meeting made in Outlook appears on the page (by Graph's
change notification), and a
meeting booked in the CRM appears in Exchange. Exchange mails the invitations (never both)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from calsync_localinfra.microsoft import LocalMicrosoft
from sync_exchange.graph.client import AppRegistration, MicrosoftEndpoints, access_token, graph_http

from .support import eventually
from .web_support import new_colleague, page_of, reload, shot

pytestmark = pytest.mark.e2e


def microsoft_of(stack: Any) -> LocalMicrosoft:
    """The stack's Microsoft stand-in, driven through its backdoor (not started again)."""
    known = stack.state["microsoft"]
    return LocalMicrosoft(Path(known["ca_file"]).parent, port=httpx.URL(known["url"]).port)


async def test_connecting_an_exchange_online_calendar_from_the_page(
    stack: Any, browser: Browser
) -> None:
    microsoft = microsoft_of(stack)
    email = f"mia-{uuid.uuid4().hex[:6]}@contoso.test"
    await asyncio.to_thread(microsoft.add_account, email)
    team = await asyncio.to_thread(microsoft.add_calendar, email, "Team")
    async with page_of(stack, browser, accept_stand_in_certificate=True) as (page, api):
        mia, _ = await new_colleague(stack, api, "Mia Microsoft")
        await reload(page)
        await page.get_by_role("button", name="Calendar connection").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("For the user").select_option(label="Mia Microsoft")
        await dialog.get_by_label("Microsoft Exchange / Office 365").check()
        await expect(dialog.get_by_label("Exchange Online (Microsoft 365)")).to_be_checked()
        await dialog.get_by_role("button", name="Sign in with Microsoft and subscribe").click()

        await expect(page).to_have_title("Sign in to your account (Microsoft stand-in)")
        await page.get_by_label("Account").select_option(email)
        await page.get_by_role("button", name="Allow").click()

        await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
        dialog = page.get_by_role("dialog")
        await expect(dialog.locator("#connection-current")).to_contain_text(email)
        await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
        await expect(dialog.get_by_label("Calendar", exact=True)).to_be_checked()  # the default
        await dialog.get_by_label("Team").check()
        await shot(page, "exchange-connected")
        await dialog.get_by_role("button", name="Save and subscribe").click()
        await expect(dialog).to_be_hidden()
        saved = (await api.get(f"/users/{mia}/calendar-connection")).json()
        assert (saved["provider"], saved["invitation_sender"]) == ("exchange", "provider")
        assert team in {c["id"] for c in saved["calendars"]}
        default = next(c["id"] for c in saved["calendars"] if c["name"] == "Calendar")

        # A meeting Mia makes in Outlook appears on the page.
        app = AppRegistration(microsoft.client_id, microsoft.client_secret)
        endpoints = MicrosoftEndpoints(
            microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file
        )
        token = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
        start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
        # The first pass is done (and has subscribed to the calendars) before Outlook changes.
        await page.locator("#people").get_by_role("checkbox", name="Mia Microsoft").check()
        await expect(page.locator("#sync-state")).to_have_attribute(
            "data-state", "in_sync", timeout=60_000
        )
        async with graph_http(token, endpoints) as outlook:
            made = await outlook.post(
                f"me/calendars/{default}/events",
                json={
                    "subject": "Made in Outlook",
                    "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                    "end": {
                        "dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                        "timeZone": "UTC",
                    },
                },
            )
            assert made.status_code == 201, made.text
            # No Refresh: Graph's change notification starts a pass (the next poll is a minute
            # away).
            await expect(
                page.locator("#ec .ec-event", has_text="Made in Outlook").first
            ).to_be_visible(timeout=20_000)

            # A meeting booked in the CRM for Mia appears in her Exchange calendar.
            booked = await api.post(
                "/meetings",
                json={
                    "subject": "Booked in the CRM",
                    "owner_user_id": mia,
                    "start": (start + timedelta(hours=3)).isoformat(),
                    "end": (start + timedelta(hours=4)).isoformat(),
                    "timezone": "Europe/Copenhagen",
                },
            )
            assert booked.status_code == 201, booked.text
            window = {
                "startDateTime": (start - timedelta(days=1)).isoformat(),
                "endDateTime": (start + timedelta(days=2)).isoformat(),
            }

            async def in_exchange() -> list[dict[str, Any]]:
                listed = await outlook.get(
                    f"me/calendars/{default}/calendarView/delta", params=window
                )
                return [
                    e for e in listed.json()["value"] if e.get("subject") == "Booked in the CRM"
                ]

            [event] = await eventually(
                in_exchange, what="the CRM's meeting in Exchange", timeout_s=60
            )
        assert event["originalStartTimeZone"] == "Europe/Copenhagen"
        await expect(page.locator("#sync-state")).to_have_attribute(
            "data-state", "in_sync", timeout=60_000
        )
        await shot(page, "exchange-week")
