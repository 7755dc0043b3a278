"""Inbound attachment metadata, checked by type before it is stored.

An adapter passes on what its provider said about a file (a name, a size, a link); the API
channel passes on whatever the integrator sent. Pages and the API read these fields later
(``size / 1024``, a file name in a link), so each known field is coerced to its type or dropped
here, once, for every adapter: a size that is a string of digits becomes a number, a negative
or non-numeric one is dropped, a name that is not text is dropped, a link that is not http(s)
is dropped. ``stored_file_id`` names a file okno keeps for an operator's upload and is never
taken from the outside. Unknown fields are kept as JSON scalars (the API channel's integrators
may carry their own).
"""

from __future__ import annotations

import math
from typing import Any

MAX_ATTACHMENTS = 50
MAX_FIELDS = 40
TEXT_LIMITS = {
    "kind": 32, "type": 32, "max_type": 32, "vk_type": 32, "ext": 32,
    "name": 255, "filename": 255, "title": 255, "mime_type": 255, "content_type": 255,
    "file_id": 512, "media_id": 512, "token": 512, "vk_id": 255, "sha256": 128, "phone": 64, "email": 320,
    "caption": 4096, "transcription": 4096,
}
COUNTS = frozenset({"size", "width", "height", "duration", "photo_id"})
LINKS = frozenset({"url", "link_ogg", "link_mp3"})
COORDINATES = {"latitude": 90.0, "longitude": 180.0}
NEVER_FROM_OUTSIDE = frozenset({"stored_file_id"})
MAX_LINK = 2048
MAX_OTHER_TEXT = 1000
MAX_COUNT = 2**53  # exact in JSON numbers everywhere


def clean_attachments(attachments: list[Any]) -> list[dict[str, Any]]:
    """Every attachment that is an object, its fields checked (see the module's docstring)."""
    return [clean_attachment(a) for a in attachments[:MAX_ATTACHMENTS] if isinstance(a, dict)]


def clean_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in list(attachment.items())[:MAX_FIELDS]:
        if not isinstance(key, str) or key in NEVER_FROM_OUTSIDE:
            continue
        kept = _field(key, value)
        if kept is not None:
            cleaned[key] = kept
    return cleaned


def _field(key: str, value: Any) -> Any:
    if key in TEXT_LIMITS:
        return _text(value, TEXT_LIMITS[key])
    if key in COUNTS:
        return _count(value)
    if key in LINKS:
        return _link(value)
    if key in COORDINATES:
        return _coordinate(value, COORDINATES[key])
    return _scalar(value)


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        value = str(value)  # a numeric id or a name typed as digits
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]


def _count(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 16:
        value = int(value.strip())
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNT:
        return value
    return None


def _link(value: Any) -> str | None:
    if isinstance(value, str) and len(value) <= MAX_LINK and value.lower().startswith(("https://", "http://")) and value.isprintable():
        return value
    return None


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and -bound <= value <= bound:
        return float(value)
    return None


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_OTHER_TEXT]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -MAX_COUNT < value < MAX_COUNT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None  # nested objects and lists: not metadata okno shows
