"""The calendar page in a real browser (Debian's chromium driven by Playwright) against the
whole local stack: views, a meeting made by the form, a validation error at its field, the
sync indicator, a CalDAV connection made in the page (after the Exchange Server form's errors
at their fields). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from calsync_localinfra.radicale import LocalRadicale

from .support import eventually
from .web_support import pick_participant, reload, shot, today_at

pytestmark = pytest.mark.e2e


async def test_views_show_the_meetings_of_the_week(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    created = await api.post(
        "/meetings",
        json={
            "subject": "Board review",
            "start": today_at(12),
            "end": today_at(13),
            "timezone": "UTC",
        },
    )
    assert created.status_code == 201, created.text
    await page.get_by_role("button", name="Refresh").click()
    event = page.locator(".ec-event", has_text="Board review")
    await expect(event.first).to_be_visible(timeout=15_000)
    await shot(page, "week")
    for view in ("Month", "Day", "Schedule", "Agenda"):
        await page.get_by_role("button", name=view, exact=True).click()
        await expect(page.locator(".ec-event", has_text="Board review").first).to_be_visible()
        await shot(page, view.lower())
    # An agenda without meetings says so (ten years on, nothing is planned yet).
    empty = datetime.now(UTC) + timedelta(days=3653)
    await page.get_by_label("Go to date").fill(empty.date().isoformat())
    await expect(page.locator("#ec")).to_contain_text("No meetings")
    await page.get_by_role("button", name="Today").click()
    # Previous / next step through the weeks; Today comes back.
    await page.get_by_role("button", name="Week", exact=True).click()
    board = page.locator("#ec .ec-event", has_text="Board review")
    await page.get_by_role("button", name="Next week").click()
    await expect(board).to_have_count(0)
    await page.get_by_role("button", name="Previous week").click()
    await page.get_by_role("button", name="Previous week").click()
    await expect(board).to_have_count(0)
    await page.get_by_role("button", name="Today").click()
    await expect(board.first).to_be_visible()
    # Go to a date: a meeting six weeks ahead shows in that week.
    later = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(
        weeks=6
    )
    ahead = await api.post(
        "/meetings",
        json={
            "subject": "Six weeks on",
            "start": later.isoformat(),
            "end": (later + timedelta(hours=1)).isoformat(),
            "timezone": "UTC",
        },
    )
    assert ahead.status_code == 201, ahead.text
    await page.get_by_role("button", name="Week", exact=True).click()
    await page.get_by_label("Go to date").fill(later.date().isoformat())
    await expect(page.locator(".ec-event", has_text="Six weeks on").first).to_be_visible()
    await expect(page.locator("#sync-state")).to_contain_text("Not synchronised")
    await expect(
        page.get_by_text("Your calendar is not synchronised with the CRM yet")
    ).to_be_visible()


async def test_a_meeting_made_with_the_form_is_in_the_calendar_and_the_api(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Subject").fill("Made in the browser")
    await dialog.get_by_label("Location").fill("Room 5")
    await shot(page, "form")
    # The form is taller than the window: its buttons stay in sight without scrolling.
    await expect(dialog.get_by_role("button", name="Save and send invitations")).to_be_in_viewport(
        ratio=1
    )
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()

    async def stored() -> list[dict[str, Any]]:
        return list(
            (await api.get("/meetings", params={"q": "Made in the browser"})).json()["items"]
        )

    [meeting] = await eventually(stored, what="the meeting in the API")
    assert meeting["location"] == "Room 5"
    await expect(page.locator(".ec-event", has_text="Made in the browser").first).to_be_visible()


async def test_a_validation_error_is_shown_at_its_field(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, _ = signed_in
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Save without sending").click()  # no subject
    await expect(page.locator("#e-subject")).not_to_be_empty()
    await expect(dialog.get_by_label("Subject")).to_have_attribute("aria-invalid", "true")
    await expect(dialog).to_be_visible()
    # The form works from the keyboard: Escape closes the dialog.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def test_connecting_a_caldav_calendar_brings_its_events_in(
    stack, browser: Browser, e2e_radicale: LocalRadicale
) -> None:
    _, _, token = await stack.isolated_admin()
    login = f"w{uuid.uuid4().hex[:10]}"
    e2e_radicale.add_user(login, "web-password")
    calendar_url = e2e_radicale.make_calendar(login, "work", "Work")
    start = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//app//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uuid.uuid4()}\r\nDTSTAMP:20261122T100000Z\r\nSUMMARY:From the calendar app\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    async with httpx.AsyncClient(auth=(login, "web-password")) as dav:
        assert (await dav.put(calendar_url + "e.ics", content=event)).status_code == 201
    context = await browser.new_context(timezone_id="UTC", viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.goto(f"{stack.api}/app/#token={token}")
    await expect(page.get_by_role("status").first).to_contain_text("Not synchronised")

    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    # Exchange Server (EWS) is a form of its own: labelled fields, errors at their field.
    await dialog.get_by_label("Microsoft Exchange / Office 365").check()
    await expect(dialog.get_by_label("Server address")).to_be_hidden()
    await dialog.get_by_label("Exchange Server (on-premises, EWS)").check()
    await expect(dialog.get_by_role("button", name="Sign in with Microsoft")).to_be_hidden()
    ews_address = dialog.get_by_label("EWS address")
    await expect(ews_address).to_be_visible()
    await expect(ews_address).to_have_attribute(
        "placeholder", "https://mail.example.com/EWS/Exchange.asmx"
    )
    await expect(dialog.get_by_label("Email address")).to_be_visible()
    await expect(dialog.get_by_label("Password", exact=True)).to_be_visible()
    await expect(dialog.get_by_label("Service account username")).to_be_hidden()
    await dialog.get_by_role("button", name="Test the connection").click()  # no address
    await expect(dialog.locator("#ce-server_url")).to_have_text("Required.")
    await expect(ews_address).to_have_attribute("aria-invalid", "true")
    await expect(ews_address).to_be_focused()
    await ews_address.fill("https://mail.corp.example/EWS/Exchange.asmx")
    # With a service account, its login and password are asked, not the mailbox's.
    await dialog.get_by_label("Sign in with a service account (impersonation)").check()
    await expect(dialog.get_by_label("Service account username")).to_be_visible()
    await expect(dialog.get_by_label("Service account password")).to_be_visible()
    await dialog.get_by_label("Service account username").fill("CORP\\svc-calsync")
    await dialog.get_by_label("Service account password").fill("service-password")
    await dialog.get_by_role("button", name="Test the connection").click()  # no mailbox
    await expect(dialog.locator("#ce-mailbox")).to_have_text("Required.")
    await expect(dialog.locator("#ce-server_url")).to_be_empty()
    await expect(dialog.get_by_label("Email address")).to_be_focused()
    await shot(page, "connection-exchange-server")
    await dialog.get_by_label("CalDAV", exact=False).check()
    await expect(dialog.get_by_label("Email address")).to_be_hidden()
    await dialog.get_by_label("Server address").fill(e2e_radicale.url)
    await dialog.get_by_label("Username").fill(login)
    await dialog.get_by_label("Password").fill("wrong")
    await dialog.get_by_role("button", name="Test the connection").click()
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "wrong_credentials")
    await dialog.get_by_label("Password").fill("web-password")
    await dialog.get_by_role("button", name="Test the connection").click()
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    await expect(dialog.get_by_label("Work")).to_be_checked()
    await shot(page, "connection")
    await dialog.get_by_role("button", name="Save and subscribe").click()
    await expect(dialog).to_be_hidden()

    indicator = page.locator("#sync-state")
    await expect(indicator).to_have_attribute("data-state", "in_sync", timeout=60_000)
    imported = page.locator(".ec-event", has_text="From the calendar app")
    await expect(imported.first).to_be_visible(timeout=30_000)
    await shot(page, "connected")
    await context.close()


async def test_the_form_books_a_person_into_a_colleagues_calendar(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    colleague = await api.post(
        "/users",
        json={"name": "Carla Colleague", "email": f"carla-{uuid.uuid4().hex[:6]}@example.com"},
    )
    assert colleague.status_code == 201, colleague.text
    person = await api.post("/persons", json={"name": "Petra Person", "email": "petra@example.com"})
    assert person.status_code == 201, person.text
    await reload(page)  # the page knows the colleague now

    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Subject").fill("Booked for Carla")
    await dialog.get_by_label("In the calendar of").select_option(label="Carla Colleague")
    await pick_participant(page, "Petra", "Petra Person — person")
    await expect(dialog.get_by_role("button", name="Remove Petra Person")).to_be_visible()
    await dialog.get_by_label("Private").check()
    await shot(page, "form-participants")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()

    async def stored() -> list[dict[str, Any]]:
        found = await api.get("/meetings", params={"q": "Booked for Carla"})
        return list(found.json()["items"])

    [meeting] = await eventually(stored, what="the meeting in the API")
    assert meeting["owner_user_id"] == colleague.json()["id"]
    assert meeting["booked_by_user_id"] is not None
    assert meeting["private"] is True
    assert [(p["kind"], p["name"]) for p in meeting["participants"]] == [("person", "Petra Person")]
