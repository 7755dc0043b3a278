"""The range of okno's ids: 64-bit signed integers on both databases (BIGINT; SQLite's INTEGER)."""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
# a path segment that names a row: digits, or digits with a suffix (``/widget/{id}.js``)
_ID_SEGMENT = re.compile(r"^(-?\d+)(?:\.[a-z]+)?$")


def path_id_out_of_range(path: str) -> bool:
    """Some id in ``path`` is larger than any row can have: the resource cannot exist."""
    for segment in path.split("/"):
        match = _ID_SEGMENT.match(segment)
        if match and len(match.group(1)) >= 19 and not -MAX_ID - 1 <= int(match.group(1)) <= MAX_ID:
            return True
    return False
