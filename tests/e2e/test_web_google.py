"""An administrator connects a colleague's Google calendar from the page: "Sign in with Google
and subscribe" goes to Google's consent page (the stand-in's, in Chromium), comes back, the
calendars are chosen; then a meeting made in Google appears on the page (Google's push
notification starts the pass), and a meeting made in the CRM appears in Google. All services
run; only Google is a stand-in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from calsync_localinfra.google import LocalGoogle
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service

from .support import eventually
from .web_support import new_colleague, reload, shot

pytestmark = pytest.mark.e2e


def google_of(stack: Any, tmp_path: Path) -> LocalGoogle:
    """The stack's Google stand-in, driven through its backdoor (not started again)."""
    port = httpx.URL(stack.state["google"]["url"]).port
    return LocalGoogle(tmp_path, port=port)


async def test_connecting_a_google_calendar_from_the_page(
    stack: Any, signed_in: tuple[Page, httpx.AsyncClient], tmp_path: Path
) -> None:
    page, api = signed_in
    google = google_of(stack, tmp_path)
    email = f"gia-{uuid.uuid4().hex[:6]}@gmail.test"
    await asyncio.to_thread(google.add_account, email)
    team = await asyncio.to_thread(google.add_calendar, email, "Team")
    gia, _ = await new_colleague(stack, api, "Gia Google")
    await reload(page)

    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("For the user").select_option(label="Gia Google")
    await dialog.get_by_label("Google Calendar").check()
    await expect(dialog.get_by_label("Server address")).to_be_hidden()
    await dialog.get_by_role("button", name="Sign in with Google and subscribe").click()

    # Google's consent page: the account, then Allow.
    await expect(page).to_have_title("Sign in - Google Accounts (stand-in)")
    await page.get_by_label("Account").select_option(email)
    await page.get_by_role("button", name="Allow").click()

    # Back on the page: the dialog for Gia, her account's calendars to choose from.
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("#connection-current")).to_contain_text(email)
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    await expect(dialog.get_by_label(email)).to_be_checked()
    await dialog.get_by_label("Team").check()
    await shot(page, "google-connected")
    await dialog.get_by_role("button", name="Save and subscribe").click()
    await expect(dialog).to_be_hidden()
    assert "connected" not in page.url  # the outcome is not left in the address
    saved = (await api.get(f"/users/{gia}/calendar-connection")).json()
    assert saved["provider"] == "google"
    assert {c["id"] for c in saved["calendars"]} == {email, team}

    # A meeting Gia makes in Google appears on the page.
    service = await asyncio.to_thread(_calendar_client, google, email)
    try:
        await _made_in_google_shows_and_the_crm_reaches_google(
            page, api, service.events(), email, gia
        )
    finally:
        service.close()
    await shot(page, "google-week")

    # Gia removes the CRM's access in her Google account: the indicator says so, and signing
    # in again mends it, keeping her choice of calendars.
    await asyncio.to_thread(google.revoke_account, email)
    await page.get_by_role("button", name="Refresh").click()
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "needs_reauth", timeout=60_000
    )
    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("For the user").select_option(label="Gia Google")
    await expect(dialog.locator("#verdict")).to_have_text(
        "Google no longer accepts the saved sign-in: sign in with Google again."
    )
    await dialog.get_by_role("button", name="Sign in with Google and subscribe").click()
    await page.get_by_label("Account").select_option(email)
    await page.get_by_role("button", name="Allow").click()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    await expect(dialog.get_by_label("Team")).to_be_checked()
    await dialog.get_by_role("button", name="Back to calendar").click()
    await page.locator("#people").get_by_role("checkbox", name="Gia Google").check()
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "in_sync", timeout=60_000
    )

    # Disconnected, Gia is no longer offered and her meetings leave the view (no reload).
    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("For the user").select_option(label="Gia Google")
    page.once("dialog", lambda question: asyncio.ensure_future(question.accept()))
    await dialog.get_by_role("button", name="Disconnect").click()
    await expect(dialog).to_be_hidden()
    people = page.locator("#people")
    await expect(people.get_by_role("checkbox", name="Gia Google")).to_have_count(0)
    await expect(page.locator("#ec .ec-event", has_text="Made in Google")).to_have_count(0)
    assert (await api.get(f"/users/{gia}/calendar-connection")).status_code == 404


async def _made_in_google_shows_and_the_crm_reaches_google(
    page: Page, api: httpx.AsyncClient, theirs: Any, email: str, gia: str
) -> None:
    start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    body = {
        "summary": "Made in Google",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }
    # The first pass is done (and has opened the push channels) before Google changes.
    await page.locator("#people").get_by_role("checkbox", name="Gia Google").check()
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "in_sync", timeout=60_000
    )
    await asyncio.to_thread(theirs.insert(calendarId=email, body=body).execute)
    # No Refresh: Google's push notification starts a pass (the next poll is a minute away).
    await expect(page.locator("#ec .ec-event", has_text="Made in Google").first).to_be_visible(
        timeout=20_000
    )

    # A meeting booked in the CRM for Gia appears in her Google calendar.
    booked = await api.post(
        "/meetings",
        json={
            "subject": "Booked in the CRM",
            "owner_user_id": gia,
            "start": (start + timedelta(hours=3)).isoformat(),
            "end": (start + timedelta(hours=4)).isoformat(),
            "timezone": "UTC",
        },
    )
    assert booked.status_code == 201, booked.text

    async def in_google() -> list[dict[str, Any]]:
        listed = await asyncio.to_thread(theirs.list(calendarId=email).execute)
        return [e for e in listed["items"] if e.get("summary") == "Booked in the CRM"]

    [event] = await eventually(in_google, what="the CRM's meeting in Google", timeout_s=60)
    assert event["start"]["dateTime"].startswith(
        (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H")
    )
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "in_sync", timeout=60_000
    )


def _calendar_client(google: LocalGoogle, email: str) -> Any:
    """Another program of Gia's (its own grant), through Google's client library."""
    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)
    return calendar_service(google.grant(email), client, endpoints)


async def test_cancelling_at_google_says_so_and_connects_nothing(
    stack: Any, signed_in: tuple[Page, httpx.AsyncClient], tmp_path: Path
) -> None:
    page, api = signed_in
    google = google_of(stack, tmp_path)
    email = f"gus-{uuid.uuid4().hex[:6]}@gmail.test"
    await asyncio.to_thread(google.add_account, email)
    gus, _ = await new_colleague(stack, api, "Gus Google")
    await reload(page)
    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("For the user").select_option(label="Gus Google")
    await dialog.get_by_label("Google Calendar").check()
    await dialog.get_by_role("button", name="Sign in with Google and subscribe").click()
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    await expect(page.get_by_role("dialog").locator("#ce-form")).to_have_text(
        "Access was not given, so nothing was connected."
    )
    assert (await api.get(f"/users/{gus}/calendar-connection")).status_code == 404
