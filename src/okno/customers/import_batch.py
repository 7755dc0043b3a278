"""What a batch of imported rows does to the customers it touches, kept in memory while the
rows are resolved one after another, then written in a handful of bulk statements.

Each row sees everything the rows before it did (keys they added, profiles they created or
changed), exactly as if each row had been written before the next was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.conflicts import record_conflicts
from okno.customers.identities import IdentityKey
from okno.customers.matching.fields import comparison_fields
from okno.customers.matching.pending import PendingBase
from okno.customers.matching.profiles import file_profiles, person_of
from okno.customers.matching.realtime import Candidate
from okno.customers.matching.suggestions import queue_suggestions
from okno.customers.resolution import owner_ids
from okno.kit.ids import allocate_ids
from okno.kit.time import utcnow
from okno.models import Customer, Identity, MatchProfile, TimelineEvent

LOOKUP_CHUNK = 500


@dataclass
class TouchedCustomer:
    """A customer as the batch has left it so far."""

    id: int
    name: str
    attributes: dict
    keys: list[tuple[str, str]]  # every identity it holds
    is_new: bool = False
    merged: bool = False  # merged away: it keeps no profile
    stored_profile: dict | None = None  # on file when the batch began
    changed: bool = False

    def profile(self) -> dict | None:
        if self.merged:
            return None
        return comparison_fields(person_of(Customer(name=self.name, attributes=self.attributes), self.keys)) or None


@dataclass
class ImportBatch:
    matcher: PendingBase
    owner: dict[IdentityKey, int] = field(default_factory=dict)  # key → customer, stored or added by the batch
    customers: dict[int, TouchedCustomer] = field(default_factory=dict)
    identities: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    clashes: list[tuple[IdentityKey, int, int]] = field(default_factory=list)
    suggestions: list[tuple[int, list[Candidate]]] = field(default_factory=list)
    free_ids: list[int] = field(default_factory=list)

    @classmethod
    async def open(cls, session: AsyncSession, keys: set[IdentityKey], *, rows: int) -> ImportBatch:
        """Reads the owners of ``keys`` and those customers, in a few statements."""
        batch = cls(matcher=PendingBase(batch_rows=rows))
        batch.owner = await owner_ids(session, keys)
        await batch._load(session, set(batch.owner.values()))
        return batch

    def owners(self, keys: list[IdentityKey]) -> dict[IdentityKey, int]:
        """Owner of each of ``keys`` that has one, strongest key first."""
        return {key: self.owner[key] for key in keys if key in self.owner}

    async def customer(self, session: AsyncSession, customer_id: int) -> TouchedCustomer:
        if customer_id not in self.customers:
            await self._load(session, {customer_id})
        return self.customers[customer_id]

    async def create(self, session: AsyncSession, name: str, *, rows_left: int) -> int:
        if not self.free_ids:  # ids for every row still to come, so one round trip per batch
            self.free_ids = list(reversed(await allocate_ids(session, Customer.__table__, rows_left)))
        customer_id = self.free_ids.pop()
        self.customers[customer_id] = TouchedCustomer(id=customer_id, name=name[:300], attributes={}, keys=[], is_new=True, changed=True)
        self.matcher.stage(customer_id, None, stored=None)
        return customer_id

    def add_keys(self, customer: TouchedCustomer, keys: list[IdentityKey], *, source: str) -> None:
        now = utcnow()
        for key in keys:
            self.owner[key] = customer.id
            customer.keys.append((key.kind, key.value))
            self.identities.append({"customer_id": customer.id, "kind": key.kind, "value": key.value, "created_at": now})
            self.timeline.append({"customer_id": customer.id, "kind": "identity.added", "data": {"identity": str(key), "source": source}, "occurred_at": now})

    def note(self, customer_id: int, kind: str, data: dict) -> None:
        self.timeline.append({"customer_id": customer_id, "kind": kind, "data": data, "occurred_at": utcnow()})

    def refile(self, customer: TouchedCustomer) -> None:
        """The customer changed: later rows are matched against its new profile."""
        customer.changed = True
        self.matcher.stage(customer.id, customer.profile(), stored=customer.stored_profile)

    async def write(self, session: AsyncSession) -> None:
        """Everything the batch did, in bulk statements, in the order the rows did it."""
        now = utcnow()
        touched = [c for c in self.customers.values() if c.changed]
        new = sorted((c for c in touched if c.is_new), key=lambda c: c.id)
        if new:
            rows = [{"id": c.id, "name": c.name, "attributes": c.attributes, "created_at": now, "updated_at": now} for c in new]
            await session.execute(insert(Customer.__table__), rows)
        existing = [c for c in touched if not c.is_new]
        if existing:
            table = Customer.__table__
            statement = update(table).where(table.c.id == bindparam("b_id")).values(name=bindparam("b_name"), attributes=bindparam("b_attributes"), updated_at=now)
            await session.execute(statement, [{"b_id": c.id, "b_name": c.name, "b_attributes": c.attributes} for c in existing])
        if self.identities:
            await session.execute(insert(Identity.__table__), self.identities)
        if self.timeline:
            await session.execute(insert(TimelineEvent.__table__), self.timeline)
        await record_conflicts(session, self.clashes)
        for customer_id, found in self.suggestions:
            await queue_suggestions(session, customer_id, found)
        profiles = {c.id: p for c in touched if (p := c.profile())}
        filed = sorted(c.id for c in existing)  # new customers have nothing on file to replace
        await file_profiles(session, filed, {c.id: c.stored_profile for c in existing if c.stored_profile}, profiles)

    async def _load(self, session: AsyncSession, ids: set[int]) -> None:
        ordered = sorted(i for i in ids if i not in self.customers)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            part = ordered[start : start + LOOKUP_CHUNK]
            rows = await session.execute(select(Customer.id, Customer.name, Customer.attributes, Customer.merged_into_id).where(Customer.id.in_(part)))
            loaded = {
                cid: TouchedCustomer(id=cid, name=name, attributes=dict(attributes or {}), keys=[], merged=merged_into is not None)
                for cid, name, attributes, merged_into in rows
            }
            for customer_id, kind, value in await session.execute(select(Identity.customer_id, Identity.kind, Identity.value).where(Identity.customer_id.in_(part))):
                loaded[customer_id].keys.append((kind, value))
            for customer_id, fields in await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(part))):
                loaded[customer_id].stored_profile = fields
            self.customers.update(loaded)
