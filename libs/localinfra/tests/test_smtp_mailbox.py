"""The local SMTP server's mailbox reads mails in the order they arrived."""

from __future__ import annotations

from pathlib import Path

from calsync_localinfra.smtp import LocalSmtp, arrival


def test_mails_of_one_second_come_in_arrival_order_not_name_order(tmp_path: Path) -> None:
    new = tmp_path / "mail" / "new"
    for folder in ("new", "cur", "tmp"):
        (tmp_path / "mail" / folder).mkdir(parents=True)
    # Python's mailbox names: microseconds without zero-padding ("M999" is before "M1000").
    names = {"first": "1764870000.M999P7Q1.host", "second": "1764870000.M1000P7Q2.host"}
    for subject, name in names.items():
        (new / name).write_text(f"Subject: {subject}\n\nbody\n")
    assert sorted(names.values()) == [names["second"], names["first"]]  # as text: wrong
    got = [str(m["Subject"]) for m in LocalSmtp(tmp_path).messages()]
    assert got == ["first", "second"]


def test_the_counter_orders_mails_of_one_microsecond() -> None:
    assert arrival("5.M1P7Q9.h") < arrival("5.M1P7Q10.h")
