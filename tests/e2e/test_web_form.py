"""The meeting form in a real browser: a meeting made by clicking a slot, edited and deleted;
the participants' day beside the form with its overlap warning; the Danish page worked through
from the keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from .support import eventually
from .web_support import box_of, new_colleague, pick_participant, reload, shot, today_at

pytestmark = pytest.mark.e2e


async def meetings_named(api: httpx.AsyncClient, subject: str) -> list[dict[str, Any]]:
    found = await api.get("/meetings", params={"q": subject})
    return [m for m in found.json()["items"] if m["subject"] == subject]


async def click_at_hour(page: Page, calendar: str, column: str, hour: int) -> None:
    """A click just after ``hour`` o'clock in a day column of a time grid. The hour's label
    in the grid's sidebar is centred on the hour's line."""
    label = page.locator(f"{calendar} .ec-body .ec-sidebar .ec-slot").filter(
        has=page.locator(f"time[datetime$='T{hour:02d}:00:00']")
    )
    await label.scroll_into_view_if_needed()
    row = await label.bounding_box()
    day = await page.locator(f"{calendar} .ec-body {column}").bounding_box()
    assert row is not None
    assert day is not None
    await page.mouse.click(day["x"] + day["width"] / 2, row["y"] + row["height"] / 2 + 6)


async def test_a_slot_click_makes_a_meeting_which_is_then_edited_and_deleted(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    await expect(page.get_by_role("button", name="New meeting")).to_be_enabled()
    await click_at_hour(page, "#ec", ".ec-day.ec-today", 10)
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Start", exact=True)).to_have_value(today_at(10)[:16])
    await dialog.get_by_label("Subject").fill("Slot meeting")
    description = dialog.get_by_role("textbox", name="Description")
    await description.click()
    await page.keyboard.type("Bring ")
    await dialog.get_by_role("button", name="Bold").click()
    await page.keyboard.type("the contract")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()
    event = page.locator("#ec .ec-event", has_text="Slot meeting")
    await expect(event.first).to_be_visible()
    [made] = await eventually(lambda: meetings_named(api, "Slot meeting"), what="the meeting")
    assert datetime.fromisoformat(made["time"]["start"]) == datetime.fromisoformat(today_at(10))
    assert made["description"] == "Bring the contract"  # what providers get
    assert "<strong>the contract</strong>" in made["description_html"]

    await event.first.click()  # edit
    await expect(dialog.get_by_label("Subject")).to_have_value("Slot meeting")
    await expect(description.locator("strong")).to_have_text("the contract")
    await dialog.get_by_label("Subject").fill("Slot meeting, moved")
    await dialog.get_by_label("End", exact=True).fill(today_at(12)[:16])
    await dialog.get_by_role("button", name="Save without sending").click()
    moved = page.locator("#ec .ec-event", has_text="Slot meeting, moved")
    await expect(moved.first).to_be_visible()
    edited = (await api.get(f"/meetings/{made['id']}")).json()
    assert datetime.fromisoformat(edited["time"]["end"]) == datetime.fromisoformat(today_at(12))

    await moved.first.click()  # delete: asked first, and "keep it" keeps it
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    question = dialog.get_by_role("group", name="Delete this meeting?")
    send_cancellations = question.get_by_role("button", name="Delete and send cancellations")
    await expect(send_cancellations).to_be_focused()
    await question.get_by_role("button", name="Keep it").click()
    await expect(question).to_be_hidden()
    assert (await api.get(f"/meetings/{made['id']}")).status_code == 200
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await question.get_by_role("button", name="Delete without sending").click()
    await expect(dialog).to_be_hidden()
    assert (await api.get(f"/meetings/{made['id']}")).status_code == 404
    await expect(page.locator("#ec .ec-event", has_text="Slot meeting")).to_have_count(0)


async def test_the_participants_day_warns_of_an_overlap_and_a_click_there_moves_the_meeting(
    stack, signed_in: tuple[Page, httpx.AsyncClient]
) -> None:
    page, api = signed_in
    _, as_carla = await new_colleague(stack, api, "Carla Busy")
    busy = await api.post(  # Carla's own: the page's user neither booked it nor takes part
        "/meetings",
        headers=as_carla,
        json={
            "subject": "Carla's dentist",
            "private": True,
            "start": today_at(10),
            "end": today_at(11),
            "timezone": "UTC",
        },
    )
    assert busy.status_code == 201, busy.text
    await reload(page)
    await page.get_by_role("button", name="New meeting").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Subject").fill("Planning")
    await dialog.get_by_label("Start", exact=True).fill(today_at(10)[:16].replace("10:00", "10:30"))
    await dialog.get_by_label("End", exact=True).fill(today_at(11)[:16].replace("11:00", "11:30"))
    await pick_participant(page, "Carla", "Carla Busy — user")

    warning = dialog.get_by_role("alert").filter(has_text="Overlaps")
    await expect(warning).to_have_text("Overlaps with busy time: Carla Busy 10:00 AM\u201311:00 AM")
    panel = dialog.locator("#day-panel")
    await expect(panel.locator(".ec-event", has_text="Busy")).to_be_visible()  # private: no details
    await expect(panel).not_to_contain_text("dentist")
    await shot(page, "form-day-panel")

    # The times when all are free, for the keyboard: an hour long, so not 09:30 to 10:30.
    free = dialog.get_by_label("Everyone is free at")
    offered = await free.locator("option").all_inner_texts()
    assert "09:00 AM" in offered
    assert "11:00 AM" in offered
    assert not {"09:30 AM", "10:00 AM", "10:30 AM"} & set(offered), offered
    await free.focus()  # each arrow press moves the meeting on to the next free time
    start = dialog.get_by_label("Start", exact=True)
    await page.keyboard.press("ArrowDown")
    await expect(start).to_have_value(today_at(7)[:16])  # the first free start
    await expect(free).to_have_value(today_at(7).replace("+00:00", ".000Z"))
    await page.keyboard.press("ArrowDown")
    await expect(start).to_have_value(f"{today_at(7)[:11]}07:30")  # on from the chosen one
    await free.select_option(label="11:00 AM")
    await expect(start).to_have_value(today_at(11)[:16])
    await expect(dialog.get_by_label("End", exact=True)).to_have_value(today_at(12)[:16])
    await expect(warning).to_be_hidden()

    await click_at_hour(page, "#day-panel", ".ec-day:last-child", 14)
    await expect(dialog.get_by_label("Start", exact=True)).to_have_value(today_at(14)[:16])
    await expect(dialog.get_by_label("End", exact=True)).to_have_value(today_at(15)[:16])
    await expect(warning).to_be_hidden()


async def test_the_danish_page_is_worked_from_the_keyboard(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    assert (await api.patch("/me", json={"language": "da"})).status_code == 200
    await reload(page)
    await expect(page.get_by_role("button", name="Nyt møde")).to_be_enabled()
    await expect(page.get_by_role("button", name="Måned", exact=True)).to_be_visible()
    first_day = page.locator("#ec .ec-col-head").first
    await expect(first_day).to_contain_text("man")  # the week starts on Monday in Denmark
    await expect(page.get_by_role("button", name="Forrige uge")).to_be_visible()
    await shot(page, "week-da")

    await page.get_by_role("button", name="Nyt møde").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Emne")).to_be_focused()
    await expect(dialog.locator(".ql-tooltip input")).to_have_attribute("aria-label", "Link")
    await page.keyboard.type("Tastaturmøde")
    reached: list[str | None] = []
    for _ in range(40):  # Tab through the form to "save without sending", naming each stop
        await page.keyboard.press("Tab")
        reached.append(await accessible_name(page))
        if reached[-1] == "Gem uden at sende":
            break
    assert reached[0] == "Sted"  # subject, then location: the order the form reads in
    assert None not in reached, f"a control without a name: {reached}"
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    [made] = await eventually(lambda: meetings_named(api, "Tastaturmøde"), what="the meeting")
    assert made["owner_user_id"] == (await api.get("/me")).json()["id"]
    assert datetime.fromisoformat(made["time"]["start"]) > datetime.now(UTC)


async def accessible_name(page: Page) -> str | None:
    """The focused control's accessible name as Chromium's accessibility tree gives it to a
    screen reader (``- textbox "Sted"``); None when it has none. The control is marked to be
    found: ``:focus`` misses inputs whose focus sits in their own parts (datetime-local)."""
    await page.evaluate("() => document.activeElement.setAttribute('data-tab-stop', '')")
    stop = page.locator("[data-tab-stop]")
    snapshot = await stop.aria_snapshot()
    await stop.evaluate("(e) => e.removeAttribute('data-tab-stop')")
    named = re.match(r'- [\w-]+ "((?:[^"\\]|\\.)*)"', snapshot.splitlines()[0])
    return named.group(1) if named else None


WORDS = {  # (language, "New meeting", "Month", the week's first day in the column heads)
    "sv": ("Nytt möte", "Månad", "mån"),
    "nl": ("Nieuwe afspraak", "Maand", "ma"),
    "pl": ("Nowe spotkanie", "Miesiąc", "pon"),
    "en": ("New meeting", "Month", "Sun"),
}


async def test_every_language_has_every_word_and_its_own_week(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    for language, (new_meeting, month, first_day) in WORDS.items():
        assert (await api.patch("/me", json={"language": language})).status_code == 200
        await reload(page)
        await expect(page.get_by_role("button", name=new_meeting)).to_be_enabled()
        await expect(page.get_by_role("button", name=month, exact=True)).to_be_visible()
        await expect(page.locator("#ec .ec-col-head").first).to_contain_text(first_day)
        missing = await page.evaluate(
            "(lang) => Object.keys(TEXTS.en).filter((key) => !(key in TEXTS[lang]))", language
        )
        assert missing == [], f"{language} lacks {missing}"
        await shot(page, f"week-{language}")


async def test_dragging_moves_a_meeting_and_its_edge_changes_its_length(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    made = await api.post(
        "/meetings",
        json={"subject": "Drag me", "start": today_at(10), "end": today_at(11), "timezone": "UTC"},
    )
    assert made.status_code == 201, made.text
    url = f"/meetings/{made.json()['id']}"
    await reload(page)
    event = page.locator("#ec .ec-event", has_text="Drag me").first
    await expect(event).to_be_visible()
    await event.evaluate("(e) => e.scrollIntoView({block: 'center'})")  # no auto-scroll at an edge
    hour = await hour_height(page)

    box = await box_of(page, event)
    x, y = box["x"] + box["width"] / 2, box["y"] + 10
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x, y + hour, steps=12)
    await page.mouse.up()

    async def moved() -> dict[str, Any] | None:
        time = (await api.get(url)).json()["time"]
        return time if time["start"].startswith(today_at(11)[:16]) else None

    time = await eventually(moved, what="the dragged meeting")
    assert datetime.fromisoformat(time["end"]) == datetime.fromisoformat(today_at(12))

    await expect(event).to_contain_text("11:00")  # redrawn at its new time
    box = await box_of(page, event)
    edge = box["y"] + box["height"] - 3
    await event.hover()
    await page.mouse.move(x, edge)
    await page.mouse.down()
    await page.mouse.move(x, edge + hour, steps=12)
    await page.mouse.up()

    async def longer() -> dict[str, Any] | None:
        time = (await api.get(url)).json()["time"]
        return time if time["end"].startswith(today_at(13)[:16]) else None

    time = await eventually(longer, what="the resized meeting")
    assert time["start"].startswith(today_at(11)[:16])


async def hour_height(page: Page) -> float:
    """The height of an hour in the week grid, from two hour labels in its sidebar."""
    labels = page.locator("#ec .ec-body .ec-sidebar .ec-slot")
    ten = await labels.filter(has=page.locator("time[datetime$='T10:00:00']")).bounding_box()
    eleven = await labels.filter(has=page.locator("time[datetime$='T11:00:00']")).bounding_box()
    assert ten is not None
    assert eleven is not None
    return float(eleven["y"] - ten["y"])


async def test_dragging_across_slots_prefills_the_form_and_all_day_takes_an_organisation(
    signed_in: tuple[Page, httpx.AsyncClient],
) -> None:
    page, api = signed_in
    firm = await api.post("/organisations", json={"name": "Nordhavn Shipping"})
    assert firm.status_code == 201, firm.text
    await reload(page)
    await expect(page.get_by_role("button", name="New meeting")).to_be_enabled()
    hour = await hour_height(page)
    two = page.locator("#ec .ec-body .ec-sidebar .ec-slot").filter(
        has=page.locator("time[datetime$='T14:00:00']")
    )
    await two.evaluate("(e) => e.scrollIntoView({block: 'center'})")  # no auto-scroll at an edge
    label = await two.bounding_box()
    column = await page.locator("#ec .ec-body .ec-day.ec-today").first.bounding_box()
    assert column is not None
    assert label is not None
    x, y = column["x"] + column["width"] / 2, label["y"] + label["height"] / 2 + 6
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x, y + 1.5 * hour, steps=12)  # 14:00 to 16:00 (slots of half an hour)
    await page.mouse.up()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Start", exact=True)).to_have_value(today_at(14)[:16])
    await expect(dialog.get_by_label("End", exact=True)).to_have_value(today_at(16)[:16])

    await dialog.get_by_label("Subject").fill("Harbour day")
    await dialog.get_by_label("All day").check()
    await pick_participant(page, "Nordhavn", "Nordhavn Shipping — organisation")
    await dialog.get_by_role("button", name="Save without sending").click()
    await expect(dialog).to_be_hidden()
    [made] = await eventually(lambda: meetings_named(api, "Harbour day"), what="the meeting")
    today = today_at(0)[:10]
    assert made["time"]["kind"] == "all_day"
    assert made["time"]["start_date"] == today
    assert [(p["kind"], p["name"]) for p in made["participants"]] == [
        ("organisation", "Nordhavn Shipping")
    ]
    await expect(page.locator("#ec .ec-header .ec-event", has_text="Harbour day")).to_be_visible()
    # Hiding the weekend drops Saturday and Sunday from the week.
    await page.get_by_label("Weekends").uncheck()
    await expect(page.locator("#ec .ec-col-head")).to_have_count(5)
