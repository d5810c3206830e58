"""The sync indicator and the banner follow the calendar's real state with no reload: a
connected CalDAV calendar is "In sync"; once the server refuses its password, a refresh turns
the indicator to "Needs re-authorisation" with a banner asking to reconnect, both in the
user's language; reconnecting brings "In sync" back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from calsync_localinfra.radicale import LocalRadicale
from crm_api.auth import Caller, mint_token

from .web_support import reload, settled, shot

pytestmark = pytest.mark.e2e


async def test_a_refused_password_asks_for_reconnection_until_it_is_fixed(
    signed_in: tuple[Page, httpx.AsyncClient], e2e_radicale: LocalRadicale
) -> None:
    page, api = signed_in
    login = f"s{uuid.uuid4().hex[:10]}"
    e2e_radicale.add_user(login, "first-password")
    calendar_url = e2e_radicale.make_calendar(login, "work", "Work")
    me = (await api.get("/me")).json()
    account = {
        "provider": "caldav",
        "server_url": e2e_radicale.url,
        "username": login,
        "password": "first-password",
    }
    saved = await api.put(
        f"/users/{me['id']}/calendar-connection", json={**account, "calendars": [calendar_url]}
    )
    assert saved.status_code == 200, saved.text
    assert (await api.patch("/me", json={"language": "da"})).status_code == 200
    await reload(page)
    indicator = page.locator("#sync-state")
    await expect(indicator).to_have_attribute("data-state", "in_sync", timeout=60_000)
    await expect(indicator).to_have_text("Synkroniseret")
    await expect(page.locator("#ec")).to_contain_text("Hele dagen")  # the all-day row's label
    banner = page.locator("#banner")
    await expect(banner).to_be_hidden()

    e2e_radicale.add_user(login, "changed-in-the-calendar-app")
    await page.get_by_role("button", name="Opdater").click()
    await expect(indicator).to_have_attribute("data-state", "needs_reauth", timeout=60_000)
    await expect(indicator).to_have_text("Kræver ny godkendelse")  # the banner says why
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Din kalender skal forbindes igen")
    await shot(page, "needs-reauth")

    # Reconnecting from the banner with the new password.
    await banner.get_by_role("button", name="Forbind igen").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Serveradresse").fill(e2e_radicale.url)
    await dialog.get_by_label("Brugernavn").fill(login)
    await dialog.get_by_label("Adgangskode").fill("changed-in-the-calendar-app")
    await dialog.get_by_role("button", name="Test forbindelsen").click()
    await expect(dialog.locator("#verdict")).to_have_text(
        "Forbundet: vælg de kalendere, der skal synkroniseres."
    )
    await dialog.get_by_label("Work").check()
    await dialog.get_by_role("button", name="Gem og abonnér").click()
    await expect(dialog).to_be_hidden()
    await expect(indicator).to_have_attribute("data-state", "in_sync", timeout=60_000)
    await expect(banner).to_be_hidden()

    # Disconnecting asks first; then the calendar is not synchronised any more.
    await page.get_by_role("button", name="Kalenderforbindelse").click()
    page.once("dialog", lambda question: asyncio.ensure_future(question.dismiss()))
    await dialog.get_by_role("button", name="Afbryd").click()
    await expect(dialog).to_be_visible()  # kept: the question was answered no
    page.once("dialog", lambda question: asyncio.ensure_future(question.accept()))
    await dialog.get_by_role("button", name="Afbryd").click()
    await expect(dialog).to_be_hidden()
    await expect(indicator).to_have_attribute("data-state", "not_configured")
    await expect(banner).to_contain_text("Din kalender er endnu ikke synkroniseret")
    assert (await api.get(f"/users/{me['id']}/calendar-connection")).status_code == 404


async def test_an_expired_sign_in_is_said_plainly(stack, browser: Browser) -> None:
    tenant_id, user_id, _ = await stack.isolated_admin()
    caller = Caller(uuid.UUID(user_id), uuid.UUID(tenant_id), True)
    token = mint_token(stack.dev_secret("JWT_SECRET"), caller, timedelta(seconds=4))
    context = await browser.new_context(timezone_id="UTC")
    page = await context.new_page()
    await page.goto(f"{stack.api}/app/#token={token}")
    await settled(page)
    notice = page.get_by_role("alert").filter(has_text="sign-in")
    # The page's 5-second refresh meets the expired token: said as such, not "not synchronised".
    await expect(notice).to_have_text(
        "Your sign-in has expired: open the calendar from the CRM again.", timeout=20_000
    )
    await context.close()
