"""Quoted-reply stripping: the new text of a reply, apart from the earlier messages it quotes.

Russian and English client styles (Outlook, Gmail, Apple Mail, Thunderbird, Yandex, Mail.ru).
Each line of the plain text is classed, top to bottom:

* a line starting with ``>`` is quoted (Gmail, Apple Mail, Thunderbird, Yandex and Mail.ru text
  parts; the HTML-only reader in ``mail_html`` marks ``<blockquote>`` lines the same way). Text
  between or after quoted blocks stays new, so bottom-posting and inline answers keep their text;
* an attribution line (or two, when the client wrapped it) right before a quoted block is quoted
  too: «On … wrote:», «… пишет:», «… написал(а):», Gmail's «пн, 2 нояб. 2026 г. в 10:15, Name
  <a@b>:», Yandex's «02.11.2026, 10:15, "Name" <a@b>:», Mail.ru's «Понедельник, 2 ноября 2026,
  10:15 +03:00 от Name <a@b>:» — any line ending in «:» that holds an address or a date and time;
* a hard cut ends the new text for good: Outlook's «-----Original Message-----» /
  «-----Исходное сообщение-----», a header block of the quoted message (``From:``/``От:`` or
  ``Дата:`` followed by ``Sent:``/``Отправлено:``/``To:``/``Кому:``/``Subject:``/``Тема:``…, also
  under Outlook on the web's line of underscores), or a strict attribution (the forms above)
  that is not followed by ``>`` lines (Outlook and HTML-derived text do not prefix the quote).

Then the signature comes off the end of the new text: a ``-- `` (or Mail.ru's ``--``) line with at
most eight lines after it, «Sent from my iPhone» / «Отправлено с iPhone» / «Отправлено из
мобильной Почты Mail.ru» and their kin, a mailing list footer, and a valediction line on its own
(«С уважением,», «Best regards,») followed by at most five short lines — never a phrase inside a
sentence. When nothing new is left (a bare forward), nothing is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINES = 20_000  # lines classed; the rest of a longer text is taken as quoted history

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|исходное сообщение|исходное письмо|оригинальное сообщение|reply message|ответное сообщение)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|original message follows|пересылаемое сообщение|переадресованное сообщение|пересланное сообщение)\s*-{2,}"
    r"|begin forwarded message:|начало переадресованного сообщения:|начало пересылаемого сообщения:)\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_HEADER = re.compile(
    r"^\s*\*?(from|sent|date|to|cc|subject|от|от кого|отправлено|дата|кому|копия|тема)\s*:\*?\s*(.*)$", re.IGNORECASE
)
_HEADER_OPENERS = frozenset({"from", "от", "от кого", "дата", "date", "sent", "отправлено"})
_HEADER_SENDERS = frozenset({"from", "от", "от кого"})

_WEEKDAYS = r"(?:понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_STRICT_ATTRIBUTIONS = [
    re.compile(r"^on\s.{4,300}\swrote\s*:$", re.IGNORECASE),  # Gmail, Apple Mail, Thunderbird (EN)
    re.compile(r"^.{0,300}(\d|@).{0,300}\s(пишет|написал\(а\)|написала?)\s*:$", re.IGNORECASE),  # Thunderbird, iOS (RU)
    re.compile(r"^(пн|вт|ср|чт|пт|сб|вс),\s*\d{1,2}\s+\S+\s+\d{4}\s*г\.\s*в\s*\d{1,2}:\d{2},.{1,300}:$", re.IGNORECASE),  # Gmail (RU)
    re.compile(r"^\d{1,2}\.\d{1,2}\.\d{2,4},\s*\d{1,2}:\d{2},\s*.{0,300}@.{1,300}:$"),  # Yandex
    re.compile(rf"^{_WEEKDAYS},\s*.{{0,80}}\d{{1,2}}:\d{{2}}.{{0,40}}\s(от|from)\s.{{1,300}}:$", re.IGNORECASE),  # Mail.ru
]
_ADDRESS = re.compile(r"[^\s<>\"@]+@[^\s<>\"@]+\.[^\s<>\"@]+")
_DATE_TIME = re.compile(r"\d{1,4}[./\-\s]\S{1,12}[./\-\s]\d{2,4}.{0,40}\d{1,2}:\d{2}")

_MOBILE = re.compile(
    r"^\s*(sent from my \S.*|sent from (mail|outlook|yahoo mail|yandex mail|mail\.ru)\b.*|get outlook for (ios|android).*"
    r"|отправлено с (iphone|ipad|android|моего|мобильного).*|отправлено из (мобильной )?(почты mail\.ru|яндекс|приложения).*"
    r"|sent with (proton|tutanota).*)\s*$",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
    r"^\s*(с уважением|с наилучшими пожеланиями|всего доброго|всего хорошего|искренне ваш[аи]?|best regards|kind regards|warm regards|"
    r"regards|best wishes|sincerely|yours sincerely|yours faithfully|many thanks and best regards|br|kr)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_LIST_FOOTER = re.compile(r"mailing list|unsubscribe|рассылк|отписаться", re.IGNORECASE)
_SIG_TAIL = 8  # lines a "-- " signature may have
_VALEDICTION_TAIL = 5  # lines after «С уважением,»: a name, a title, a company, a phone
_SHORT = 80  # characters: a signature line, not a paragraph


@dataclass(frozen=True)
class ReplySplit:
    new: str  # what the sender wrote this time
    quoted: str  # the rest: quoted history and signature ("" when nothing was cut)


def split_reply(text: str) -> ReplySplit:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    overflow = lines[MAX_LINES:]
    lines = lines[:MAX_LINES]
    lines = _unquote_forward(lines)
    kept = _classify(lines)
    kept = _drop_signature(lines, kept)
    kept = _blanks_follow_neighbours(lines, kept)
    new = _tidy([line for line, keep in zip(lines, kept, strict=True) if keep])
    if not new:
        return ReplySplit(new=text.strip(), quoted="")
    quoted = _tidy([line for line, keep in zip(lines, kept, strict=True) if not keep] + overflow)
    return ReplySplit(new=new, quoted=quoted)


def _unquote_forward(lines: list[str]) -> list[str]:
    """A forwarded message is what the sender wants read, not history: from a forward marker on,
    nothing is quoted (an HTML client's ``>`` marks of the forwarded part come off)."""
    for index, line in enumerate(lines):
        stripped = line.lstrip("> ")
        if _FORWARD.match(stripped):
            depth = line[: len(line) - len(stripped)].count(">")
            return lines[:index] + [_unquote(rest, depth) for rest in lines[index:]]
        if _is_quoted(line) or _SEPARATOR.match(line) or _header_block(lines, index) or _attribution(lines, index, _is_attribution):
            return lines  # a forward inside the quoted history is history
    return lines


def _unquote(line: str, depth: int) -> str:
    for _ in range(depth):
        line = line.lstrip(" ")
        if line.startswith(">"):
            line = line[1:].removeprefix(" ")
    return line


def _forwarded(lines: list[str], index: int) -> bool:
    return bool(_FORWARD.match(lines[index]))


def _classify(lines: list[str]) -> list[bool]:
    """True for each line that belongs to the new text (before the signature comes off)."""
    kept = [True] * len(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        if _forwarded(lines, index):
            break  # the rest is a forwarded message: the sender's point, kept
        if _is_quoted(line):
            kept[index] = False
            index += 1
            continue
        strict = _attribution(lines, index, _is_attribution)
        span = strict or _attribution(lines, index, _loose_attribution)
        if span and _quote_follows(lines, index + span):
            kept[index : index + span] = [False] * span
            index += span
            continue
        if strict or _SEPARATOR.match(line) or _header_block(lines, index) or _underscored_headers(lines, index):
            kept[index:] = [False] * (len(lines) - index)
            break
        index += 1
    return kept


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _attribution(lines: list[str], index: int, test: Callable[[str], bool]) -> int:
    """How many lines (1, or 2 when the client wrapped it) at ``index`` make an attribution, 0 if none."""
    first = lines[index].strip()
    if not first or _is_quoted(first) or len(first) > 400:
        return 0
    if test(first):
        return 1
    second = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if not second or _is_quoted(second) or test(second) or first.endswith((".", "!", "?")):
        return 0
    return 2 if test(first + ("" if first.endswith("<") else " ") + second) else 0


def _is_attribution(line: str) -> bool:
    return line.endswith(":") and any(pattern.match(line) for pattern in _STRICT_ATTRIBUTIONS)


def _loose_attribution(line: str) -> bool:
    """A line ending in «:» with an address or a date and time: an attribution when ``>`` lines follow."""
    return line.endswith(":") and bool(_ADDRESS.search(line) or _DATE_TIME.search(line))


def _quote_follows(lines: list[str], index: int) -> bool:
    for line in lines[index : index + 4]:
        if line.strip():
            return _is_quoted(line)
    return False


def _header_block(lines: list[str], index: int) -> bool:
    match = _HEADER.match(lines[index])
    if not match or match.group(1).lower() not in _HEADER_OPENERS or not match.group(2).strip():
        return False
    keys = {match.group(1).lower()}
    for line in lines[index + 1 : index + 6]:
        following = _HEADER.match(line)
        if not following:
            break
        keys.add(following.group(1).lower())
    return len(keys) >= 2 and bool(keys & _HEADER_SENDERS)


def _underscored_headers(lines: list[str], index: int) -> bool:
    if not _UNDERSCORES.match(lines[index]):
        return False
    following = next((i for i in range(index + 1, min(index + 3, len(lines))) if lines[i].strip()), None)
    return following is not None and _header_block(lines, following)


def _drop_signature(lines: list[str], kept: list[bool]) -> list[bool]:
    """The signature off the end of the new text (see the module's docstring)."""
    kept = list(kept)
    new_at = [i for i, keep in enumerate(kept) if keep]
    filled = [i for i in new_at if lines[i].strip()]
    if len(filled) < 2:
        return kept
    for position, index in enumerate(filled[1:], start=1):  # the first line of the new text is never a signature
        line = lines[index]
        tail = len(filled) - position - 1
        if _cuts_here(line, lines, filled, position, tail):
            for drop in new_at:
                if drop >= index:
                    kept[drop] = False
            return kept
    return kept


def _cuts_here(line: str, lines: list[str], filled: list[int], position: int, tail: int) -> bool:
    if line.rstrip() == "--":
        return tail <= _SIG_TAIL
    if _MOBILE.match(line):
        return tail <= _SIG_TAIL and all(_MOBILE.match(lines[i]) or _VALEDICTION.match(lines[i]) for i in filled[position + 1 :])
    if _UNDERSCORES.match(line):
        return bool(tail) and bool(_LIST_FOOTER.search(" ".join(lines[i] for i in filled[position + 1 : position + 4])))
    if _VALEDICTION.match(line):
        return tail <= _VALEDICTION_TAIL and all(len(lines[i].strip()) <= _SHORT for i in filled[position + 1 :])
    return False


def _blanks_follow_neighbours(lines: list[str], kept: list[bool]) -> list[bool]:
    """A blank line between two cut lines is cut too, so the quoted text keeps its paragraphs."""
    kept = list(kept)
    following: list[bool | None] = [None] * len(lines)  # the class of the next non-blank line
    upcoming: bool | None = None
    for index in range(len(lines) - 1, -1, -1):
        following[index] = upcoming
        if lines[index].strip():
            upcoming = kept[index]
    previous: bool | None = None
    for index, line in enumerate(lines):
        if line.strip():
            previous = kept[index]
        elif previous is False and following[index] is False:
            kept[index] = False
    return kept


_BLANKS = re.compile(r"\n[ \t\u00a0]*\n(?:[ \t\u00a0]*\n)+")


def _tidy(lines: list[str]) -> str:
    return _BLANKS.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip()
