"""FindItem's Restriction, evaluated on a stored item ("Restriction", "IsEqualTo", "And", "Or",
"Not", "Exists", "Contains"). Comparisons see the stored text: dates as instants when both sides
are xs:dateTime, booleans and integers as such, else exact strings. Anything else is answered
ErrorUnsupportedQueryFilter (what Exchange answers for a filter it cannot run), never ignored.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

from calsync_localinfra.ews.properties import path_key, value_text
from calsync_localinfra.ews.soap import Element, EwsError, local, tag
from calsync_localinfra.ews.store import Item

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "IsEqualTo": operator.eq,
    "IsNotEqualTo": operator.ne,
    "IsGreaterThan": operator.gt,
    "IsGreaterThanOrEqualTo": operator.ge,
    "IsLessThan": operator.lt,
    "IsLessThanOrEqualTo": operator.le,
}


def unsupported(what: str) -> EwsError:
    return EwsError("ErrorUnsupportedQueryFilter", f"The restriction is not supported: {what}")


def matches(expr: Element, item: Item) -> bool:
    name = local(expr.tag)
    if name == "And":
        return all(matches(e, item) for e in expr)
    if name == "Or":
        return any(matches(e, item) for e in expr)
    if name == "Not":
        return not matches(expr[0], item)
    if name == "Exists":
        return _value(expr[0], item) is not None
    if name == "Contains":
        return _contains(expr, item)
    if name in COMPARISONS:
        return _compare(COMPARISONS[name], expr, item)
    raise unsupported(name)


def _value(path: Element, item: Item) -> str | None:
    if local(path.tag) == "IndexedFieldURI":
        raise unsupported("IndexedFieldURI")
    return value_text(item.props.get(path_key(path)))


def _constant(expr: Element) -> str:
    constant = expr.find(f"{tag('t', 'FieldURIOrConstant')}/{tag('t', 'Constant')}")
    if constant is None:
        constant = expr.find(tag("t", "Constant"))
    if constant is None:
        raise unsupported(f"{local(expr.tag)} without a Constant (comparing two properties)")
    return constant.get("Value") or ""


def _compare(compare: Callable[[Any, Any], bool], expr: Element, item: Item) -> bool:
    stored = _value(expr[0], item)
    if stored is None:
        # A missing property satisfies no comparison, IsNotEqualTo included (MAPI semantics).
        return False
    left, right = _typed(stored), _typed(_constant(expr))
    if type(left) is not type(right):
        left, right = stored, _constant(expr)
    return compare(left, right)


def _typed(text: str) -> Any:
    if text in {"true", "false"}:
        return text == "true"
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


def _contains(expr: Element, item: Item) -> bool:
    stored = _value(expr[0], item)
    if stored is None:
        return False
    wanted = _constant(expr)
    if "Ignore" in (expr.get("ContainmentComparison") or ""):
        stored, wanted = stored.lower(), wanted.lower()
    mode = expr.get("ContainmentMode") or "Substring"
    tests: dict[str, Callable[[str, str], bool]] = {
        "FullString": operator.eq,
        "Prefixed": str.startswith,
        "Substring": operator.contains,
        "PrefixOnWords": lambda s, w: any(word.startswith(w) for word in s.split()),
        "ExactPhrase": operator.contains,
    }
    if mode not in tests:
        raise unsupported(f"ContainmentMode {mode}")
    return tests[mode](stored, wanted)
