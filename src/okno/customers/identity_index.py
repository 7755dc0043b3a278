"""Finding identities by value through their blind index: the only way to search a sealed key.

``identities.value`` and ``identity_conflicts.value`` are sealed at rest (``okno.kit.pii``); each
row carries ``value_index``, a keyed HMAC of (kind, value). These conditions ask for the index
under every key of the ring (one while no rotation runs), so a lookup stays one indexed read on
``(kind, value_index)`` and finds rows a rotation has not reached yet.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, false, or_

from okno.customers.identities import IdentityKey
from okno.kit import pii
from okno.models import Identity, IdentityConflict


def key_condition(keys: Iterable[IdentityKey], model: type[Identity] | type[IdentityConflict] = Identity) -> ColumnElement[bool]:
    """``(kind = k AND value_index IN (…)) OR …`` for ``keys``: each term is an index search."""
    ring = pii.keys()
    by_kind: dict[str, list[bytes]] = {}
    for key in keys:
        by_kind.setdefault(key.kind, []).extend(ring.indexes(key.kind, key.value))
    if not by_kind:
        return false()
    return or_(*(and_(model.kind == kind, model.value_index.in_(indexes)) for kind, indexes in by_kind.items()))


def is_key(kind: str, value: str, model: type[Identity] | type[IdentityConflict] = Identity) -> ColumnElement[bool]:
    """The rows holding exactly this key."""
    return key_condition([IdentityKey(kind, value)], model)


def index_of(key: IdentityKey) -> bytes:
    """What a row holding ``key`` stores as ``value_index`` (for an update that changes a value)."""
    return pii.blind_index(key.kind, key.value)
