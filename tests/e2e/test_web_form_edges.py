"""The meeting form where users get hurt: all-day meetings west of UTC (drawn on their day,
edited and dragged without drifting), guests a calendar program added (kept through an edit),
validation errors (at their field, in the user's language, cleared on the next try), "save and
send" and a delete that sends cancellations (both read in a real mailbox), and the keyboard's
focus on the calendar surviving the page's periodic refresh."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from playwright.async_api import Browser, Dialog, Page, expect

from calsync_localinfra.smtp import LocalSmtp

from .support import eventually
from .test_web_form import hour_height, meetings_named
from .web_support import (
    SHOTS,
    box_of,
    new_colleague,
    page_of,
    pick_participant,
    reload,
    today_at,
)

pytestmark = pytest.mark.e2e

NEW_YORK = "America/New_York"


def sunday_first_index(day: date) -> int:
    """The column of ``day`` in an English week (Sunday first, as Intl says for "en")."""
    return (day.weekday() + 1) % 7


async def test_an_all_day_meeting_west_of_utc_keeps_its_day_through_an_edit_and_a_drag(
    stack, browser: Browser
) -> None:
    today = datetime.now(ZoneInfo(NEW_YORK)).date()
    async with page_of(stack, browser, timezone_id=NEW_YORK) as (page, api):
        made = await api.post(
            "/meetings",
            json={
                "subject": "Trade fair",
                "all_day": True,
                "start_date": today.isoformat(),
                "end_date": (today + timedelta(days=1)).isoformat(),
            },
        )
        assert made.status_code == 201, made.text
        meeting_id = made.json()["id"]
        await reload(page)
        heads = page.locator("#ec .ec-col-head")
        column = await heads.nth(sunday_first_index(today)).bounding_box()
        event = page.locator("#ec .ec-event", has_text="Trade fair")
        drawn = await box_of(page, event.first)
        assert column is not None
        # On its own day, one column wide (parsed as UTC it began the evening before).
        assert column["x"] <= drawn["x"] + drawn["width"] / 2 <= column["x"] + column["width"]
        assert drawn["width"] <= column["width"]

        await event.first.click()
        dialog = page.get_by_role("dialog")
        await expect(dialog.get_by_label("All day")).to_be_checked()
        await expect(dialog.get_by_label("Start", exact=True)).to_have_value(f"{today}T00:00")
        await expect(dialog.get_by_label("End", exact=True)).to_have_value(f"{today}T00:00")
        # Unticking all-day gives the day working hours, not a meeting of no length.
        await dialog.get_by_label("All day").uncheck()
        await expect(dialog.get_by_label("Start", exact=True)).to_have_value(f"{today}T09:00")
        await expect(dialog.get_by_label("End", exact=True)).to_have_value(f"{today}T10:00")
        await dialog.get_by_label("All day").check()
        await dialog.get_by_label("Location").fill("Hall B")
        await dialog.get_by_role("button", name="Save without sending").click()
        await expect(dialog).to_be_hidden()
        saved = (await api.get(f"/meetings/{meeting_id}")).json()
        assert (saved["location"], saved["time"]["start_date"], saved["time"]["end_date"]) == (
            "Hall B",
            today.isoformat(),
            (today + timedelta(days=1)).isoformat(),
        )

        # Dragged to the neighbouring day (the day before when today ends the week).
        step = 1 if sunday_first_index(today) < 6 else -1
        target = await heads.nth(sunday_first_index(today) + step).bounding_box()
        assert target is not None
        drawn = await box_of(page, event.first)
        x, y = drawn["x"] + drawn["width"] / 2, drawn["y"] + drawn["height"] / 2
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(target["x"] + target["width"] / 2, y, steps=12)
        await page.mouse.up()
        moved_to = today + timedelta(days=step)

        async def moved() -> list[str]:
            time = (await api.get(f"/meetings/{meeting_id}")).json()["time"]
            return [time["start_date"]] if time["start_date"] == moved_to.isoformat() else []

        await eventually(moved, what="the all-day meeting on its new day")
        time = (await api.get(f"/meetings/{meeting_id}")).json()["time"]
        assert (time["kind"], time["end_date"]) == (
            "all_day",
            (moved_to + timedelta(days=1)).isoformat(),
        )


async def test_a_guest_added_in_a_calendar_program_survives_an_edit_and_errors_sit_at_their_field(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    person = await api.post("/persons", json={"name": "Petra Person", "email": "petra@example.com"})
    assert person.status_code == 201, person.text
    olga = await api.post("/persons", json={"name": "Olga Option", "email": "olga@example.com"})
    assert olga.status_code == 201, olga.text
    made = await api.post(
        "/meetings",
        json={
            "subject": "Supplier call",
            "start": today_at(9),
            "end": today_at(10),
            "timezone": "UTC",
            "participants": [
                {"kind": "person", "id": person.json()["id"]},
                {"kind": "external", "email": "guest@supplier.example", "name": "Gus Guest"},
            ],
        },
    )
    assert made.status_code == 201, made.text
    await reload(page)
    await page.locator("#ec .ec-event", has_text="Supplier call").first.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("#participant-list")).to_contain_text("Gus Guest — guest")
    # From the keyboard: a typed address and Enter adds a guest; a name with one suggestion and
    # Enter adds that suggestion. Neither saves the form. (Headless Chromium draws no datalist
    # popup, so picking among several suggestions with the arrow keys is not tested here.)
    participants = dialog.get_by_label("Participants")
    await participants.fill("new.guest@example.org")
    await participants.press("Enter")
    await expect(dialog.locator("#participant-list")).to_contain_text(
        "new.guest@example.org — guest"
    )
    await participants.press_sequentially("Olga", delay=50)
    await expect(page.locator("#participant-options option")).to_have_count(1)
    await participants.press("Enter")
    await expect(dialog.locator("#participant-list")).to_contain_text("Olga Option — person")
    await expect(dialog).to_be_visible()

    # An empty End: said at End, before anything is sent.
    end = dialog.get_by_label("End", exact=True)
    await end.fill("")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog.locator("#e-end")).to_have_text("Required.")
    await expect(end).to_have_attribute("aria-invalid", "true")
    await expect(end).to_be_focused()
    await expect(end).to_have_accessible_description("Required.")
    # An all-day meeting ending before it starts: the API's end_date error, shown at End.
    await dialog.get_by_label("All day").check()
    await end.fill(f"{_days_before(today_at(9), 2)}T09:00")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog.locator("#e-end")).to_have_text("End must be after Start.")
    await expect(dialog.locator("#e-start")).to_have_text("")
    await expect(dialog.locator("#e-form")).to_have_text("")
    # Put right: the errors go, the meeting is saved, and the guest is still invited.
    await dialog.get_by_label("All day").uncheck()
    await end.fill(today_at(10)[:16])
    await dialog.get_by_label("Subject").fill("Supplier call, agreed")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()
    [saved] = await meetings_named(api, "Supplier call, agreed")
    assert [(p["kind"], p["email"]) for p in saved["participants"]] == [
        ("person", "petra@example.com"),
        ("external", "guest@supplier.example"),
        ("external", "new.guest@example.org"),
        ("person", "olga@example.com"),
    ]


def _days_before(instant: str, days: int) -> str:
    return (datetime.fromisoformat(instant) - timedelta(days=days)).date().isoformat()


async def test_save_and_send_invites_and_delete_sends_the_cancellation(
    signed_in: tuple[Page, httpx.AsyncClient], smtp_server: LocalSmtp
) -> None:
    page, api = signed_in
    address = f"petra-{uuid.uuid4().hex[:8]}@example.com"
    person = await api.post("/persons", json={"name": "Petra Mail", "email": address})
    assert person.status_code == 201, person.text
    await reload(page)
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Subject").fill("Contract signing")
    await pick_participant(page, "Petra Mail", "Petra Mail — person")
    # Enter in a field saves without sending (the browser would press "Save and send").
    await dialog.get_by_label("Subject").press("Enter")
    await expect(dialog).to_be_hidden()
    await page.locator("#ec .ec-event", has_text="Contract signing").first.click()
    await dialog.get_by_label("Location").fill("Room 1")
    await dialog.get_by_role("button", name="Save and send invitations").click()
    await expect(dialog).to_be_hidden()

    async def methods() -> list[str]:
        found = []
        for mail in smtp_server.messages():
            if address in str(mail["To"]):
                part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
                found.append(str(Calendar.from_ical(part.get_content())["METHOD"]))
        return found

    # One invitation: the first save sent none (both saves' mail would share the meeting's
    # partition, so a first REQUEST would have come before this one).
    assert await eventually(methods, what="the invitation") == ["REQUEST"]
    await page.locator("#ec .ec-event", has_text="Contract signing").first.click()
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await dialog.get_by_role("button", name="Delete and send cancellations").click()
    await expect(dialog).to_be_hidden()

    async def cancelled() -> list[str]:
        found = await methods()
        return found if len(found) == 2 else []

    assert await eventually(cancelled, what="the cancellation") == ["REQUEST", "CANCEL"]


async def test_the_keyboard_stays_on_an_event_while_the_page_refreshes(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    made = await api.post(
        "/meetings",
        json={
            "subject": "Focus check",
            "start": today_at(11),
            "end": today_at(12),
            "timezone": "UTC",
        },
    )
    assert made.status_code == 201, made.text
    await reload(page)
    event = page.locator("#ec .ec-event", has_text="Focus check").first
    await expect(event).to_be_visible()
    await page.locator("#weekends").focus()
    for _ in range(40):  # from the toolbar into the grid, by Tab alone
        await page.keyboard.press("Tab")
        if await event.evaluate("(e) => e === document.activeElement"):
            break
    await expect(event).to_be_focused()
    await asyncio.sleep(6)  # past the page's 5-second refresh of events and sync state
    await expect(event).to_be_focused()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Subject")).to_have_value("Focus check")
    # Saved from the keyboard: the event it was opened from is redrawn, the focus is not lost.
    await dialog.get_by_label("Subject").press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(event).to_be_focused()  # the event as redrawn


async def test_the_template_chosen_and_edited_in_the_form_is_what_the_guest_reads(
    signed_in: tuple[Page, httpx.AsyncClient], smtp_server: LocalSmtp
) -> None:
    page, api = signed_in
    template = await api.post(
        "/email-templates",
        json={
            "name": "Site visit invitation",
            "subject": "Welcome to {{ meeting.subject }}",
            "body": "<p>Dear {{ recipient.name }}, see you there.</p>",
        },
    )
    assert template.status_code == 201, template.text
    address = f"vera-{uuid.uuid4().hex[:8]}@example.com"
    person = await api.post("/persons", json={"name": "Vera Visitor", "email": address})
    assert person.status_code == 201, person.text
    await reload(page)
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Subject").fill("the site")
    await pick_participant(page, "Vera", "Vera Visitor — person")
    await expect(dialog.get_by_label("Edit template")).to_be_disabled()  # the standard text
    await dialog.get_by_label("Invitation template").select_option(label="Site visit invitation")
    text = dialog.get_by_label("Invitation text")
    await expect(text).to_be_hidden()
    await dialog.get_by_label("Edit template").check()
    await expect(text).to_have_value("<p>Dear {{ recipient.name }}, see you there.</p>")
    await text.fill("<p>Dear {{ recipient.name }}, bring boots.</p>")
    await dialog.get_by_role("button", name="Save and send invitations").click()
    await expect(dialog).to_be_hidden()

    async def invitation() -> list[EmailMessage]:
        return [m for m in smtp_server.messages() if address in str(m["To"])]

    [mail] = await eventually(invitation, what="the invitation")
    assert mail["Subject"] == "Welcome to the site"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert "Dear Vera Visitor, bring boots." in html.get_content()

    # Opened again, the form shows what the next invitation is made from.
    [made] = await meetings_named(api, "the site")
    await page.get_by_label("Go to date").fill(made["time"]["start"][:10])
    await page.locator("#ec .ec-event", has_text="the site").first.click()
    await expect(dialog.get_by_label("Invitation template")).to_have_value(template.json()["id"])
    await expect(dialog.get_by_label("Edit template")).to_be_checked()
    await expect(text).to_have_value("<p>Dear {{ recipient.name }}, bring boots.</p>")
    await dialog.get_by_role("button", name="Back to calendar").click()


async def test_a_double_click_saves_once_and_an_edit_keeps_who_booked_it(
    stack, signed_in: tuple[Page, httpx.AsyncClient]
) -> None:
    page, api = signed_in
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Subject").fill("Clicked twice")
    await dialog.get_by_role("button", name="Save without sending").dblclick()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#ec .ec-event", has_text="Clicked twice")).to_have_count(1)
    assert len(await meetings_named(api, "Clicked twice")) == 1

    # Carla books a private meeting into this user's calendar; an edit here keeps her as booker.
    carla_id, as_carla = await new_colleague(stack, api, "Carla Booker")
    me = (await api.get("/me")).json()
    booked = await api.post(
        "/meetings",
        headers=as_carla,
        json={
            "subject": "Booked by Carla",
            "owner_user_id": me["id"],
            "private": True,
            "start": today_at(13),
            "end": today_at(14),
            "timezone": "America/New_York",
        },
    )
    assert booked.status_code == 201, booked.text
    await reload(page)
    await page.locator("#ec .ec-event", has_text="Booked by Carla").first.click()
    await dialog.get_by_label("Location").fill("Room 4")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()
    stored = (await api.get(f"/meetings/{booked.json()['id']}")).json()
    assert (stored["location"], stored["booked_by_user_id"]) == ("Room 4", carla_id)
    assert stored["time"]["timezone"] == "America/New_York"  # planned there, edited here


async def test_dragging_a_meeting_with_a_guest_asks_and_sends_the_new_time(
    signed_in: tuple[Page, httpx.AsyncClient], smtp_server: LocalSmtp
) -> None:
    page, api = signed_in
    address = f"dora-{uuid.uuid4().hex[:8]}@example.com"
    ten = datetime.fromisoformat(today_at(10)) + timedelta(weeks=1)  # invitations: future only
    made = await api.post(
        "/meetings",
        json={
            "subject": "Moved by drag",
            "start": ten.isoformat(),
            "end": (ten + timedelta(hours=1)).isoformat(),
            "timezone": "UTC",
            "participants": [{"kind": "external", "email": address, "name": "Dora"}],
        },
    )
    assert made.status_code == 201, made.text
    await reload(page)
    await page.get_by_label("Go to date").fill(ten.date().isoformat())
    event = page.locator("#ec .ec-event", has_text="Moved by drag").first
    await event.evaluate("(e) => e.scrollIntoView({block: 'center'})")
    hour = await hour_height(page)
    box = await box_of(page, event)
    x, y = box["x"] + box["width"] / 2, box["y"] + 10
    asked: list[str] = []

    async def answer_yes(question: Dialog) -> None:
        asked.append(question.message)
        await question.accept()

    page.once("dialog", answer_yes)
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x, y + hour, steps=12)
    await page.mouse.up()

    async def invited() -> list[EmailMessage]:
        return [m for m in smtp_server.messages() if address in str(m["To"])]

    [mail] = await eventually(invited, what="the new time in the guest's mailbox")
    assert asked == ["Send the new time to the guests?"]
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    [vevent] = Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert vevent.decoded("DTSTART") == ten + timedelta(hours=1)


async def test_a_meeting_over_two_days_warns_of_a_clash_on_the_second(
    stack, signed_in: tuple[Page, httpx.AsyncClient]
) -> None:
    page, api = signed_in
    _, as_carla = await new_colleague(stack, api, "Carla Later")
    tomorrow_ten = datetime.fromisoformat(today_at(10)) + timedelta(days=1)
    busy = await api.post(
        "/meetings",
        headers=as_carla,
        json={
            "subject": "Carla tomorrow",
            "start": tomorrow_ten.isoformat(),
            "end": (tomorrow_ten + timedelta(hours=1)).isoformat(),
            "timezone": "UTC",
        },
    )
    assert busy.status_code == 201, busy.text
    await reload(page)
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Start", exact=True).fill(today_at(16)[:16])
    await dialog.get_by_label("End", exact=True).fill(f"{tomorrow_ten.date()}T12:00")
    await pick_participant(page, "Carla", "Carla Later — user")
    warning = dialog.locator("#overlap")
    # "Carla Later Sat, Dec 5 10:00 AM-11:00 AM" (an en dash): the clash's day is named.
    clash = rf"Carla Later \w{{3}}, \w{{3}} {tomorrow_ten.day} 10:00 AM\u201311:00 AM"
    await expect(warning).to_contain_text(re.compile(clash))
    await expect(dialog.locator("#free-times-row")).to_be_hidden()  # no free hour-slots for it
    # The side panel draws both days, the second with Carla's meeting in it.
    panel = dialog.locator("#day-panel")
    await expect(panel.locator(".ec-event", has_text="Carla tomorrow")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "form-two-days.png"))
