"""Exact-key identity resolution for a batch of inbound senders, inside the ingest transaction.

A sender whose key already belongs to a customer is attached to that customer; keys the sender
brings that are new are added to the same profile. When a sender's keys belong to two different
customers, nothing is merged: the touch goes to the owner of the sender's strongest key (the
adapter lists keys strongest first) and the clash is recorded as a conflict to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey
from okno.kit import pii
from okno.kit.bulk import BulkInsert, driver_connection
from okno.kit.ids import allocate_ids
from okno.kit.time import utcnow
from okno.models import Customer, Identity

LOOKUP_CHUNK = 400


@dataclass(eq=False)
class CustomerRef:
    id: int | None
    name: str = ""
    is_new: bool = False


@dataclass(slots=True)  # one per message: a frozen dataclass's __init__ costs three times as much
class Sender:
    keys: tuple[IdentityKey, ...]
    name: str
    channel_id: int


@dataclass(frozen=True)
class IdentityConflict:
    key: IdentityKey
    kept_customer: CustomerRef
    other_customer: CustomerRef


@dataclass
class Resolution:
    customers: list[CustomerRef]  # one per sender, same order
    conflicts: list[list[IdentityConflict]] = field(default_factory=list)  # per sender
    new_identities: list[list[IdentityKey]] = field(default_factory=list)  # per sender


async def resolve_senders(session: AsyncSession, senders: list[Sender]) -> Resolution:
    owner = await owners_of(session, {k for s in senders for k in s.keys})
    resolution = Resolution(customers=[])
    pending_identities: list[tuple[IdentityKey, CustomerRef, int]] = []
    renames: list[tuple[CustomerRef, str]] = []
    for sender in senders:
        owners = [owner[k] for k in sender.keys if k in owner]
        chosen = owners[0] if owners else CustomerRef(id=None, name=sender.name, is_new=True)
        conflicts = [
            IdentityConflict(key=k, kept_customer=chosen, other_customer=owner[k])
            for k in sender.keys
            if k in owner and owner[k] is not chosen
        ]
        fresh = [k for k in sender.keys if k not in owner]
        for key in fresh:
            owner[key] = chosen
            pending_identities.append((key, chosen, sender.channel_id))
        if sender.name and not chosen.is_new and not chosen.name:
            chosen.name = sender.name
            renames.append((chosen, sender.name))
        resolution.customers.append(chosen)
        resolution.conflicts.append(conflicts)
        resolution.new_identities.append(fresh)
    await _insert_customers(session, [c for c in _unique(resolution.customers) if c.id is None])
    await _insert_identities(session, pending_identities)
    await _fill_empty_names(session, renames)
    return resolution


# prepared once: SQLAlchemy reuses its compiled form, and the per-batch work is the parameters;
# on table columns, so the session runs it as a Core statement (no ORM compile state or loading).
# Both columns by ``IN`` (the unique index on (kind, value_index) is searched for every pair):
# a value index is a keyed hash of (kind, value), so a pair of the cross product that belongs to
# no wanted key matches no row, and rows are mapped back by (kind, index) anyway.
_IDENTITIES, _CUSTOMERS = Identity.__table__, Customer.__table__
_OWNERS = (
    select(_IDENTITIES.c.kind, _IDENTITIES.c.value_index, _IDENTITIES.c.customer_id, _CUSTOMERS.c.name)
    .join(_CUSTOMERS, _CUSTOMERS.c.id == _IDENTITIES.c.customer_id)
    .where(_IDENTITIES.c.kind.in_(bindparam("kinds", expanding=True)), _IDENTITIES.c.value_index.in_(bindparam("indexes", expanding=True)))
)


async def owners_of(session: AsyncSession, keys: set[IdentityKey]) -> dict[IdentityKey, CustomerRef]:
    """Who owns each of ``keys`` (absent: nobody), in one indexed lookup per chunk of keys. The
    rows are matched to the keys by their blind index: no sealed value is opened."""
    refs: dict[int, CustomerRef] = {}
    owner: dict[IdentityKey, CustomerRef] = {}
    wanted = {(key.kind, index): key for key in sorted(keys, key=_KIND_VALUE) for index in lookup_indexes(key)}
    ordered = list(wanted)
    sqlite = session.bind.dialect.name == "sqlite"
    connection = await driver_connection(session) if sqlite else None
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        part = ordered[start : start + LOOKUP_CHUNK]
        if connection is not None:  # the pairs themselves, straight to the driver (_owners_sqlite)
            rows = await connection.exec_driver_sql(_owners_sqlite(len(part)), tuple(value for pair in part for value in pair))
        else:
            rows = await session.execute(_OWNERS, {"kinds": sorted({kind for kind, _ in part}), "indexes": [index for _, index in part]})
        for kind, index, customer_id, name in rows:
            key = wanted.get((kind, bytes(index)))
            if key is not None:
                owner[key] = refs.setdefault(customer_id, CustomerRef(id=customer_id, name=name))
    return owner


_KIND_VALUE = attrgetter("kind", "value")


@cache
def _owners_sqlite(pairs: int) -> str:
    """SQLite's form of ``_OWNERS``: one index search per wanted (kind, index) pair instead of one
    per pair of the cross product, and no SQLAlchemy rendering of two expanding ``IN`` lists per
    batch (the rows are the same: an index matches no other kind's key)."""
    values = ", ".join(["(?, ?)"] * pairs)
    return (
        "SELECT identities.kind, identities.value_index, identities.customer_id, customers.name"  # noqa: S608 (placeholders only)
        f" FROM (VALUES {values}) AS wanted"
        " JOIN identities ON identities.kind = wanted.column1 AND identities.value_index = wanted.column2"
        " JOIN customers ON customers.id = identities.customer_id"
    )


_INDEXES: dict[tuple[str, str], list[bytes]] = {}
_INDEXED_BY: list[pii.KeyRing | None] = [None]  # the ring the memo was computed with
_INDEXES_KEPT = 100_000


def lookup_indexes(key: IdentityKey) -> list[bytes]:
    """``key``'s blind index under every ring key, newest first (what a lookup asks for; the first
    is what a new row stores), remembered per process: a returning sender's keys are HMACed once,
    not on every message. Forgotten when the key ring is replaced (a rotation's restart, tests)."""
    ring = pii.keys()
    if _INDEXED_BY[0] is not ring or len(_INDEXES) >= _INDEXES_KEPT:
        _INDEXES.clear()
        _INDEXED_BY[0] = ring
    slot = (key.kind, key.value)
    found = _INDEXES.get(slot)
    if found is None:
        found = _INDEXES[slot] = ring.indexes(key.kind, key.value)
    return found


async def owner_ids(session: AsyncSession, keys: set[IdentityKey]) -> dict[IdentityKey, int]:
    """Who owns each of ``keys``, for thousands of keys at once (a CRM import's batch). On
    PostgreSQL each key is its own index lookup (a lateral ``LIMIT 1``): a big ``IN`` list turns
    into a scan of the whole table while the planner's statistics lag behind a growing table."""
    if session.bind.dialect.name != "postgresql":
        return {key: ref.id for key, ref in (await owners_of(session, keys)).items() if ref.id is not None}
    ring = pii.keys()
    wanted = [(key, index) for key in sorted(keys, key=str) for index in ring.indexes(key.kind, key.value)]
    owner: dict[IdentityKey, int] = {}
    for start in range(0, len(wanted), BULK_LOOKUP_CHUNK):
        part = wanted[start : start + BULK_LOOKUP_CHUNK]
        by_index = {(key.kind, index): key for key, index in part}
        rows = await session.execute(_OWNER_IDS, {"kinds": [k.kind for k, _ in part], "indexes": [i for _, i in part]})
        owner.update((by_index[(kind, bytes(index))], customer_id) for kind, index, customer_id in rows)
    return owner


BULK_LOOKUP_CHUNK = 2000
_OWNER_IDS = text(
    "SELECT k.kind, k.value_index, i.customer_id FROM unnest(CAST(:kinds AS varchar[]), CAST(:indexes AS bytea[])) AS k(kind, value_index)"
    " CROSS JOIN LATERAL (SELECT customer_id FROM identities"
    " WHERE identities.kind = k.kind AND identities.value_index = k.value_index LIMIT 1) AS i"
)


def _unique(refs: list[CustomerRef]) -> list[CustomerRef]:
    seen: dict[int, CustomerRef] = {}
    for ref in refs:
        seen.setdefault(id(ref), ref)
    return list(seen.values())


async def _insert_customers(session: AsyncSession, new: list[CustomerRef]) -> None:
    if not new:
        return
    now = utcnow()
    for ref, customer_id in zip(new, await allocate_ids(session, Customer.__table__, len(new)), strict=True):
        ref.id = customer_id
    await _NEW_CUSTOMERS.run(session, [(c.id, c.name, {}, now, now) for c in new])


# rows go to the driver as tuples (okno.kit.bulk), through the columns' own processors
_NEW_CUSTOMERS = BulkInsert(Customer.__table__, ("id", "name", "attributes", "created_at", "updated_at"))


async def _insert_identities(session: AsyncSession, pending: list[tuple[IdentityKey, CustomerRef, int]]) -> None:
    if not pending:
        return
    now = utcnow()  # the blind index the lookup computed (the newest key's): what the column default would
    await _NEW_IDENTITIES.run(session, [(ref.id, k.kind, k.value, lookup_indexes(k)[0], ch, now) for k, ref, ch in pending])


# rows go to the driver as tuples (okno.kit.bulk), the value sealed by its column's processor
_NEW_IDENTITIES = BulkInsert(Identity.__table__, ("customer_id", "kind", "value", "value_index", "source_channel_id", "created_at"))


_FILL_EMPTY_NAME = (
    update(Customer.__table__)
    .where(Customer.__table__.c.id == bindparam("customer_id"), Customer.__table__.c.name == "")
    .values(name=bindparam("new_name"), updated_at=bindparam("now"))
)


async def _fill_empty_names(session: AsyncSession, renames: list[tuple[CustomerRef, str]]) -> None:
    """One Core executemany for the batch (an ORM UPDATE per customer cost a statement each)."""
    if renames:
        now = utcnow()
        await session.execute(_FILL_EMPTY_NAME, [{"customer_id": ref.id, "new_name": name, "now": now} for ref, name in renames])
