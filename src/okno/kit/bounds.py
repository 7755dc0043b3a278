"""The range of okno's ids: 64-bit signed integers on both databases (BIGINT; SQLite's INTEGER)."""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
# a path segment of 19 or more digits (optionally signed, optionally with a suffix such as
# ``/widget/{id}.js``): the only ones that may be past the range
_LONG_ID_SEGMENT = re.compile(r"(?:^|/)(-?\d{19,})(?:\.[a-z]+)?(?=/|$)")


def path_id_out_of_range(path: str) -> bool:
    """Some id in ``path`` is larger than any row can have: the resource cannot exist."""
    for match in _LONG_ID_SEGMENT.finditer(path):
        if not -MAX_ID - 1 <= int(match.group(1)) <= MAX_ID:
            return True
    return False
