"""The formatted description: what survives sanitising, and the plain text providers get."""

from __future__ import annotations

import pytest

from crm_api.domain.rich_text import plain_text, sanitise


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("<p>Hi <script>alert(1)</script>there</p>", "<p>Hi there</p>"),
        ('<p onclick="steal()">Agenda</p>', "<p>Agenda</p>"),
        ('<a href="javascript:steal()">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ("<img src=x onerror=steal()>", ""),
        ('<p style="position:fixed">Big</p>', "<p>Big</p>"),
        (
            '<p><strong>Bold</strong> <em>it</em> <a href="https://x.test/">link</a></p>',
            '<p><strong>Bold</strong> <em>it</em> <a href="https://x.test/" '
            'rel="noopener noreferrer">link</a></p>',
        ),
    ],
)
def test_only_formatting_survives(given: str, kept: str) -> None:
    assert sanitise(given) == kept


def test_plain_text_keeps_paragraphs_items_and_links() -> None:
    html = (
        "<p>Agenda for <strong>Monday</strong>:</p>"
        "<ol><li>Prices</li><li>Contract &amp; terms</li></ol>"
        '<p>Notes: <a href="https://wiki.test/q4">Q4 plan</a><br>Bring laptops</p>'
    )
    assert plain_text(html) == (
        "Agenda for Monday:\n• Prices\n• Contract & terms\n"
        "Notes: Q4 plan (https://wiki.test/q4)\nBring laptops"
    )


def test_empty_editor_output_is_no_text() -> None:
    assert plain_text(sanitise("<p><br></p>")) == ""


def test_non_breaking_spaces_are_plain_spaces() -> None:
    assert plain_text("<p>Room&nbsp;4</p>") == "Room 4"
