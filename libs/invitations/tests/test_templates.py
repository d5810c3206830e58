"""Templates are checked on save and rendered in a sandbox: merge codes never reach a recipient
raw, and no template reaches Python internals, files or the network."""

from __future__ import annotations

import pytest
from calsync_invitations.templates import TemplateProblem, check, merge_context, render, text_of
from jinja2.exceptions import SecurityError, UndefinedError

MEETING = {"subject": "Review <b>Q1</b>", "organisations": ["Acme", "Globex"], "custom": {}}
RECIPIENT = {"name": "Ann", "email": "ann@example.com"}


def test_known_fields_loops_and_conditions_pass_and_are_listed() -> None:
    source = (
        "Dear {{ recipient.name }}, {{ meeting.subject }} {{ meeting.custom.budget }}"
        "{% for org in meeting.organisations %}{{ org }}{% if not loop.last %}, {% endif %}"
        "{% endfor %}{% set who = meeting.organiser %}{{ who }}"
    )
    assert check(source) == [
        "recipient.name",
        "meeting.subject",
        "meeting.custom.budget",
        "meeting.organisations",
        "meeting.organiser",
    ]


@pytest.mark.parametrize(
    ("source", "field", "words"),
    [
        ("{{ meeting.subjekt }}", "meeting.subjekt", "unknown merge field"),
        ("{{ meeting }}", "meeting", "unknown merge field"),
        ("{{ appointment.subject }}", "appointment.subject", "plain meeting templates"),
        ("{{ customer.name }}", "customer.name", "unknown merge field"),
        ("{% for o in meeting.organisations %}{{ o.name }}{% endfor %}", "o.name", "no fields"),
    ],
)
def test_an_unknown_or_foreign_field_is_refused_by_name(
    source: str, field: str, words: str
) -> None:
    with pytest.raises(TemplateProblem) as refused:
        check(source)
    assert refused.value.field == field
    assert words in refused.value.message


def test_bad_syntax_is_refused_with_its_line() -> None:
    with pytest.raises(TemplateProblem) as refused:
        check("line one\n{{ meeting.subject ")
    assert refused.value.line == 2
    assert "syntax" in refused.value.message


# The classic server-side template injection payloads (PortSwigger, PayloadsAllTheThings).
INJECTIONS = [
    "{{ meeting.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ meeting.subject.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ config.items() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ request.application.__globals__ }}",
    "{{ meeting['__class__'] }}",
    "{{ meeting[name] }}",
    "{{ meeting.subject.upper() }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends '/etc/passwd' %}",
    "{% macro m() %}{% endmacro %}",
    "{{ meeting.subject|attr('__class__') }}",
    "{{ meeting.organisations|map(attribute='__class__')|list }}",
    "{{ meeting.description|safe }}",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_are_refused_on_save(payload: str) -> None:
    with pytest.raises(TemplateProblem):
        check(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ meeting.__class__.__mro__ }}",
        "{{ meeting.subject.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ meeting.organisations.append('x') }}",
        "{{ meeting.subject|attr('__class__') }}",
    ],
)
def test_even_unchecked_the_sandbox_gives_nothing_away(payload: str) -> None:
    """Defence in depth: were a template stored around ``check``, rendering still fails."""
    with pytest.raises((SecurityError, UndefinedError)):
        render(payload, merge_context(MEETING, RECIPIENT), html=True)


def test_values_are_html_escaped_and_the_text_part_has_no_tags() -> None:
    html = render("<p>{{ meeting.subject }}</p>", merge_context(MEETING, RECIPIENT), html=True)
    assert html == "<p>Review &lt;b&gt;Q1&lt;/b&gt;</p>"
    assert text_of(html) == "Review <b>Q1</b>"


def test_an_absent_custom_field_merges_as_nothing() -> None:
    source = "[{{ meeting.custom.budget }}]"
    check(source)
    assert render(source, merge_context(MEETING, RECIPIENT), html=False) == "[]"
