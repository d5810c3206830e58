"""Push notifications from the EWS stand-in, as the real ``exchangelib`` makes and reads them: a
push subscription made with ``subscribe_to_push``, a small HTTP receiver here standing for the
client's web service (it answers with exchangelib's ``SendNotificationResult`` payloads), and
every notification parsed by exchangelib's ``SendNotification``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from exchangelib import (
    IMPERSONATION,
    UTC,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDate,
    EWSDateTime,
    Version,
)
from exchangelib.errors import (
    ErrorInvalidPushSubscriptionUrl,
    ErrorInvalidWatermark,
    ErrorSchemaValidation,
)
from exchangelib.fields import MONDAY
from exchangelib.folders import Calendar
from exchangelib.properties import (
    CreatedEvent,
    DeletedEvent,
    Event,
    ModifiedEvent,
    MovedEvent,
    Notification,
    StatusEvent,
)
from exchangelib.recurrence import Recurrence, WeeklyPattern
from exchangelib.services import SendNotification

from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.ews.notifier import PushNotifier
from calsync_localinfra.ews.store import ExchangeState
from calsync_localinfra.ports import LOCALHOST, free_port

pytestmark = pytest.mark.integration

ALICE, BOB, SERVICE = "alice@contoso.test", "bob@contoso.test", "svc-push@contoso.test"
PASSWORD = "Passw0rd!"
VERSION = Version(build=Build(15, 1, 2507, 6))
EVENTS = ["CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent"]
NO_MAILS = {"send_meeting_invitations": "SendToNone"}
WAIT = 5.0


class Receiver:
    """A push client's web service: records every POST by the last segment of its path and
    answers OK, Unsubscribe (paths in ``unsubscribing``) or HTTP 500 (paths in ``failing``)."""

    def __init__(self) -> None:
        self.received: dict[str, list[bytes]] = {}
        self.unsubscribing: set[str] = set()
        self.failing: set[str] = set()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, payload = receiver.answer(urlsplit(self.path).path, body)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        """A callback address with a query, as sync-exchange gives one."""
        return f"http://{LOCALHOST}:{self.server.server_address[1]}/push/{name}?channel={name}"

    def answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        name = path.rsplit("/", 1)[-1]
        with self._changed:
            self.received.setdefault(name, []).append(body)
            self._changed.notify_all()
        if name in self.failing:
            return 500, b""
        service = SendNotification(protocol=None)
        unsubscribe = name in self.unsubscribing
        return 200, service.unsubscribe_payload() if unsubscribe else service.ok_payload()

    def bodies(self, name: str) -> list[bytes]:
        with self._changed:
            return list(self.received.get(name, []))

    def wait(self, name: str, done: Callable[[list[bytes]], bool]) -> list[bytes]:
        with self._changed:
            if not self._changed.wait_for(lambda: done(self.received.get(name, [])), WAIT):
                raise AssertionError(f"{name}: got {len(self.received.get(name, []))} bodies")
            return list(self.received[name])

    def wait_for_events(self, name: str, count: int) -> list[Event]:
        """At least ``count`` events (status events aside) arrived at ``name``."""
        self.wait(name, lambda bodies: len(changes(bodies)) >= count)
        return changes(self.bodies(name))

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def parsed(body: bytes) -> Notification:
    [notification] = list(SendNotification(protocol=None).parse(body))
    assert isinstance(notification, Notification)
    return notification


def changes(bodies: list[bytes]) -> list[Event]:
    return [e for n in carrying_changes(bodies) for e in n.events]


def carrying_changes(bodies: list[bytes]) -> list[Notification]:
    """The notifications of changes (status pings of other tests left aside)."""
    found = [parsed(b) for b in bodies]
    return [n for n in found if not any(isinstance(e, StatusEvent) for e in n.events)]


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalExchangeServer]:
    base = tmp_path_factory.mktemp("ews-push")
    with LocalExchangeServer(base, accounts={ALICE: PASSWORD}) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def account(server: LocalExchangeServer, email: str, login: str, access: str) -> Account:
    config = Configuration(
        service_endpoint=server.ews_url,
        credentials=Credentials(login, PASSWORD),
        auth_type=None,
        version=VERSION,
    )
    return Account(
        primary_smtp_address=email,
        config=config,
        autodiscover=False,
        access_type=access,
        default_timezone=UTC,
    )


@pytest.fixture
def alice(exchange: LocalExchangeServer) -> Iterator[Account]:
    a = account(exchange, ALICE, ALICE, "delegate")
    yield a
    a.protocol.close()


def calendar(exchange: LocalExchangeServer, a: Account, name: str) -> Calendar:
    return Calendar(root=a.root, id=exchange.add_calendar(a.primary_smtp_address, name))


def meeting(folder: Calendar, a: Account, subject: str, **fields: object) -> CalendarItem:
    start = EWSDateTime(2030, 6, 3, 9, 0, tzinfo=UTC)
    item = CalendarItem(
        folder=folder,
        account=a,
        subject=subject,
        start=start,
        end=start.replace(hour=10),
        **fields,
    )
    item.save(**NO_MAILS)
    return item


def subscribed(receiver: Receiver, folder: Calendar, name: str) -> tuple[str, str]:
    subscription_id, watermark = folder.subscribe_to_push(
        callback_url=receiver.url(name), event_types=EVENTS, status_frequency=30
    )
    return str(subscription_id), str(watermark)


def listed(exchange: LocalExchangeServer, subscription_id: str) -> dict[str, object]:
    [found] = [s for s in exchange.subscriptions() if s["id"] == subscription_id]
    return found


def ended(exchange: LocalExchangeServer, subscription_id: str) -> dict[str, object]:
    deadline = time.monotonic() + WAIT
    while (found := listed(exchange, subscription_id))["alive"]:
        assert time.monotonic() < deadline, f"{subscription_id} still alive"
        time.sleep(0.05)
    return found


# --- subscribing --------------------------------------------------------------------------------


def test_subscribe_answers_an_id_and_a_watermark(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Subscribed")
    subscription_id, watermark = folder.subscribe_to_push(
        callback_url=receiver.url("subscribed"), event_types=EVENTS, status_frequency=5
    )
    assert subscription_id
    assert watermark
    assert listed(exchange, subscription_id) == {
        "id": subscription_id,
        "mailbox": ALICE,
        "folder_ids": [folder.id],
        "event_types": sorted(EVENTS),
        "url": receiver.url("subscribed"),
        "status_frequency": 5,
        "alive": True,
        "ended": None,
    }
    assert receiver.bodies("subscribed") == []  # nothing happened, nothing is sent


def test_bad_subscriptions_are_refused(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Refused")
    url = receiver.url("refused")
    with pytest.raises(ErrorSchemaValidation):
        folder.subscribe_to_push(callback_url=url, status_frequency=0)
    with pytest.raises(ErrorSchemaValidation):
        folder.subscribe_to_push(callback_url=url, status_frequency=1441)
    with pytest.raises(ErrorInvalidPushSubscriptionUrl):
        folder.subscribe_to_push(callback_url="not a url", status_frequency=1)
    with pytest.raises(ErrorInvalidWatermark):
        folder.subscribe_to_push(callback_url=url, watermark="bm90IGEgd2F0ZXJtYXJr")


async def test_an_idle_subscription_hears_a_status_event_every_status_frequency(
    receiver: Receiver,
) -> None:
    """In process, a StatusFrequency minute made 50 ms long: StatusFrequency 2 is a status
    notification every 0.1 s while nothing happens."""
    state = ExchangeState()
    folder = state.add_account(ALICE, PASSWORD)
    with state.locked():
        _, watermark = state.events.subscribe(
            ALICE, frozenset({folder.id}), frozenset(EVENTS), receiver.url("idle"), 2
        )
    notifier = PushNotifier(state, minute=0.05)
    await notifier.start()
    try:
        started = time.monotonic()
        bodies = await asyncio.to_thread(receiver.wait, "idle", lambda found: len(found) >= 2)
        waited = time.monotonic() - started
    finally:
        await notifier.aclose()
    first, second = (parsed(b) for b in bodies[:2])
    assert [type(e) for e in first.events + second.events] == [StatusEvent, StatusEvent]
    assert first.previous_watermark == watermark
    assert waited >= 0.15


# --- what is pushed -----------------------------------------------------------------------------


def test_changes_are_pushed_as_exchangelib_reads_them(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Pushed")
    subscription_id, watermark = subscribed(receiver, folder, "pushed")
    item = meeting(folder, alice, "Kick-off")
    [created] = receiver.wait_for_events("pushed", 1)
    [first] = carrying_changes(receiver.bodies("pushed"))
    assert (first.subscription_id, first.previous_watermark) == (subscription_id, watermark)
    assert first.more_events is False
    assert isinstance(created, CreatedEvent)
    assert (created.item_id.id, created.item_id.changekey) == (item.id, item.changekey)
    assert created.parent_folder_id.id == folder.id
    assert created.watermark not in {None, watermark}
    assert abs((created.timestamp - EWSDateTime.now(tz=UTC)).total_seconds()) < 60

    item.subject = "Kick-off (moved)"
    item.save(update_fields=["subject"], **NO_MAILS)
    modified = receiver.wait_for_events("pushed", 2)[1]
    assert isinstance(modified, ModifiedEvent)
    assert (modified.item_id.id, modified.item_id.changekey) == (item.id, item.changekey)
    second = carrying_changes(receiver.bodies("pushed"))[1]
    assert second.previous_watermark == created.watermark  # each picks up where the last ended

    old_id = item.id
    item.move_to_trash()
    moved = receiver.wait_for_events("pushed", 3)[2]
    assert isinstance(moved, MovedEvent)
    assert (moved.old_item_id.id, moved.old_parent_folder_id.id) == (old_id, folder.id)
    assert moved.parent_folder_id.id == alice.trash.id
    assert moved.item_id.id != old_id

    gone = meeting(folder, alice, "Cancelled")
    gone_id = gone.id
    gone.delete()
    kinds = [(type(e), e.item_id.id) for e in receiver.wait_for_events("pushed", 5)[3:]]
    assert kinds == [(CreatedEvent, gone_id), (DeletedEvent, gone_id)]
    assert listed(exchange, subscription_id)["alive"] is True


def test_an_occurrence_edit_is_its_master_modified(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Series")
    start = EWSDateTime(2030, 3, 4, 9, 0, tzinfo=UTC)
    master = CalendarItem(
        folder=folder,
        account=alice,
        subject="Stand-up",
        start=start,
        end=start.replace(minute=30),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[MONDAY]),
            start=EWSDate(2030, 3, 4),
            number=4,
        ),
    )
    master.save(**NO_MAILS)
    subscribed(receiver, folder, "series")
    second = master.occurrence(2)
    second.refresh()
    second.subject = "Stand-up (exception)"
    second.save(update_fields=["subject"], **NO_MAILS)
    [modified] = receiver.wait_for_events("series", 1)
    assert isinstance(modified, ModifiedEvent)
    assert modified.item_id.id == master.id
    master.occurrence(3).delete(send_meeting_cancellations="SendToNone")
    deleted_one = receiver.wait_for_events("series", 2)[1]
    assert (type(deleted_one), deleted_one.item_id.id) == (ModifiedEvent, master.id)


def test_a_change_in_another_folder_is_not_pushed(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    watched, other = calendar(exchange, alice, "Watched"), calendar(exchange, alice, "Other")
    subscription_id, watermark = subscribed(receiver, watched, "watched")
    meeting(other, alice, "elsewhere")
    assert exchange.ping_subscriptions() >= 1
    [body] = receiver.wait("watched", lambda bodies: len(bodies) >= 1)
    ping = parsed(body)
    [status] = ping.events
    assert isinstance(status, StatusEvent)  # the ping found nothing pending here
    assert (ping.subscription_id, ping.previous_watermark) == (subscription_id, watermark)
    assert status.watermark


def test_a_status_ping_on_demand(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Pinged")
    subscription_id, watermark = subscribed(receiver, folder, "pinged")
    exchange.ping_subscriptions()
    [body] = receiver.wait("pinged", lambda bodies: len(bodies) >= 1)
    notification = parsed(body)
    assert notification.subscription_id == subscription_id
    assert notification.previous_watermark == watermark
    assert notification.more_events is False
    assert [type(e) for e in notification.events] == [StatusEvent]
    assert listed(exchange, subscription_id)["alive"] is True


def test_a_watermark_replays_what_came_after_it(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Replayed")
    _, watermark = subscribed(receiver, folder, "first-look")
    item = meeting(folder, alice, "missed")
    receiver.wait_for_events("first-look", 1)
    folder.subscribe_to_push(
        callback_url=receiver.url("replayed"), event_types=EVENTS, watermark=watermark
    )
    [created] = receiver.wait_for_events("replayed", 1)
    assert (type(created), created.item_id.id) == (CreatedEvent, item.id)


# --- how a subscription ends --------------------------------------------------------------------


def test_unsubscribe_ends_the_subscription(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Unsubscribed")
    receiver.unsubscribing.add("unsubscribing")
    subscription_id, _ = subscribed(receiver, folder, "unsubscribing")
    subscribed(receiver, folder, "control")
    meeting(folder, alice, "first")
    receiver.wait_for_events("unsubscribing", 1)
    assert ended(exchange, subscription_id)["ended"] == "Unsubscribe"
    meeting(folder, alice, "second")
    exchange.ping_subscriptions()
    receiver.wait_for_events("control", 2)  # the other subscription of the folder heard it
    time.sleep(0.3)
    assert len(receiver.bodies("unsubscribing")) == 1


def test_an_unreachable_url_ends_the_subscription(
    exchange: LocalExchangeServer, alice: Account, receiver: Receiver
) -> None:
    folder = calendar(exchange, alice, "Unreachable")
    nobody = f"http://{LOCALHOST}:{free_port()}/push"
    subscription_id, _ = folder.subscribe_to_push(callback_url=nobody, event_types=EVENTS)
    receiver.failing.add("failing")
    failing_id, _ = subscribed(receiver, folder, "failing")
    meeting(folder, alice, "unheard")
    assert ended(exchange, subscription_id)["ended"] == "unreachable"
    assert ended(exchange, failing_id)["ended"] == "unreachable"
    assert len(receiver.bodies("failing")) == 3  # tried three times, then given up
    meeting(folder, alice, "after the end")
    exchange.ping_subscriptions()
    time.sleep(0.3)
    assert len(receiver.bodies("failing")) == 3


# --- impersonation ------------------------------------------------------------------------------


def test_a_service_account_subscribes_for_a_mailbox(
    exchange: LocalExchangeServer, receiver: Receiver
) -> None:
    exchange.add_account(BOB, PASSWORD)
    exchange.add_service_account(SERVICE, PASSWORD)
    exchange.grant_impersonation(SERVICE, BOB)
    as_bob = account(exchange, BOB, SERVICE, IMPERSONATION)
    subscription_id, _ = subscribed(receiver, as_bob.calendar, "impersonated")
    assert listed(exchange, subscription_id)["mailbox"] == BOB
    item = meeting(as_bob.calendar, as_bob, "for Bob")
    [created] = receiver.wait_for_events("impersonated", 1)
    assert (type(created), created.item_id.id) == (CreatedEvent, item.id)
    as_bob.protocol.close()
