"""Keeps ``match_profiles``, ``match_blocks`` and ``match_terms`` in step with customers.

Called in the same transaction as whatever changed a customer's name, attributes or
identities (import, merge, undo, conflict resolution); merged-away customers leave the index.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.matching.fields import ONE_VALUE_FIELDS, RawPerson, comparison_fields, filed_keys, filed_keys_of
from okno.kit.bulk import BulkInsert
from okno.kit.prepared import PreparedWrite
from okno.kit.time import utcnow
from okno.models import Customer, Identity, MatchBlock, MatchProfile, MatchTerm

TERM_FIELDS = ("first_name", "last_name", "city")
# attributes the matcher compares (an imported CRM row keeps them under these names);
# ``id_number`` (a national id, SNILS, social security number) is personal data: see :mod:`okno.customers.personal`
PERSON_ATTRIBUTES = ONE_VALUE_FIELDS
UNVERIFIED = "unverified_identities"  # ["phone:+7…", "email:…"]: keys kept as evidence, not proof


def person_of(customer: Customer, identities: list[tuple[str, str]]) -> RawPerson:
    attributes = customer.attributes or {}
    text = {k: str(attributes.get(k) or "") for k in PERSON_ATTRIBUTES}
    evidence = [tuple(str(e).split(":", 1)) for e in attributes.get(UNVERIFIED) or [] if ":" in str(e)]
    keys = identities + [(k, v) for k, v in evidence]
    return RawPerson(
        full_name=customer.name,
        phones=[v for k, v in keys if k == "phone"],
        emails=[v for k, v in keys if k == "email"],
        **text,
    )


async def refresh_profiles(session: AsyncSession, customer_ids: list[int]) -> None:
    ids = sorted(set(customer_ids))
    if not ids:
        return
    old = await _stored_fields(session, ids)
    await file_profiles(session, ids, old, await _current_fields(session, ids))


async def refile_stale_profiles(session: AsyncSession, customer_ids: list[int]) -> int:
    """Re-files those of ``customer_ids`` whose stored fields or blocking keys differ from what
    the code derives now (a field or key added to the matcher since they were filed); the
    others are left untouched. Returns how many were re-filed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    old, new = await _stored_fields(session, ids), await _current_fields(session, ids)
    filed: dict[int, set[str]] = {cid: set() for cid in ids}
    for customer_id, key in await session.execute(select(MatchBlock.customer_id, MatchBlock.key).where(MatchBlock.customer_id.in_(ids))):
        filed[customer_id].add(key)
    stale = [cid for cid in ids if old.get(cid) != new.get(cid) or filed[cid] != (filed_keys(new[cid]) if cid in new else set())]
    if stale:
        await file_profiles(session, stale, {c: old[c] for c in stale if c in old}, {c: new[c] for c in stale if c in new})
    return len(stale)


async def _stored_fields(session: AsyncSession, ids: list[int]) -> dict[int, dict]:
    return dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(ids)))).all())


async def _current_fields(session: AsyncSession, ids: list[int]) -> dict[int, dict]:
    """The comparison fields of each live customer of ``ids`` as the code derives them now."""
    customers = {c.id: c for c in (await session.scalars(select(Customer).where(Customer.id.in_(ids)))).all()}
    keys: dict[int, list[tuple[str, str]]] = {cid: [] for cid in ids}
    for customer_id, kind, value in await session.execute(
        select(Identity.customer_id, Identity.kind, Identity.value).where(Identity.customer_id.in_(ids))
    ):
        keys[customer_id].append((kind, value))
    new: dict[int, dict] = {}
    for cid in ids:
        customer = customers.get(cid)
        if customer is not None and customer.merged_into_id is None:
            fields = comparison_fields(person_of(customer, keys[cid]))
            if fields:
                new[cid] = fields
    return new


async def file_profiles(session: AsyncSession, ids: list[int], old: dict[int, dict], new: dict[int, dict]) -> None:
    """The profiles of ``ids`` become ``new`` (absent: none); ``old`` is what is on file now."""
    await _replace(session, ids, new)
    await adjust_terms(session, term_changes(old.values(), new.values()))


async def _replace(session: AsyncSession, ids: list[int], new: dict[int, dict]) -> None:
    await session.execute(delete(MatchBlock).where(MatchBlock.customer_id.in_(ids)))
    await session.execute(delete(MatchProfile).where(MatchProfile.customer_id.in_(ids)))
    if not new:
        return
    now = utcnow()
    await session.execute(insert(MatchProfile.__table__), [{"customer_id": cid, "fields": f, "updated_at": now} for cid, f in new.items()])
    blocks = [{"key": key, "customer_id": cid} for cid, f in new.items() for key in sorted(filed_keys(f))]
    if blocks:
        await session.execute(insert(MatchBlock.__table__), blocks)


def term_changes(removed: object, added: object) -> Counter:
    delta: Counter = Counter()
    for fields in removed:  # type: ignore[attr-defined]
        for name in TERM_FIELDS:
            if fields.get(name):
                delta[(name, fields[name][:200])] -= 1
    for fields in added:  # type: ignore[attr-defined]
        for name in TERM_FIELDS:
            if fields.get(name):
                delta[(name, fields[name][:200])] += 1
    return Counter({k: v for k, v in delta.items() if v})


async def adjust_terms(session: AsyncSession, delta: Counter) -> None:
    """``count += delta`` per (field, value), creating rows as needed (one upsert statement)."""
    if not delta:
        return
    rows = [(f, v, n) for (f, v), n in sorted(delta.items())]
    await _term_upsert(session.bind.dialect.name).run(session, rows)


_TERM_UPSERTS: dict[str, PreparedWrite] = {}


def _term_upsert(dialect: str) -> PreparedWrite:
    """The dialect's ``count += excluded.count`` upsert, built once and sent as tuples
    (okno.kit.prepared): building it, then SQLAlchemy's per-row parameters, cost more than
    running it for a webhook group's few new customers."""
    prepared = _TERM_UPSERTS.get(dialect)
    if prepared is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        table = MatchTerm.__table__
        statement = upsert(table).values(field=bindparam("field"), value=bindparam("value"), count=bindparam("count"))
        statement = statement.on_conflict_do_update(index_elements=["field", "value"], set_={"count": table.c.count + statement.excluded.count})
        prepared = _TERM_UPSERTS[dialect] = PreparedWrite(statement, ("field", "value", "count"))
    return prepared


async def file_new_profiles(session: AsyncSession, new: list[tuple[int, str, list[tuple[str, str]]]]) -> None:
    """``(customer_id, name, [(kind, value), ...])`` of customers created in this transaction:
    filed in three statements for the whole batch (no reads: they have no profile yet)."""
    rows = []
    for customer_id, name, keys in new:
        fields = comparison_fields(
            RawPerson(full_name=name, phones=[v for k, v in keys if k == "phone"], emails=[v for k, v in keys if k == "email"])
        )
        if fields:
            rows.append((customer_id, fields))
    if not rows:
        return
    now = utcnow()
    await _NEW_PROFILES.run(session, [(cid, f, now) for cid, f in rows])
    filed = filed_keys_of([f for _, f in rows])  # each key blinded once, in one loop
    await _NEW_BLOCKS.run(session, [(key, cid) for (cid, _), keys in zip(rows, filed, strict=True) for key in sorted(keys)])
    await adjust_terms(session, term_changes([], [f for _, f in rows]))


# a webhook group's new customers' rows go to the driver as tuples (okno.kit.bulk): the fields
# sealed by their column's own processor, as SQLAlchemy's insert would
_NEW_PROFILES = BulkInsert(MatchProfile.__table__, ("customer_id", "fields", "updated_at"))
_NEW_BLOCKS = BulkInsert(MatchBlock.__table__, ("key", "customer_id"))
