"""The EWS stand-in answers the real ``exchangelib`` as Exchange would: it is driven here only
through exchangelib's public API (plus the stand-in's backdoor for setup and observation)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    DEEP,
    DELEGATE,
    IMPERSONATION,
    UTC,
    Account,
    Attendee,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDate,
    EWSDateTime,
    ExtendedProperty,
    FolderCollection,
    HTMLBody,
    Mailbox,
    Version,
)
from exchangelib.errors import (
    ErrorImpersonateUserDenied,
    ErrorInvalidSyncStateData,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
    ErrorServerBusy,
    UnauthorizedError,
)
from exchangelib.folders import Calendar

from calsync_localinfra.ews import LocalExchangeServer

pytestmark = pytest.mark.integration

ALICE, BOB, SERVICE = "alice@contoso.test", "bob@contoso.test", "svc-crm@contoso.test"
PASSWORD = "Passw0rd!"
VERSION = Version(build=Build(15, 1, 2507, 6))


class CrmMeetingId(ExtendedProperty):
    distinguished_property_set_id = "PublicStrings"
    property_name = "CrmMeetingId"
    property_type = "String"


@pytest.fixture(scope="module", autouse=True)
def standin_meeting_id() -> Iterator[None]:
    CalendarItem.register("standin_meeting_id", CrmMeetingId)
    yield
    CalendarItem.deregister("standin_meeting_id")


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalExchangeServer]:
    with LocalExchangeServer(tmp_path_factory.mktemp("ews"), accounts={ALICE: PASSWORD}) as server:
        yield server


def account(
    server: LocalExchangeServer,
    email: str = ALICE,
    login: str | None = None,
    password: str = PASSWORD,
    access_type: str = DELEGATE,
    version: Version | None = VERSION,
) -> Account:
    config = Configuration(
        service_endpoint=server.ews_url,
        credentials=Credentials(login or email, password),
        auth_type=None,
        version=version,
    )
    return Account(
        primary_smtp_address=email,
        config=config,
        autodiscover=False,
        access_type=access_type,
        default_timezone=UTC,
    )


@pytest.fixture
def alice(exchange: LocalExchangeServer) -> Iterator[Account]:
    a = account(exchange)
    yield a
    a.protocol.close()


def at(hour: int, day: int = 3) -> EWSDateTime:
    return EWSDateTime(2030, 6, day, hour, 0, tzinfo=UTC)


def meeting(folder: Calendar, a: Account, subject: str, **fields: object) -> CalendarItem:
    item = CalendarItem(
        folder=folder, account=a, subject=subject, start=at(9), end=at(10), **fields
    )
    item.save(send_meeting_invitations="SendToNone")
    return item


# --- signing in and folders ---------------------------------------------------------------------


def test_a_wrong_password_is_unauthorised(exchange: LocalExchangeServer) -> None:
    wrong = account(exchange, password="wrong")
    with pytest.raises(UnauthorizedError):
        _ = wrong.calendar
    wrong.protocol.close()


def test_version_and_auth_type_are_guessed(exchange: LocalExchangeServer) -> None:
    guessed = account(exchange, version=None)
    assert guessed.version.build.major_version == 15
    assert guessed.protocol.auth_type == "basic"
    assert guessed.calendar.name == "Calendar"
    guessed.protocol.close()


def test_root_calendar_and_subcalendars(exchange: LocalExchangeServer, alice: Account) -> None:
    sub_id = exchange.add_calendar(ALICE, "CRM meetings")
    assert alice.root.id
    calendar = alice.calendar
    assert (calendar.name, calendar.folder_class) == ("Calendar", "IPF.Appointment")
    found = list(FolderCollection(account=alice, folders=[calendar]).find_folders(depth=DEEP))
    assert sub_id in [f.id for f in found]
    assert all(isinstance(f, Calendar) for f in found)
    opened = Calendar(root=alice.root, id=sub_id)
    meeting(opened, alice, "in the sub-calendar")
    assert [i.subject for i in opened.all()] == ["in the sub-calendar"]


# --- items --------------------------------------------------------------------------------------


def test_create_and_fetch_a_meeting(exchange: LocalExchangeServer, alice: Account) -> None:
    item = CalendarItem(
        folder=alice.calendar,
        account=alice,
        subject="Quarterly review",
        body=HTMLBody("<p>Agenda</p>"),
        start=at(14),
        end=at(15),
        location="Room 4",
        required_attendees=[
            Attendee(mailbox=Mailbox(email_address="carol@example.test"), response_type="Unknown")
        ],
        uid="crm-meeting-1@crm.test",
        sensitivity="Private",
        standin_meeting_id="M-1",
    )
    item.save(send_meeting_invitations="SendToAllAndSaveCopy")
    assert item.id
    assert item.changekey
    [fetched] = alice.fetch(ids=[(item.id, item.changekey)])
    assert fetched.subject == "Quarterly review"
    assert fetched.body == "<p>Agenda</p>"
    assert (fetched.start, fetched.end) == (at(14), at(15))
    assert fetched.uid == "crm-meeting-1@crm.test"
    assert fetched.standin_meeting_id == "M-1"
    assert fetched.sensitivity == "Private"
    assert fetched.organizer.email_address == ALICE
    assert fetched.my_response_type == "Organizer"
    assert fetched.type == "Single"
    assert fetched.is_meeting is True
    assert fetched.required_attendees[0].mailbox.email_address == "carol@example.test"
    invitation = {"to": "carol@example.test", "subject": "Quarterly review", "kind": "invitation"}
    assert invitation.items() <= exchange.mailed()[-1].items()


def test_an_all_day_item_keeps_its_dates(alice: Account) -> None:
    item = CalendarItem(
        folder=alice.calendar,
        account=alice,
        subject="Offsite",
        start=EWSDate(2030, 7, 1),
        end=EWSDate(2030, 7, 2),
        is_all_day=True,
    )
    item.save(send_meeting_invitations="SendToNone")
    [fetched] = alice.fetch(ids=[item])
    assert fetched.is_all_day is True
    assert (fetched.start, fetched.end) == (EWSDate(2030, 7, 1), EWSDate(2030, 7, 2))
    assert fetched.uid  # generated by the server


def test_a_missing_item_is_an_error_per_item(alice: Account) -> None:
    kept = meeting(alice.calendar, alice, "kept")
    gone = meeting(alice.calendar, alice, "gone")
    gone_id = (gone.id, gone.changekey)
    gone.delete(send_meeting_cancellations="SendToNone")
    results = list(alice.fetch(ids=[(kept.id, kept.changekey), gone_id]))
    assert results[0].subject == "kept"
    assert isinstance(results[1], ErrorItemNotFound)


def test_update_and_conflicts(alice: Account) -> None:
    item = meeting(alice.calendar, alice, "first")
    stale = CalendarItem(account=alice, folder=alice.calendar, id=item.id, changekey=item.changekey)
    item.subject = "second"
    item.save(
        update_fields=["subject"],
        conflict_resolution="NeverOverwrite",
        send_meeting_invitations="SendToNone",
    )
    assert item.changekey != stale.changekey
    stale.subject = "third"
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(
            update_fields=["subject"],
            conflict_resolution="AutoResolve",
            send_meeting_invitations="SendToNone",
        )
    stale.location = "elsewhere"  # not changed since: AutoResolve merges it
    stale.save(
        update_fields=["location"],
        conflict_resolution="AutoResolve",
        send_meeting_invitations="SendToNone",
    )
    [fetched] = alice.fetch(ids=[item])
    assert (fetched.subject, fetched.location) == ("second", "elsewhere")


def test_delete_mails_a_cancellation(exchange: LocalExchangeServer, alice: Account) -> None:
    guest = Attendee(mailbox=Mailbox(email_address="dave@example.test"), response_type="Unknown")
    item = meeting(alice.calendar, alice, "Cancelled one", required_attendees=[guest])
    item.delete(send_meeting_cancellations="SendOnlyToAll")
    cancellation = {"to": "dave@example.test", "subject": "Cancelled one", "kind": "cancellation"}
    assert cancellation.items() <= exchange.mailed()[-1].items()


def test_find_by_the_crm_property(alice: Account) -> None:
    meeting(alice.calendar, alice, "tagged", standin_meeting_id="M-42")
    meeting(alice.calendar, alice, "other", standin_meeting_id="M-43")
    found = list(alice.calendar.filter(standin_meeting_id="M-42").only("id", "changekey"))
    assert len(found) == 1
    assert found[0].id
    by_subject = list(alice.calendar.filter(subject="other", standin_meeting_id="M-43"))
    assert [i.subject for i in by_subject] == ["other"]


# --- sync ---------------------------------------------------------------------------------------


def test_sync_reports_exactly_what_changed(exchange: LocalExchangeServer, alice: Account) -> None:
    folder = Calendar(root=alice.root, id=exchange.add_calendar(ALICE, "Sync"))
    kept, changed, deleted = (meeting(folder, alice, s) for s in ("kept", "changed", "deleted"))
    fields = ["changekey", "start", "end", "is_all_day"]
    first = list(folder.sync_items(sync_state=None, only_fields=fields))
    assert {(kind, item.id) for kind, item in first} == {
        ("create", kept.id),
        ("create", changed.id),
        ("create", deleted.id),
    }
    state = folder.item_sync_state
    changed.subject = "changed!"
    changed.save(update_fields=["subject"], send_meeting_invitations="SendToNone")
    deleted_id = deleted.id
    deleted.delete(send_meeting_cancellations="SendToNone")
    added = meeting(folder, alice, "added")
    transient = meeting(folder, alice, "transient")
    transient.delete(send_meeting_cancellations="SendToNone")
    second = list(folder.sync_items(sync_state=state, only_fields=fields))
    assert {(kind, getattr(item, "id", item)) for kind, item in second} == {
        ("update", changed.id),
        ("delete", deleted_id),
        ("create", added.id),
    }
    assert folder.item_sync_state != state


def test_sync_pages_and_refuses_a_bogus_state(
    exchange: LocalExchangeServer, alice: Account
) -> None:
    folder = Calendar(root=alice.root, id=exchange.add_calendar(ALICE, "Paged"))
    for n in range(5):
        meeting(folder, alice, f"m{n}")
    seen = list(folder.sync_items(max_changes_returned=2, only_fields=["changekey"]))
    assert len(seen) == 5  # exchangelib follows IncludesLastItemInRange=false
    with pytest.raises(ErrorInvalidSyncStateData):
        list(folder.sync_items(sync_state="bm90IGEgc3RhdGU=", only_fields=["changekey"]))


def test_a_garbage_item_is_seen(exchange: LocalExchangeServer, alice: Account) -> None:
    folder_id = exchange.add_calendar(ALICE, "Migrated")
    garbage = "<t:CalendarItem><t:Subject>no times</t:Subject></t:CalendarItem>"
    raw = exchange.put_raw(folder_id, garbage)
    folder = Calendar(root=alice.root, id=folder_id)
    [(kind, item)] = list(folder.sync_items(only_fields=["changekey", "start", "end"]))
    assert (kind, item.id, item.start, item.end) == ("create", raw["id"], None, None)
    [fetched] = alice.fetch(ids=[(raw["id"], raw["changekey"])])
    assert fetched.subject == "no times"


# --- impersonation and throttling ---------------------------------------------------------------


def test_impersonation_needs_the_role(exchange: LocalExchangeServer) -> None:
    exchange.add_account(BOB, PASSWORD)
    exchange.add_service_account(SERVICE, PASSWORD)
    as_bob = account(exchange, BOB, login=SERVICE, access_type=IMPERSONATION)
    with pytest.raises(ErrorImpersonateUserDenied):
        _ = as_bob.calendar
    exchange.grant_impersonation(SERVICE, BOB)
    meeting(as_bob.calendar, as_bob, "made by the service")
    assert [i.subject for i in as_bob.calendar.all()] == ["made by the service"]
    as_bob.protocol.close()


def test_server_busy_fails_fast(exchange: LocalExchangeServer, alice: Account) -> None:
    calendar = alice.calendar
    exchange.fail_next(ALICE, count=1, back_off_ms=2500)
    with pytest.raises(ErrorServerBusy) as raised:
        list(calendar.all())
    assert raised.value.back_off == 2.5
    assert list(calendar.all()) is not None


def test_a_changed_password_is_unauthorised(exchange: LocalExchangeServer) -> None:
    exchange.add_account("erin@contoso.test", PASSWORD)
    erin = account(exchange, "erin@contoso.test")
    assert erin.calendar.name == "Calendar"
    exchange.set_password("erin@contoso.test", "new password")
    with pytest.raises(UnauthorizedError):
        list(erin.calendar.all())
    erin.protocol.close()
    assert exchange.requests() > 0
