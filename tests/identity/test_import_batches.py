"""CRM import in batches: the outcome of a batch of rows is exactly the outcome of the same rows
imported one at a time (each written before the next is read)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select, update

from okno.customers.importer import ImportReport, import_rows
from okno.customers.matching.columns import map_columns, person_from_row
from okno.customers.matching.fields import MAX_BLOCK_SIZE, RawPerson, comparison_fields
from okno.customers.matching.pending import PendingBase
from okno.customers.matching.profiles import refresh_profiles
from okno.customers.matching.realtime import MAX_CANDIDATES, current_model, score_record
from okno.customers.matching.synthetic import generate_records
from okno.models import Customer, Identity, IdentityConflict, MatchBlock, MatchProfile, MatchSuggestion, MatchTerm, TimelineEvent
from tests.factories import admin_headers
from tests.identity.helpers import ATTRIBUTES, store_people

COLUMNS = ["crm", "first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"]
MAPPING = map_columns(COLUMNS)


class _RolledBack(Exception):
    def __init__(self, report: ImportReport, outcome: dict) -> None:
        self.report, self.outcome = report, outcome


def _people() -> tuple[list[dict], list[dict]]:
    """``(base, file)``: the file holds new people, duplicates of stored and of earlier (and
    later) rows, a key owned by two stored customers, a CRM id repeated, a row with nothing."""
    base, file, seen = [], [], set()
    for generated in generate_records(1900, duplicate_share=0.3, seed=41):
        row = {"crm": generated["rec_id"], **{c: str(generated[c]) for c in COLUMNS[1:]}}
        (base if generated["person_id"] not in seen and len(base) < 1100 else file).append(row)
        seen.add(generated["person_id"])
    file = file[:520]
    random.Random(3).shuffle(file)
    with_email = next(r for r in base if r["email"])
    file.insert(40, {**file[0], "crm": "clash-1", "phone": base[0]["phone"], "email": with_email["email"]})  # two stored owners
    file.insert(60, {**file[10], "crm": file[5]["crm"], "phone": "", "email": ""})  # a CRM id an earlier row brought
    file.insert(80, {**file[20], "crm": "clash-2", "email": base[1]["email"] or "b1@example.com"})  # a row's new key vs a stored one
    file.insert(100, dict.fromkeys(COLUMNS, ""))
    return base, file


async def _import(session, rows: list[dict], chunk: int) -> ImportReport:  # noqa: ANN001
    report = ImportReport()
    for start in range(0, len(rows), chunk):
        report.add(await import_rows(session, rows[start : start + chunk], MAPPING, id_column="crm", first_row_number=start + 2))
    return report


async def _outcome(session, base_ids: int) -> dict:  # noqa: ANN001
    """Everything an import writes, with customers it created named by creation order (ids
    taken and rolled back on PostgreSQL are not given back)."""
    new_ids = sorted(i for i in (await session.scalars(select(Customer.id).where(Customer.id > base_ids))).all())
    label = {i: f"new-{n}" for n, i in enumerate(new_ids)}
    name = lambda i: label.get(i, f"stored-{i}")  # noqa: E731
    return {
        "customers": {name(c.id): (c.name, c.attributes) for c in (await session.scalars(select(Customer))).all()},
        "identities": sorted((k, v, name(c)) for k, v, c in await session.execute(select(Identity.kind, Identity.value, Identity.customer_id))),
        "timeline": [(name(c), k, d) for c, k, d in await session.execute(select(TimelineEvent.customer_id, TimelineEvent.kind, TimelineEvent.data).order_by(TimelineEvent.id))],
        "conflicts": sorted((k, v, name(o), name(c)) for k, v, o, c in await session.execute(select(IdentityConflict.kind, IdentityConflict.value, IdentityConflict.owner_id, IdentityConflict.claimant_id))),
        "suggestions": sorted((name(a), name(b), s, str(e)) for a, b, s, e in await session.execute(select(MatchSuggestion.customer_id, MatchSuggestion.other_customer_id, MatchSuggestion.score, MatchSuggestion.contributions))),
        "profiles": {name(c): f for c, f in await session.execute(select(MatchProfile.customer_id, MatchProfile.fields))},
        "blocks": sorted((k, name(c)) for k, c in await session.execute(select(MatchBlock.key, MatchBlock.customer_id))),
        "terms": {(f, v): n for f, v, n in await session.execute(select(MatchTerm.field, MatchTerm.value, MatchTerm.count)) if n},
    }  # fmt: skip


async def _rolled_back_import(ctx, rows: list[dict], chunk: int, base_ids: int) -> tuple[ImportReport, dict]:  # noqa: ANN001
    try:
        async with ctx.db.transaction() as session:
            report = await _import(session, rows, chunk)
            raise _RolledBack(report, await _outcome(session, base_ids))
    except _RolledBack as done:
        return done.report, done.outcome


async def test_a_batch_resolves_exactly_as_row_by_row(client, ctx) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    changed = await client.put("/api/v1/matcher", json={"review_threshold": 0.001, "auto_threshold": 0.999}, headers=headers)
    assert changed.status_code == 200
    base, file = _people()
    async with ctx.db.transaction() as session:
        await _import(session, base, 500)
    async with ctx.db.reading() as session:
        base_ids = max((await session.scalars(select(Customer.id))).all())
    assert base_ids > 1000  # the term-frequency adjustment applies

    one_by_one, expected = await _rolled_back_import(ctx, file, 1, base_ids)
    batched, outcome = await _rolled_back_import(ctx, file, 250, base_ids)

    assert vars(batched) == vars(one_by_one)
    r = one_by_one
    assert r.created > 50 and r.attached_by_key > 50 and r.attached_by_match > 5 and r.suggested >= 2 and r.conflicts >= 2 and len(r.skipped) == 1, vars(r)
    for part in expected:
        assert outcome[part] == expected[part], part


async def test_nothing_staged_scores_as_the_real_time_path(ctx) -> None:  # noqa: ANN001
    base, file = _people()
    async with ctx.db.transaction() as session:
        await _import(session, base, 500)
    records = [comparison_fields(person_from_row(row, MAPPING)) for row in file[:120]]
    async with ctx.db.reading() as session:
        model = await current_model(session)
        pending = PendingBase(batch_rows=len(records))
        await pending.prefetch(session, records)
        scored = 0
        for fields in records:
            live = await score_record(session, fields, model=model)
            assert await pending.score(session, fields, model) == live
            scored += len(live)
    assert scored > 100


async def test_a_key_the_batch_thins_out_below_the_limit_counts_again(ctx) -> None:  # noqa: ANN001
    person = {"first_name": "Anna", "last_name": "Smith", "city": "", "address": "", "postcode": "SW1A", "phone": "", "email": ""}
    crowd = [{**person, "birth_date": (date(1950, 1, 1) + timedelta(days=40 * i)).isoformat()} for i in range(MAX_BLOCK_SIZE + 2)]
    await store_people(ctx, crowd)  # 302 profiles under the postcode key: too common
    moved = {1: {**crowd[0], "postcode": "N1"}, 2: {**crowd[1], "postcode": "N1"}}  # two leave it: 300 remain
    query = comparison_fields(RawPerson(first_name="Anne", last_name="Smith", postcode="SW1A", birth_date="1901-01-03"))  # no crowd member shares its day and month (the nd: key)
    async with ctx.db.reading() as session:
        model = await current_model(session)
        before = PendingBase(batch_rows=2)
        await before.prefetch(session, [query])
        assert await before.score(session, query, model) == []
        pending = PendingBase(batch_rows=2)
        await pending.prefetch(session, [query])
        stored = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields))).all())
        for customer_id, row in moved.items():
            pending.stage(customer_id, comparison_fields(RawPerson(**{k: row[k] for k in ATTRIBUTES})), stored=stored[customer_id])
        staged = await pending.score(session, query, model)
    async with ctx.db.transaction() as session:
        for customer_id, row in moved.items():
            await session.execute(update(Customer).where(Customer.id == customer_id).values(attributes={k: row[k] for k in ATTRIBUTES if row[k]}))
        await refresh_profiles(session, list(moved))
    async with ctx.db.reading() as session:
        filed = await score_record(session, query, model=model)
    assert len(filed) == MAX_CANDIDATES and staged == filed  # the key counts again: the crowd are candidates
