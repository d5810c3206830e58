"""The browser side of the page's end-to-end tests: Debian's chromium driven by Playwright,
a signed-in page on the running stack, screenshots to artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, FloatRect, Locator, Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make test` (scripts/ensure_chromium.sh)
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@contextlib.asynccontextmanager
async def page_of(
    stack, browser: Browser, timezone_id: str = "UTC", accept_stand_in_certificate: bool = False
) -> AsyncIterator[tuple[Page, httpx.AsyncClient]]:
    """The page signed in as a new tenant's administrator, in a browser whose clock is in
    ``timezone_id``; and an API client for the same caller. Fails if the page threw.
    ``accept_stand_in_certificate``: the Microsoft stand-in's self-signed certificate is
    accepted, as a user of ``make run`` accepts it once in their browser."""
    _, _, token = await stack.isolated_admin()
    context = await browser.new_context(
        timezone_id=timezone_id,
        viewport={"width": 1400, "height": 900},
        ignore_https_errors=accept_stand_in_certificate,
    )
    page = await context.new_page()
    api = httpx.AsyncClient(
        base_url=stack.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{stack.api}/app/#token={token}")
    try:
        await settled(page)
    except AssertionError as late:
        said = await page.locator("#ec").inner_text()
        raise AssertionError(f"the page never got ready: {said!r}; threw: {errors}") from late
    yield page, api
    await api.aclose()
    await context.close()
    assert errors == [], f"the page threw: {errors}"


@pytest.fixture
async def signed_in(stack, browser: Browser) -> AsyncIterator[tuple[Page, httpx.AsyncClient]]:
    async with page_of(stack, browser) as signed:
        yield signed


async def settled(page: Page) -> None:
    """The page has loaded its data and drawn the sync state (the banner included): nothing
    moves under the pointer any more."""
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)


async def box_of(page: Page, locator: Locator) -> FloatRect:
    """Where an element is once the calendar has stopped fetching and redrawing its events."""
    for _ in range(50):
        await expect(page.locator("body")).to_have_attribute("data-loading", "false")
        box = await locator.bounding_box()
        if box is not None:
            return box
        await asyncio.sleep(0.1)  # redrawn between the two lines: measure again
    raise AssertionError(f"{locator} never stood still")


async def reload(page: Page) -> None:
    await page.reload()
    await settled(page)


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def today_at(hour: int) -> str:
    return datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


async def pick_participant(page: Page, typed: str, option: str) -> None:
    """Types ``typed`` into the meeting form's Participants field until one suggestion is
    offered, then picks ``option`` ("Petra Person — person") as a user does from the list."""
    field = page.get_by_role("dialog").get_by_label("Participants")
    await field.press_sequentially(typed, delay=50)
    await expect(page.locator("#participant-options option")).to_have_count(1)
    await field.fill(option)


async def new_colleague(stack, api: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    """A new user of the page's tenant (made by its administrator): their id, and the headers
    that act as them (their own meetings are theirs, not booked by the page's user)."""
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
    made = await api.post("/users", json={"name": name, "email": email})
    assert made.status_code == 201, made.text
    user_id = str(made.json()["id"])
    return user_id, {"Authorization": f"Bearer {await stack.token_for(user_id)}"}
