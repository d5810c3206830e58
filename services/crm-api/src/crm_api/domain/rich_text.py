"""The meeting form's formatted description: sanitised on the way in (``nh3``, the Rust
``ammonia`` sanitiser), and turned into the plain text that providers and plain-text mail get.
"""

from __future__ import annotations

from html.parser import HTMLParser

import nh3

TAGS = {"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "blockquote"}
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
BLOCKS = {"p", "li", "blockquote", "ul", "ol"}


def sanitise(html: str) -> str:
    """Only formatting survives: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    ).strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line = ""
        self.link = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS or tag == "br":
            self._end_line()
        if tag == "li":
            self.line = "• "
        if tag == "a":
            self.link = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link and self.link not in self.line:
            self.line += f" ({self.link})"
        if tag in BLOCKS:
            self._end_line()

    def handle_data(self, data: str) -> None:
        self.line += data.replace("\xa0", " ")  # editors write spaces as &nbsp; at times

    def _end_line(self) -> None:
        if self.line.strip():
            self.lines.append(self.line.rstrip())
        self.line = ""


def plain_text(html: str) -> str:
    """One line per paragraph or list item ("• " before items), links kept as "(url)"."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    parser._end_line()
    return "\n".join(parser.lines)
