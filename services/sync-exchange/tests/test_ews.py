"""Exchange Server through EWS, on the EWS stand-in with the real exchangelib: the connection
test's verdicts (a service account's impersonation included), and what Exchange does
differently: who mails invitations, throttling asks to wait, a deleted meeting stays
restorable, guests' answers and rooms survive a CRM edit, a password changed meanwhile."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from uuid import uuid4

import exchangelib
import pytest
from exchangelib.errors import ErrorInternalServerError, ErrorOccurrenceCrossingBoundary
from exchangelib.folders import Calendar as CalendarFolder
from exchangelib.folders import Root
from exchangelib.items import HARD_DELETE
from exchangelib.services import SyncFolderItems

from calsync_contracts.internal import Credentials, ProbeRequest, ProbeVerdict
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant, TimedSpan
from calsync_localinfra.ews import LocalExchangeServer
from sync_core.errors import AuthError, ItemRefused, TemporaryError
from sync_core.ports import OutboundEvent
from sync_core.window import SyncWindow
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.changes import PAGE, Changes, folder_changes
from sync_exchange.ews.probe import probe_ews
from sync_exchange.ews.session import Mailbox

pytestmark = pytest.mark.integration

T = TypeVar("T")

PASSWORD = "mailbox-password"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
WINDOW = SyncWindow.around(datetime.now(UTC), 3, 12)


@dataclass
class Box:
    email: str
    calendar_id: str
    ews_url: str

    def credentials(self, password: str = PASSWORD) -> Credentials:
        return Credentials(kind="basic", username=self.email, secret=password)


@pytest.fixture
async def box(exchange_server: LocalExchangeServer) -> Box:
    email = f"u{uuid4().hex[:10]}@corp.test"
    calendar_id = await asyncio.to_thread(exchange_server.add_account, email, PASSWORD)
    return Box(email, calendar_id, exchange_server.ews_url)


@pytest.fixture
async def calendar(box: Box) -> AsyncIterator[EwsCalendar]:
    mailbox = Mailbox(box.ews_url, box.credentials())
    yield EwsCalendar(mailbox)
    mailbox.close()


def meeting(**changes: object) -> MeetingSnapshot:
    values: dict[str, object] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": f"{uuid4()}@crm.test",
        "version": 1,
        "owner_user_id": uuid4(),
        "subject": "Budget",
        "time": TimedSpan(start=START, end=START + timedelta(hours=1), timezone="Europe/Berlin"),
        "participants": [Participant(kind="external", email="ann@example.com", name="Ann")],
    }
    return MeetingSnapshot.model_validate(values | changes)


def probe_of(box: Box, credentials: Credentials) -> ProbeRequest:
    return ProbeRequest(server_url=box.ews_url, credentials=credentials)


def allowed(box: Box) -> tuple[str, ...]:
    return (box.ews_url.split("/")[2],)  # the stand-in's host:port, as make run allow-lists it


# --- the connection test ----------------------------------------------------------------------


async def test_the_probe_lists_the_mailboxs_calendars_default_first(
    exchange_server: LocalExchangeServer, box: Box
) -> None:
    team = await asyncio.to_thread(exchange_server.add_calendar, box.email, "Team")
    result = await probe_ews(probe_of(box, box.credentials()), allowed(box))
    assert result.verdict is ProbeVerdict.OK
    assert [(c.id, c.name) for c in result.calendars] == [
        (box.calendar_id, "Calendar"),
        (team, "Team"),
    ]


async def test_a_wrong_password_is_worded_for_the_user(box: Box) -> None:
    result = await probe_ews(probe_of(box, box.credentials("wrong")), allowed(box))
    assert result.verdict is ProbeVerdict.WRONG_CREDENTIALS
    assert "username or password" in result.message


async def test_a_service_account_needs_the_impersonation_role(
    exchange_server: LocalExchangeServer, box: Box
) -> None:
    service = f"svc-{uuid4().hex[:8]}@corp.test"
    await asyncio.to_thread(exchange_server.add_service_account, service, "svc-password")
    acting = Credentials(
        kind="basic", username=service, secret="svc-password", mailbox=box.email, impersonate=True
    )
    refused = await probe_ews(probe_of(box, acting), allowed(box))
    assert refused.verdict is ProbeVerdict.WRONG_CREDENTIALS
    assert "impersonation" in refused.message
    await asyncio.to_thread(exchange_server.grant_impersonation, service, box.email)
    granted = await probe_ews(probe_of(box, acting), allowed(box))
    assert granted.verdict is ProbeVerdict.OK
    assert granted.calendars[0].id == box.calendar_id


async def test_an_internal_address_is_refused_before_any_request(
    exchange_server: LocalExchangeServer, box: Box
) -> None:
    before = await asyncio.to_thread(exchange_server.requests)
    result = await probe_ews(probe_of(box, box.credentials()), allow=())
    assert result.verdict is ProbeVerdict.FORBIDDEN_ADDRESS
    assert await asyncio.to_thread(exchange_server.requests) == before


async def test_nothing_listening_is_unreachable(box: Box) -> None:
    request = ProbeRequest(
        server_url="http://127.0.0.1:9/EWS/Exchange.asmx", credentials=box.credentials()
    )
    result = await probe_ews(request, ("127.0.0.1:9",))
    assert result.verdict is ProbeVerdict.UNREACHABLE


async def test_a_login_that_is_not_an_address_needs_the_mailbox(box: Box) -> None:
    login = Credentials(kind="basic", username="CORP\\someone", secret=PASSWORD)
    result = await probe_ews(probe_of(box, login), allowed(box))
    assert result.verdict is ProbeVerdict.WRONG_CREDENTIALS
    assert "mailbox" in result.message


# --- writing ------------------------------------------------------------------------------------


async def test_our_notifier_inviting_means_exchange_mails_no_one(
    exchange_server: LocalExchangeServer, box: Box, calendar: EwsCalendar
) -> None:
    await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    mailed = await asyncio.to_thread(exchange_server.mailed)
    assert [m for m in mailed if m["from"] == box.email] == []


async def test_exchange_inviting_mails_the_guests_once(
    exchange_server: LocalExchangeServer, box: Box, calendar: EwsCalendar
) -> None:
    m = meeting()
    event = OutboundEvent(m, notifier_sends_invitations=False)
    written = await calendar.create(box.calendar_id, event)
    await calendar.create(box.calendar_id, event)  # a retry: the same item, no second mail
    await calendar.delete(box.calendar_id, written.external_id, None, notify_guests=True)
    mailed = await asyncio.to_thread(exchange_server.mailed)
    assert [(x["to"], x["kind"]) for x in mailed if x["from"] == box.email] == [
        ("ann@example.com", "invitation"),
        ("ann@example.com", "cancellation"),
    ]


async def test_a_deleted_meeting_can_be_restored_from_deleted_items(
    exchange_server: LocalExchangeServer, box: Box, calendar: EwsCalendar
) -> None:
    """And nobody hears of it: the notifier, not Exchange, tells this connection's guests."""
    written = await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    await calendar.delete(box.calendar_id, written.external_id, written.version_tag)
    assert await calendar.fetch(box.calendar_id, written.external_id) is None
    mailed = await asyncio.to_thread(exchange_server.mailed)
    assert [m for m in mailed if m["from"] == box.email] == []

    def in_deleted_items() -> list[str]:
        with_login = Mailbox(box.ews_url, box.credentials())
        try:
            return [i.subject for i in with_login.account.trash.all()]
        finally:
            with_login.close()

    assert await asyncio.to_thread(in_deleted_items) == ["Budget"]


async def test_a_crm_edit_keeps_guests_answers_and_booked_rooms(
    box: Box, calendar: EwsCalendar
) -> None:
    m = meeting()
    written = await calendar.create(box.calendar_id, OutboundEvent(m))

    def answered_with_room() -> None:
        outlook = Mailbox(box.ews_url, box.credentials())
        try:
            (item,) = outlook.account.fetch(ids=[(written.external_id, None)])
            item.required_attendees[0].response_type = "Accept"
            item.resources = [
                exchangelib.Attendee(
                    mailbox=exchangelib.Mailbox(email_address="room4@corp.test"),
                    response_type="Accept",
                )
            ]
            item.save(update_fields=["required_attendees", "resources"])
        finally:
            outlook.close()

    await asyncio.to_thread(answered_with_room)
    current = await calendar.fetch(box.calendar_id, written.external_id)
    assert current is not None
    renamed = m.model_copy(update={"version": 2, "subject": "Budget, final"})
    await calendar.update(
        box.calendar_id, written.external_id, OutboundEvent(renamed), current.version_tag
    )
    after = await calendar.fetch(box.calendar_id, written.external_id)
    assert after is not None
    assert after.fields is not None
    assert after.fields.subject == "Budget, final"
    assert [(a.email, a.response) for a in after.fields.attendees] == [
        ("ann@example.com", "accepted")
    ]

    def rooms() -> list[str]:
        outlook = Mailbox(box.ews_url, box.credentials())
        try:
            (item,) = outlook.account.fetch(ids=[(written.external_id, None)])
            return [r.mailbox.email_address for r in item.resources or []]
        finally:
            outlook.close()

    assert await asyncio.to_thread(rooms) == ["room4@corp.test"]


# --- failures -----------------------------------------------------------------------------------


async def test_throttling_pauses_with_exchanges_back_off(
    exchange_server: LocalExchangeServer, box: Box, calendar: EwsCalendar
) -> None:
    await asyncio.to_thread(exchange_server.fail_next, box.email, 1, 4000)
    with pytest.raises(TemporaryError) as busy:
        await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    assert busy.value.retry_after_seconds == pytest.approx(4.0)
    await calendar.create(box.calendar_id, OutboundEvent(meeting()))  # then it works


async def test_a_password_changed_meanwhile_asks_the_user_to_reconnect(
    exchange_server: LocalExchangeServer, box: Box, calendar: EwsCalendar
) -> None:
    await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    await asyncio.to_thread(exchange_server.set_password, box.email, "changed")
    with pytest.raises(AuthError):
        await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    again = Mailbox(box.ews_url, box.credentials("changed"))
    try:
        await EwsCalendar(again).create(box.calendar_id, OutboundEvent(meeting()))
    finally:
        again.close()


async def test_an_idle_pass_is_one_request(exchange_server: LocalExchangeServer, box: Box) -> None:
    """Each pass opens its own mailbox (as the service does): no root folder fetched, no second
    authentication round."""
    first = Mailbox(box.ews_url, box.credentials())
    listing = await EwsCalendar(first).list_window(box.calendar_id, WINDOW, {})
    first.close()
    assert listing.cursor is not None
    again = Mailbox(box.ews_url, box.credentials())
    before = await asyncio.to_thread(exchange_server.requests)
    idle = await EwsCalendar(again).changes_since(box.calendar_id, listing.cursor)
    again.close()
    assert (idle.changed, idle.deleted) == ([], [])
    assert await asyncio.to_thread(exchange_server.requests) - before == 1


# --- review: one bad meeting, zones, secrets, redirects -------------------------------------------


async def test_a_subject_exchange_cannot_hold_refuses_that_meeting_only(
    box: Box, calendar: EwsCalendar
) -> None:
    """The CRM takes subjects of 500 characters, Exchange (and exchangelib) 255: the meeting is
    refused (recorded, the rest syncs), not an exception that stops the connection's pass."""
    with pytest.raises(ItemRefused):
        await calendar.create(box.calendar_id, OutboundEvent(meeting(subject="x" * 300)))
    written = await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    with pytest.raises(ItemRefused):
        await calendar.update(
            box.calendar_id,
            written.external_id,
            OutboundEvent(meeting(subject="y" * 300)),
            written.version_tag,
        )


async def test_an_item_exchange_refuses_to_save_is_refused_alone(
    box: Box, calendar: EwsCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exchange's per-item refusals (an occurrence moved past its neighbours, …) are
    ItemRefused: a ProviderError would keep the change pending and fail every pass."""
    m = meeting()
    written = await calendar.create(box.calendar_id, OutboundEvent(m))

    def crossing(*_: object, **__: object) -> None:
        raise ErrorOccurrenceCrossingBoundary("the occurrence would cross its neighbour")

    monkeypatch.setattr(exchangelib.CalendarItem, "save", crossing)
    later = m.time.model_copy(update={"start": START + timedelta(days=9)})
    later = later.model_copy(update={"end": later.start + timedelta(hours=1)})
    moved = m.model_copy(update={"version": 2, "time": later})
    with pytest.raises(ItemRefused):
        await calendar.update(
            box.calendar_id, written.external_id, OutboundEvent(moved), written.version_tag
        )


async def test_one_item_exchange_cannot_read_does_not_stop_the_listing(
    box: Box, calendar: EwsCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GetItem batch fails as a whole when Exchange answers one item with an error
    exchangelib raises (ErrorInternalServerError on a damaged item): that item alone is
    reported unreadable, the others arrive."""
    good = await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    bad = await calendar.create(box.calendar_id, OutboundEvent(meeting(subject="Damaged")))
    real_fetch = calendar.account.fetch

    def fetch(ids: list[tuple[str, None]], **kwargs: object) -> object:
        if any(i == bad.external_id for i, _ in ids):
            raise ErrorInternalServerError("An internal server error occurred.")
        return real_fetch(ids=ids, **kwargs)

    monkeypatch.setattr(calendar.account, "fetch", fetch)
    listing = await calendar.list_window(box.calendar_id, WINDOW, {})
    by_id = {item.external_id: item for item in listing.items}
    assert by_id[good.external_id].fields is not None
    assert by_id[bad.external_id].fields is None
    assert by_id[bad.external_id].error


async def test_a_zone_changed_in_the_crm_stays_changed(box: Box, calendar: EwsCalendar) -> None:
    """Exchange's Windows zone follows the meeting's zone; else the next read brings the old
    zone back to the CRM (Outlook's zone wins over the kept IANA zone) and the edit is lost."""
    m = meeting()
    written = await calendar.create(box.calendar_id, OutboundEvent(m))
    span = TimedSpan(start=m.time.start, end=m.time.end, timezone="America/New_York")
    moved = m.model_copy(update={"version": 2, "time": span})
    await calendar.update(
        box.calendar_id, written.external_id, OutboundEvent(moved), written.version_tag
    )
    after = await calendar.fetch(box.calendar_id, written.external_id)
    assert after is not None
    assert after.fields is not None
    assert after.fields.time == span


async def test_debug_logs_never_carry_the_password(
    box: Box, calendar: EwsCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    """exchangelib logs each request's headers at DEBUG, Basic authentication's among them."""
    caplog.set_level(logging.DEBUG)
    await calendar.create(box.calendar_id, OutboundEvent(meeting()))
    basic = base64.b64encode(f"{box.email}:{PASSWORD}".encode()).decode()
    assert basic not in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_redirect_to_an_internal_address_is_not_followed(box: Box) -> None:
    """The SSRF guard checks the address given; exchangelib must not follow a 302 elsewhere."""
    hits: list[str] = []

    class Canary(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None  # quiet

    canary = ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    target = f"http://127.0.0.1:{canary.server_address[1]}/EWS/Exchange.asmx"

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None  # quiet

    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for server in (canary, redirecting):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = redirecting.server_address[1]
        request = ProbeRequest(
            server_url=f"http://127.0.0.1:{port}/EWS/Exchange.asmx", credentials=box.credentials()
        )
        result = await probe_ews(request, (f"127.0.0.1:{port}",))
    finally:
        for server in (canary, redirecting):
            server.shutdown()
            server.server_close()
    assert result.verdict is not ProbeVerdict.OK
    assert hits == []


async def test_a_busy_exchange_at_the_connection_test_is_not_called_something_else(
    exchange_server: LocalExchangeServer, box: Box
) -> None:
    await asyncio.to_thread(exchange_server.fail_next, box.email, 1, 4000)
    result = await probe_ews(probe_of(box, box.credentials()), allowed(box))
    assert result.verdict is ProbeVerdict.UNREACHABLE
    assert "busy" in result.message


async def test_an_all_day_meeting_runs_midnight_to_midnight_in_the_users_zone(
    box: Box, calendar: EwsCalendar
) -> None:
    """Written in UTC, Outlook in Berlin would show it from 01:00 to 01:00 the next day."""
    day = (START + timedelta(days=3)).date()
    m = meeting(time=AllDaySpan(start_date=day, end_date=day + timedelta(days=1)))
    written = await calendar.create(box.calendar_id, OutboundEvent(m, all_day_zone="Europe/Berlin"))

    def stored_zone() -> str:
        outlook = Mailbox(box.ews_url, box.credentials())
        try:
            (item,) = outlook.account.fetch(ids=[(written.external_id, None)])
            return str(item._start_timezone.ms_id)
        finally:
            outlook.close()

    zone = await asyncio.to_thread(stored_zone)
    assert zone == "W. Europe Standard Time"
    again = await calendar.fetch(box.calendar_id, written.external_id)
    assert again is not None
    assert again.fields is not None
    assert again.fields.time == m.time


# --- a mass import arrives over several passes ---------------------------------------------------


async def in_outlook(box: Box, act: Callable[[exchangelib.Account], T]) -> T:
    """What the user does in Outlook: their own login, in a worker thread."""

    def run() -> T:
        outlook = Mailbox(box.ews_url, box.credentials())
        try:
            return act(outlook.account)
        finally:
            outlook.close()

    return await asyncio.to_thread(run)


def imported(box: Box, count: int) -> Callable[[exchangelib.Account], list[str]]:
    """An import of ``count`` meetings into the calendar: their ids, in import order."""

    def act(account: exchangelib.Account) -> list[str]:
        folder = CalendarFolder(root=Root(account=account), id=box.calendar_id)
        items = [
            exchangelib.CalendarItem(
                subject=f"Imported {n}",
                start=exchangelib.EWSDateTime.from_datetime(START + timedelta(minutes=30 * n)),
                end=exchangelib.EWSDateTime.from_datetime(START + timedelta(minutes=30 * n + 15)),
            )
            for n in range(count)
        ]
        return [str(made.id) for made in account.bulk_create(folder=folder, items=items)]

    return act


def deleted_in_outlook(item_id: str) -> Callable[[exchangelib.Account], None]:
    def act(account: exchangelib.Account) -> None:
        account.bulk_delete(ids=[(item_id, None)], delete_type=HARD_DELETE)

    return act


async def test_a_mass_import_arrives_over_several_bounded_passes(
    exchange_server: LocalExchangeServer, box: Box
) -> None:
    """Each pass names at most ``pages`` pages of created or updated items and ends at
    Exchange's state of that moment: the next one goes on from it, nothing lost, nothing twice."""
    mailbox = Mailbox(box.ews_url, box.credentials())
    calendar = EwsCalendar(mailbox, pages=2)  # at most 2 pages of 512 a pass
    try:
        start = await calendar.list_window(box.calendar_id, WINDOW, {})
        assert start.cursor is not None
        made = await in_outlook(box, imported(box, 1200))

        first = await calendar.changes_since(box.calendar_id, start.cursor)
        assert len(first.changed) == 2 * PAGE
        assert first.deleted == []
        assert first.cursor is not None
        assert first.cursor not in (start.cursor, None)

        # Deleted in Outlook after the first pass brought it: the next pass says so.
        gone = first.changed[0].external_id
        await in_outlook(box, deleted_in_outlook(gone))
        second = await calendar.changes_since(box.calendar_id, first.cursor)
        assert len(second.changed) == 1200 - 2 * PAGE
        assert second.deleted == [gone]
        assert second.cursor is not None

        brought = [i.external_id for i in first.changed + second.changed]
        assert len(brought) == len(set(brought)) == 1200
        assert set(brought) == set(made)
        assert all(i.fields is not None for i in first.changed + second.changed)

        before = await asyncio.to_thread(exchange_server.requests)
        idle = await calendar.changes_since(box.calendar_id, second.cursor)
        assert (idle.changed, idle.deleted) == ([], [])
        assert await asyncio.to_thread(exchange_server.requests) - before == 1
    finally:
        mailbox.close()


async def test_an_item_made_and_deleted_within_one_pass_ends_deleted(
    box: Box, calendar: EwsCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made before the pass, it comes on the pass's first page; deleted in Outlook while the
    pass reads on (between its SyncFolderItems calls), it comes again as deleted on the next:
    the last word wins, so it is not read and is reported deleted."""
    start = await calendar.list_window(box.calendar_id, WINDOW, {})
    assert start.cursor is not None
    state = start.cursor.removeprefix("sync:")
    made = await in_outlook(box, imported(box, 5))
    calls = 0
    real_call = SyncFolderItems.call

    def call(service: SyncFolderItems, **kwargs: Any) -> Iterator[Any]:
        nonlocal calls
        calls += 1
        if calls == 2:  # after the first page, before the second
            outlook = Mailbox(box.ews_url, box.credentials())
            try:
                deleted_in_outlook(made[0])(outlook.account)
            finally:
                outlook.close()
        yield from real_call(service, **kwargs)

    monkeypatch.setattr(SyncFolderItems, "call", call)

    def in_one_pass() -> Changes:
        return folder_changes(
            calendar.account,
            CalendarFolder(root=Root(account=calendar.account), id=box.calendar_id),
            state,
            pages=4,
            page=3,
        )

    found = await asyncio.to_thread(in_one_pass)
    assert calls == 2  # 3 creates, then the other 2 and the delete
    assert found.complete
    assert found.changed == made[1:]
    assert found.deleted == [made[0]]


async def test_a_mass_delete_arrives_in_one_pass_for_the_engine_to_check(
    box: Box,
) -> None:
    """Deletions cost only ids: split over passes, none would look like "everything deleted",
    and the engine would delete in the CRM without confirming with a full listing."""
    mailbox = Mailbox(box.ews_url, box.credentials())
    calendar = EwsCalendar(mailbox, pages=1)  # at most 512 created or updated a pass
    try:
        made = await in_outlook(box, imported(box, 700))
        start = await calendar.list_window(box.calendar_id, WINDOW, {})
        assert start.cursor is not None

        def all_deleted(account: exchangelib.Account) -> None:
            account.bulk_delete(ids=[(i, None) for i in made], delete_type=HARD_DELETE)

        await in_outlook(box, all_deleted)
        batch = await calendar.changes_since(box.calendar_id, start.cursor)
        assert batch.changed == []
        assert sorted(batch.deleted) == sorted(made)
    finally:
        mailbox.close()
