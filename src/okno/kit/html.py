"""HTML message bodies: sanitised before they are stored, and their plain text.

Sanitising is nh3 (the Ammonia sanitiser): scripts, styles, event handlers (``onclick``…),
``javascript:`` links, forms and frames are dropped; links get ``rel="noopener noreferrer"``.
Remote images are kept as ``<img>`` tags, but the operator UI shows the sanitised HTML inside a
sandboxed frame, so nothing in it runs there (and the page's content policy loads no remote image).
Links and images keep nh3's URL schemes plus ``cid:``, an e-mail's reference to an inline image
of the same message (the UI points it at the message's attachment).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

MAX_HTML = 1_000_000  # characters; a larger body is cut before sanitising
URL_SCHEMES = frozenset(nh3.ALLOWED_URL_SCHEMES | {"cid"})

_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "hr", "section", "article"}
)
_SKIPPED = frozenset({"script", "style", "head", "title"})
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def sanitize_html(html: str) -> str:
    """The HTML with everything that could run or leak removed (empty string if nothing is left)."""
    return nh3.clean(html[:MAX_HTML], url_schemes=set(URL_SCHEMES)).strip()


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body: tags dropped, blocks on their own lines."""
    parser = _TextOf()
    parser.feed(html[:MAX_HTML])
    parser.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/>: one line break, not two

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
