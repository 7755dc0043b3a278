"""Integers in an inbound item stay within the signed 64-bit range.

An item is stored as JSON (``inbound_items.item``) and read back with orjson, which takes integers
up to 64 bits and reads a wider one as a float (1e+19, its last digits lost); okno's integer
columns (BIGINT, SQLite's INTEGER) hold signed 64 bits. An adapter that keeps its provider's
extras as given (a plugin's ``context``) could carry a wider integer through the webhook: the
webhook refuses such an item, naming the field, before anything is stored.

The usual item costs one C call here: its free-form values (``context``, ``content``) are written
by orjson under ``OPT_STRICT_INTEGER``, which refuses integers past 53 bits; only when it does is
the value walked to find the integer and its place (53 to 63 bits are legal, and rare).
Attachments need no look: ``okno.channels.attachments`` keeps their integers within 53 bits.
"""

from __future__ import annotations

from typing import Any

import orjson

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def out_of_range_int(item: Any) -> str | None:
    """The dotted path of the first integer outside the signed 64-bit range in ``item``'s
    free-form JSON or its answer (``answer.message_id`` names a message row), else None."""
    fields = item.__dict__  # the model's fields, one look-up each (a status has none of these)
    context, content, answer = fields.get("context"), fields.get("content"), fields.get("answer")
    for name, value in (("context", context), ("content", content)):
        if value and _may_hold_wide_int(value):
            where = _first_wide_int(value, name)
            if where is not None:
                return where
    if answer is not None and answer.message_id is not None and not INT64_MIN <= answer.message_id <= INT64_MAX:
        return "answer.message_id"
    return None


def out_of_range_reason(where: str) -> str:
    return f"{where}: an integer outside the signed 64-bit range ({INT64_MIN} to {INT64_MAX}); send it as a string"


def _may_hold_wide_int(value: Any) -> bool:
    """Never a false "no": what orjson refuses (an integer past 53 bits, a key that is not text)
    answers "maybe"; values it cannot write otherwise are written as null."""
    try:
        orjson.dumps(value, default=_skipped, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return True
    return False


def _skipped(value: Any) -> None:
    return None


def _first_wide_int(value: Any, path: str) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64_MIN <= value <= INT64_MAX else path
    if isinstance(value, dict):
        pairs = value.items()
    elif isinstance(value, list | tuple):
        pairs = enumerate(value)
    else:
        return None
    for key, inner in pairs:
        where = _first_wide_int(inner, f"{path}.{key}")
        if where is not None:
            return where
    return None
