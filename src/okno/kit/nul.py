"""Text okno refuses before it reaches a database: NUL characters and lone UTF-16 surrogates.

PostgreSQL cannot store U+0000 in text, and neither database driver can encode a lone surrogate
(``"\\ud800"`` in JSON). SQLite would store a NUL, so both databases refuse it alike.
"""

from __future__ import annotations

import re
from typing import Any

_ESCAPE = re.compile(rb"(\\+)u([0-9a-fA-F]{4})")


def bad_text(value: Any) -> bool:
    """``value`` (a decoded JSON document, a form, a frame) holds a string okno can't store."""
    if isinstance(value, str):
        return "\x00" in value or _has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(bad_text(k) or bad_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(bad_text(v) for v in value)
    return False


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_bad_text(raw: bytes) -> bool:
    """A JSON body holds a NUL (raw or ``\\u0000``) or a lone surrogate escape, without decoding it."""
    if b"\x00" in raw:
        return True
    if b"\\u" not in raw:
        return False
    pending_high = False
    last_end = -1
    for match in _ESCAPE.finditer(raw):
        if len(match.group(1)) % 2 == 0:  # an escaped backslash followed by "u…": plain text
            continue
        unit = int(match.group(2), 16)
        adjacent = match.start(1) + len(match.group(1)) - 1 == last_end
        if pending_high and not (adjacent and 0xDC00 <= unit <= 0xDFFF):
            return True
        if unit == 0:
            return True
        if 0xDC00 <= unit <= 0xDFFF and not pending_high:
            return True
        pending_high = 0xD800 <= unit <= 0xDBFF if not pending_high else False
        last_end = match.end()
    return pending_high


def form_bad_text(raw: bytes) -> bool:
    """A query string or an urlencoded form carries ``%00`` (or a raw NUL)."""
    return b"\x00" in raw or b"%00" in raw
