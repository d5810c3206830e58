"""An administrator connects a colleague's CalDAV calendar from the page; the colleague's
calendar is then offered, in a colour the administrator changes; an occurrence of the
colleague's series opened from the page is edited alone; the connection's settings are saved;
the sync indicator follows a password changed on the server without a page reload."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar, Event
from playwright.async_api import Page, expect

from calsync_localinfra.radicale import LocalRadicale

from .support import eventually
from .test_web_exchange_server import exchange_of
from .web_support import box_of, reload, shot

pytestmark = pytest.mark.e2e


def rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def weekly(subject: str, first: datetime) -> str:
    event = Event()
    event.add("UID", f"{uuid.uuid4()}@calendar-app.test")
    event.add("DTSTAMP", datetime.now(UTC))
    event.add("SUMMARY", subject)
    event.add("DTSTART", first)
    event.add("DTEND", first + timedelta(hours=1))
    event.add("RRULE", {"FREQ": "WEEKLY", "COUNT": 4})
    calendar = Calendar()
    calendar.add("PRODID", "-//calendar app//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    return calendar.to_ical().decode()


async def test_an_administrator_connects_a_colleagues_calendar_from_the_page(
    signed_in: tuple[Page, httpx.AsyncClient], e2e_radicale: LocalRadicale
) -> None:
    page, api = signed_in
    carla = (
        await api.post(
            "/users", json={"name": "Carla Dav", "email": f"cd-{uuid.uuid4().hex[:6]}@example.com"}
        )
    ).json()
    demo = (await api.post("/meeting-types", json={"name": "Demo"})).json()
    login = f"c{uuid.uuid4().hex[:10]}"
    e2e_radicale.add_user(login, "carla-password")
    work = e2e_radicale.make_calendar(login, "work", "Work")
    e2e_radicale.make_calendar(login, "demos", "Demos")
    first = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    async with httpx.AsyncClient(auth=(login, "carla-password")) as dav:
        put = await dav.put(work + "series.ics", content=weekly("Weekly pipeline", first))
        assert put.status_code == 201
    mine = await api.post(
        "/meetings",
        json={
            "subject": "Admin lunch",
            "start": (first + timedelta(hours=3)).isoformat(),
            "end": (first + timedelta(hours=4)).isoformat(),
            "timezone": "UTC",
        },
    )
    assert mine.status_code == 201, mine.text
    await reload(page)
    await expect(page.get_by_role("button", name="Calendar connection")).to_be_enabled()
    people = page.locator("#people")
    await expect(people.get_by_role("checkbox", name="Carla Dav")).to_have_count(
        0
    )  # not connected: not offered

    # The administrator sets up Carla's connection.
    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("For the user").select_option(label="Carla Dav")
    await expect(dialog.locator("#connection-current")).to_have_text("No calendar is connected.")
    await dialog.get_by_label("Server address").fill(e2e_radicale.url)
    await dialog.get_by_label("Username").fill(login)
    await dialog.get_by_label("Password").fill("carla-password")
    await dialog.get_by_role("button", name="Test the connection").click()
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    await dialog.get_by_label("Work").check()
    await dialog.get_by_label("Demos").check()
    await dialog.get_by_role("button", name="Save and subscribe").click()
    await expect(dialog).to_be_hidden()
    connection = await api.get(f"/users/{carla['id']}/calendar-connection")
    assert connection.status_code == 200, connection.text
    assert connection.json()["username"] == login

    # Carla's calendar is offered now (no reload needed), in a colour the administrator changes.
    await people.get_by_role("checkbox", name="Carla Dav").check()
    occurrence = page.locator("#ec .ec-event", has_text="Weekly pipeline")
    await expect(occurrence.first).to_be_visible(timeout=60_000)
    await people.get_by_label("Colour of Carla Dav").fill("#aa3377")
    await expect(occurrence.first).to_have_css("background-color", "rgb(170, 51, 119)")
    assert (await api.get(f"/users/{carla['id']}")).json()["display_colour"] == "#aa3377"
    own_colour = (await api.get("/me")).json()["display_colour"]
    lunch = page.locator("#ec .ec-event", has_text="Admin lunch").first
    await expect(lunch).to_have_css("background-color", rgb(own_colour))  # two users, two colours
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "in_sync", timeout=60_000
    )
    await shot(page, "two-calendars")

    # In the schedule view, a slot in Carla's column books into her calendar.
    await page.get_by_role("button", name="Schedule", exact=True).click()
    carla_column = await box_of(page, page.locator("#ec .ec-col-head", has_text="Carla Dav"))
    four = page.locator("#ec .ec-body .ec-sidebar .ec-slot").filter(
        has=page.locator("time[datetime$='T16:00:00']")
    )
    await four.scroll_into_view_if_needed()
    row = await four.bounding_box()
    assert row is not None
    x = carla_column["x"] + carla_column["width"] / 2
    await page.mouse.click(x, row["y"] + row["height"] / 2 + 6)
    booking = page.get_by_role("dialog")
    await expect(booking.get_by_label("In the calendar of")).to_have_value(carla["id"])
    await booking.get_by_role("button", name="Back to calendar").click()
    await page.get_by_role("button", name="Week", exact=True).click()

    # Opening this week's occurrence edits it alone.
    await occurrence.first.click()
    form = page.get_by_role("dialog")
    await expect(form.get_by_text("This is one occurrence of a series")).to_be_visible()
    await form.get_by_label("Location").fill("Room 7")
    await form.get_by_role("button", name="Save without sending").click()
    await expect(form).to_be_hidden()

    async def override() -> list[dict[str, Any]]:
        found = (await api.get("/meetings", params={"q": "Weekly pipeline"})).json()["items"]
        return [m for m in found if m["series_id"] and m["location"] == "Room 7"]

    [edited] = await eventually(override, what="the occurrence's override")
    assert datetime.fromisoformat(edited["recurrence_id"]) == first

    # The connection's settings: Demo meetings go to the Demos calendar; a six-month window.
    await page.get_by_role("button", name="Calendar connection").click()
    await dialog.get_by_label("For the user").select_option(label="Carla Dav")
    await dialog.get_by_label("Demo").select_option(label="Demos")
    await dialog.get_by_label("Months ahead").fill("6")
    await dialog.get_by_role("button", name="Save settings").click()
    await expect(dialog.locator("#se-form")).to_have_text("Saved.")
    saved = (await api.get(f"/users/{carla['id']}/calendar-connection")).json()
    demos = next(c["id"] for c in saved["calendars"] if c["name"] == "Demos")
    assert saved["calendar_by_meeting_type"] == {demo["id"]: demos}
    assert (await api.get("/settings/sync-window")).json()["months_ahead"] == 6
    # Synchronise asks Carla's sync service for a pass now (its effect: test_sync_status_api.py).
    async with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(f"/users/{carla['id']}/sync-status/refresh")
    ) as asked:
        await dialog.get_by_role("button", name="Synchronise").click()
    assert (await (await asked.value).response()).status < 300
    await dialog.get_by_role("button", name="Back to calendar").click()

    # Carla changes her password on the server: the indicator follows without a reload.
    e2e_radicale.add_user(login, "changed-elsewhere")
    await page.get_by_role("button", name="Refresh").click()
    await expect(page.locator("#sync-state")).to_have_attribute(
        "data-state", "needs_reauth", timeout=60_000
    )
    await expect(page.locator("#sync-state")).to_contain_text("Needs re-authorisation")


async def test_the_exchange_server_form_sends_only_what_was_typed_for_it(
    stack: Any, signed_in: tuple[Page, httpx.AsyncClient], tmp_path: Any
) -> None:
    """Switching provider, or ticking and unticking impersonation, leaves nothing typed for
    the other behind (a CalDAV address sent as the EWS address, the service account's password
    as the mailbox's), nor its errors; a wrong sign-in is worded for Exchange; reopened, the
    dialog shows the saved EWS address, mailbox and impersonation, never the password."""
    page, _ = signed_in
    exchange = exchange_of(stack, tmp_path)
    suffix = uuid.uuid4().hex[:6]
    email, service = f"ivy-{suffix}@corp.test", f"svc-{suffix}@corp.test"
    await asyncio.to_thread(exchange.add_account, email, "ivy-password")
    await asyncio.to_thread(exchange.add_service_account, service, "service-password")
    await asyncio.to_thread(exchange.grant_impersonation, service, email)
    ews_url = stack.state["exchange_server"]["ews_url"]

    await page.get_by_role("button", name="Calendar connection").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Test the connection").click()  # nothing typed
    await expect(dialog.get_by_label("Server address")).to_have_attribute("aria-invalid", "true")
    await dialog.get_by_label("Server address").fill("https://dav.example.com/")
    await dialog.get_by_label("Username").fill("ivy")
    await dialog.get_by_label("Password").fill("caldav-password")
    await dialog.get_by_label("Microsoft Exchange / Office 365").check()
    await dialog.get_by_label("Exchange Server (on-premises, EWS)").check()
    ews_address = dialog.get_by_label("EWS address")
    await expect(ews_address).to_have_value("")
    await expect(ews_address).not_to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("#ce-server_url")).to_be_empty()
    await expect(dialog.get_by_label("Password", exact=True)).to_have_value("")

    # The service account's password is not sent as the mailbox's once unticked.
    await ews_address.fill(ews_url)
    await dialog.get_by_label("Email address").fill(email)
    impersonation = dialog.get_by_label("Sign in with a service account (impersonation)")
    await expect(impersonation).to_have_attribute("aria-expanded", "false")
    await impersonation.check()
    await expect(impersonation).to_have_attribute("aria-expanded", "true")
    await expect(impersonation).to_have_attribute("aria-controls", "username-row")
    await dialog.get_by_label("Service account username").fill(service)
    await dialog.get_by_label("Service account password").fill("service-password")
    await impersonation.uncheck()
    await expect(impersonation).to_have_attribute("aria-expanded", "false")
    await expect(dialog.get_by_label("Password", exact=True)).to_have_value("")
    async with page.expect_request(lambda r: r.url.endswith("/calendar-connection/test")) as sent:
        await dialog.get_by_role("button", name="Test the connection").click()
    body = (await sent.value).post_data_json
    assert (body["server_url"], body["username"], body["mailbox"]) == (ews_url, email, email)
    assert (body["password"], body["impersonate"]) == ("", False)
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "wrong_credentials")
    await expect(dialog.locator("#verdict")).to_have_text(
        "Exchange did not accept the sign-in. Check the email address and the password; with a"
        " service account, also that it may act for this mailbox (ApplicationImpersonation)."
    )
    # A login that is not the address (CORP\ivy) goes as the login, the address as the mailbox.
    login = dialog.get_by_label("Sign-in name, only if it differs")
    await expect(login).to_have_attribute("placeholder", "CORP\\ann")
    await login.fill("CORP\\ivy")
    async with page.expect_request(lambda r: r.url.endswith("/calendar-connection/test")) as sent:
        await dialog.get_by_role("button", name="Test the connection").click()
    body = (await sent.value).post_data_json
    assert (body["username"], body["mailbox"], body["impersonate"]) == ("CORP\\ivy", email, False)
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "wrong_credentials")
    await impersonation.check()
    await expect(dialog.get_by_label("Service account username")).to_have_value("")
    await dialog.get_by_label("Service account username").fill(service)
    await dialog.get_by_label("Service account password").fill("service-password")
    await dialog.get_by_role("button", name="Test the connection").click()
    await expect(dialog.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    # Changed after its test, the password is refused at saving, in the user's words too.
    await dialog.get_by_label("Service account password").fill("changed since")
    await dialog.get_by_role("button", name="Save and subscribe").click()
    await expect(dialog.locator("#ce-password")).to_have_text(
        "Exchange did not accept the sign-in. Check the email address and the password; with a"
        " service account, also that it may act for this mailbox (ApplicationImpersonation)."
    )
    await dialog.get_by_label("Service account password").fill("service-password")
    await dialog.get_by_role("button", name="Save and subscribe").click()
    await expect(dialog).to_be_hidden()

    # Reopened: what is connected, never the password.
    await page.get_by_role("button", name="Calendar connection").click()
    await expect(dialog.get_by_label("Exchange Server (on-premises, EWS)")).to_be_checked()
    await expect(ews_address).to_have_value(ews_url)
    await expect(dialog.get_by_label("Email address")).to_have_value(email)
    await expect(impersonation).to_be_checked()
    await expect(dialog.get_by_label("Service account username")).to_have_value(service)
    await expect(dialog.get_by_label("Service account password")).to_have_value("")
    await shot(page, "connection-exchange-server-reopened")
    # The EWS address is not offered as a CalDAV server's.
    await dialog.get_by_label("CalDAV", exact=False).check()
    await expect(dialog.get_by_label("Server address")).to_have_value("")
    await expect(dialog.get_by_label("Username")).to_have_value("")
    await dialog.get_by_label("Microsoft Exchange / Office 365").check()
    await expect(ews_address).to_have_value(ews_url)  # the saved account again
    await expect(dialog.get_by_label("Service account password")).to_have_value("")


async def test_a_provider_chosen_while_the_users_connection_loads_stays_chosen(
    stack: Any, signed_in: tuple[Page, httpx.AsyncClient]
) -> None:
    """The dialog loads the chosen user's connection: a provider picked, or an address typed,
    meanwhile must not be reset to that connection's when the answer comes (seen on a slow CI
    machine)."""
    page, api = signed_in
    made = await api.post(
        "/users", json={"name": "Slow Sam", "email": f"sam-{uuid.uuid4().hex[:6]}@example.com"}
    )
    assert made.status_code == 201, made.text
    sam = made.json()["id"]
    await reload(page)

    async def slowly(route: Any) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route(f"**/users/{sam}/calendar-connection", slowly)
    try:
        await page.get_by_role("button", name="Calendar connection").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("For the user").select_option(label="Slow Sam")
        await dialog.get_by_label("Google Calendar").check()
        await page.wait_for_timeout(2_000)  # the slow answer has come
        await expect(dialog.get_by_label("Google Calendar")).to_be_checked()
        await expect(
            dialog.get_by_role("button", name="Sign in with Google and subscribe")
        ).to_be_visible()
        # Nor is an address typed meanwhile wiped when the answer comes.
        await dialog.get_by_label("CalDAV", exact=False).check()
        await dialog.get_by_label("For the user").select_option(index=0)
        await dialog.get_by_label("For the user").select_option(label="Slow Sam")
        await dialog.get_by_label("Server address").fill("https://dav.example.com/")
        await page.wait_for_timeout(2_000)
        await expect(dialog.get_by_label("Server address")).to_have_value(
            "https://dav.example.com/"
        )
        await dialog.get_by_role("button", name="Back to calendar").click()
    finally:
        await page.unroute(f"**/users/{sam}/calendar-connection")
