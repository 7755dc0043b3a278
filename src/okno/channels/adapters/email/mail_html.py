"""Plain text of an HTML-only e-mail, with quoted parts marked the way a text client marks them.

``okno.kit.html.html_to_text`` reads any HTML; mail needs one more thing: what the sender's client
put inside ``<blockquote>`` (Gmail, Apple Mail, Yandex, Mail.ru, Thunderbird) or inside Gmail's
``gmail_quote`` is the quoted history. Those lines come out
prefixed with ``> `` so the quote finder treats HTML-only mail as it treats text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML = 1_000_000  # characters read; the rest of a larger body is ignored
MAX_QUOTE_DEPTH = 8  # ">" marks written at most, however deep the blockquotes nest

_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "hr", "section", "article", "center", "dd", "dt"}
)
_PARAGRAPHS = frozenset({"p", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr"})
_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def mail_html_to_text(html: str) -> str:
    parser = _MailText()
    try:
        parser.feed(html[:MAX_HTML])
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient; keep what was read if it ever is not
        pass
    lines: list[str] = []
    for depth, line in parser.lines():
        line = _SPACES.sub(" ", line).strip()
        lines.append(("> " * min(depth, MAX_QUOTE_DEPTH) + line).rstrip() if depth else line)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class _MailText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # (quote depth, kind, text): kind "text", "soft" (a block edge: a line break unless the
        # line is empty), "hard" (<br>: always a line break) or "para" (a paragraph: a blank line)
        self._chunks: list[tuple[int, str, str]] = []
        self._skipping = 0
        self._depth = 0
        self._open: list[tuple[str, bool]] = []  # open elements and whether each started a quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
            return
        self._edge(tag)
        if tag in _VOID:
            return
        quoting = tag == "blockquote" or _starts_history(attrs)
        self._open.append((tag, quoting))
        if quoting:
            self._depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._edge(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
            return
        for index in range(len(self._open) - 1, -1, -1):  # close up to the matching element
            if self._open[index][0] == tag:
                for _, quoting in self._open[index:]:
                    self._depth -= 1 if quoting else 0
                del self._open[index:]
                break
        if tag != "br":
            self._edge(tag)

    def _edge(self, tag: str) -> None:
        if tag == "br":
            self._chunks.append((self._depth, "hard", ""))
        elif tag in _PARAGRAPHS:
            self._chunks.append((self._depth, "para", ""))
        elif tag in _BLOCKS:
            self._chunks.append((self._depth, "soft", ""))

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._chunks.append((self._depth, "text", data.replace("\r", " ").replace("\n", " ")))

    def lines(self) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        current, depth = "", 0
        for chunk_depth, kind, text in self._chunks:
            if kind == "text":
                if text.strip() and not current.strip():
                    depth = chunk_depth
                current += text
                continue
            if kind == "hard" or current.strip():
                out.append((depth, current))
            current, depth = "", chunk_depth
            if kind == "para" and out and out[-1][1].strip():
                out.append((out[-1][0] if chunk_depth else 0, ""))
        out.append((depth, current))
        return out


def _starts_history(attrs: list[tuple[str, str | None]]) -> bool:
    """Gmail's and Yahoo's containers of the earlier messages (not a blockquote; Outlook's header
    block is found by its From:/Sent: lines instead)."""
    for name, value in attrs:
        if value is None:
            continue
        if name == "class" and ("gmail_quote" in value.split() or "yahoo_quoted" in value.split()):
            return True
    return False
