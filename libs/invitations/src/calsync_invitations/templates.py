"""Email templates: Jinja2 in its immutable sandbox, checked on save, merged per recipient.

- ``check`` refuses what must never reach a recipient: bad syntax, an unknown merge field, a
  field of another template type, dynamic or nested attribute access. It names the field.
- ``render`` runs the template in ``ImmutableSandboxedEnvironment`` (no attribute of Python
  internals, no mutation, no loader: no file access; the context holds only strings, booleans and
  lists of strings), HTML-escaping every value in the HTML part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from calsync_invitations.fields import OTHER_TYPES, ROOTS, describe

LOOP = "loop"
ALLOWED_FILTERS = frozenset(
    {
        "capitalize", "center", "default", "d", "escape", "e", "first", "join", "last",
        "length", "count", "lower", "replace", "title", "trim", "truncate", "upper",
        "wordcount", "striptags", "indent", "list", "reverse",
    }
)  # fmt: skip
"""No ``attr``/``map``/``selectattr``… (attribute access by name) and no ``safe`` (values stay
escaped: meeting text comes from outside the CRM too)."""
FORBIDDEN_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Extends,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Macro,
    nodes.CallBlock,
)


@dataclass(frozen=True, slots=True)
class TemplateProblem(Exception):
    """Why a template is refused: ``field`` names the merge field (or None for syntax)."""

    message: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.message}{where}"


_HTML = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_TEXT = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def check(source: str) -> list[str]:
    """Raises ``TemplateProblem`` for the first problem; returns the merge fields used."""
    try:
        tree = _HTML.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax: {error.message}", None, error.lineno) from None
    used: list[str] = []
    for node, locals_ in _walk(tree, frozenset()):
        if isinstance(node, FORBIDDEN_NODES):
            kind = type(node).__name__.lower()
            raise TemplateProblem(f"{kind} is not allowed in a template", None, node.lineno)
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateProblem(f"filter {node.name!r} is not allowed", None, node.lineno)
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            path = _path(node, locals_)
            if path is not None and path not in used:
                used.append(path)
    return used


def render(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Merges ``context`` (``merge_context``) into a checked template."""
    return _compiled(source, html).render(context)


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    """Compiling costs ~3 ms; every recipient of a request shares one template."""
    return (_HTML if html else _TEXT).from_string(source)


def text_of(html: str) -> str:
    """The plain-text part of a mail from its rendered HTML part."""
    # Our own rendered, escaped HTML: stripping tags and unescaping once gives the text.
    return Markup(html).striptags()  # noqa: S704


def merge_context(meeting: Mapping[str, Any], recipient: Mapping[str, str]) -> dict[str, Any]:
    """What templates see: absent custom fields merge as empty text, never as an error."""
    custom = defaultdict(str, meeting.get("custom", {}))
    return {"meeting": {**meeting, "custom": custom}, "recipient": dict(recipient)}


# --- checking -----------------------------------------------------------------------------------


def _walk(node: nodes.Node, locals_: frozenset[str]) -> Iterator[tuple[nodes.Node, frozenset[str]]]:
    """Every node with the local names in scope there (loop targets, ``set`` names)."""
    yield node, locals_
    if isinstance(node, nodes.For):
        inner = locals_ | _names(node.target) | {LOOP}
        yield from _walk(node.iter, locals_)
        for child in [*node.body, *node.else_]:
            yield from _walk(child, inner)
        if node.test is not None:
            yield from _walk(node.test, inner)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        return  # a field path is judged whole, from its outermost node
    scope = locals_
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Assign):
            scope = scope | _names(child.target)
            yield from _walk(child.node, scope)
            continue
        yield from _walk(child, scope)


def _names(target: nodes.Node) -> frozenset[str]:
    return frozenset(n.name for n in target.find_all(nodes.Name)) | (
        {target.name} if isinstance(target, nodes.Name) else set()
    )


def _path(node: nodes.Node, locals_: frozenset[str]) -> str | None:
    """The dotted merge field of an expression; None for local names (loop items, ``loop``)."""
    parts: list[str] = []
    current = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            parts.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
            parts.append(current.arg.value)
        else:
            raise TemplateProblem("fields are named, not computed", None, current.lineno)
        current = current.node
    if not isinstance(current, nodes.Name):
        raise TemplateProblem("fields belong to meeting or recipient", None, node.lineno)
    root = current.name
    path = ".".join([root, *reversed(parts)])
    if root == LOOP and LOOP in locals_:
        return None
    if root in locals_:
        if parts:
            raise TemplateProblem(f"{path!r}: list items have no fields", path, node.lineno)
        return None
    if root in OTHER_TYPES:
        raise TemplateProblem(
            f"{path!r} is a field of {OTHER_TYPES[root]}, not of synced meeting templates",
            path,
            node.lineno,
        )
    if root not in ROOTS or describe(path) is None:
        raise TemplateProblem(f"unknown merge field {path!r}", path, node.lineno)
    return path
