"""Real-time scoring against the stored base: the one-statement candidate query gives exactly
what the matcher's definition gives when worked out in Python over every stored profile."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
from sqlalchemy import event, select

from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.fields import MAX_BLOCK_SIZE, RawPerson, block_cap, blocking_keys, comparison_fields, filed_key, filed_keys
from okno.customers.matching.model import MatchModel, explain, score_gamma
from okno.customers.matching.profiles import TERM_FIELDS
from okno.customers.matching.realtime import MAX_CANDIDATES, candidates_for, score_record
from okno.customers.matching.synthetic import generate_records
from okno.models import MatchBlock, MatchProfile
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import ATTRIBUTES, customer_by, store_people, touch


def _members(stored: dict[int, dict]) -> dict[str, list[int]]:
    members: dict[str, list[int]] = {}
    for customer_id, profile in stored.items():
        for key in blocking_keys(profile):
            members.setdefault(key, []).append(customer_id)
    return members


def _ranked(members: dict[str, list[int]], fields: dict, exclude: int | None) -> list[int]:
    """Profiles sharing a blocking key that is not too common, ranked by the sum over the keys
    they share of MAX_BLOCK_SIZE // block size (rarer keys weigh more), then keys shared, then id."""
    shared: Counter = Counter()
    weight: Counter = Counter()
    for key in blocking_keys(fields):
        block = members.get(key, [])
        if len(block) <= block_cap(key):  # single-field keys: only where rare
            shared.update(c for c in block if c != exclude)
            weight.update({c: MAX_BLOCK_SIZE // len(block) for c in block if c != exclude})
    return sorted(shared, key=lambda c: (-weight[c], -shared[c], c))[:MAX_CANDIDATES]


def _expected(stored: dict[int, dict], fields: dict, exclude: int | None) -> list[tuple]:
    """The matcher's definition, over every stored profile at once."""
    ids = _ranked(_members(stored), fields, exclude)
    if not ids:
        return []
    counts = Counter((name, p[name][:200]) for p in stored.values() for name in TERM_FIELDS if p.get(name))
    shares = {name: counts[(name, fields[name][:200])] / len(stored) for name in TERM_FIELDS if counts.get((name, fields.get(name, "")[:200]))}
    gamma = compare_pairs(Frame([fields]), Frame([stored[i] for i in ids]), np.zeros(len(ids), dtype=np.int64), np.arange(len(ids)))
    scores = score_gamma(MatchModel(), gamma, {c: np.full(len(ids), shares.get(c, np.nan)) for c in TERM_FIELDS})
    order = np.argsort(-scores.total, kind="stable")
    return [(ids[p], float(scores.probability[p]), round(float(scores.total[p]), 2), explain(scores.weights[p], gamma[p])) for p in order]


async def test_score_record_equals_the_matchers_definition_in_one_statement(ctx, monkeypatch) -> None:  # noqa: ANN001
    from okno.customers.matching import realtime

    monkeypatch.setattr(realtime, "CACHE_SECONDS", 3600.0)  # on a loaded machine the loop outlasts 30 s; the refresh has its own test
    rows = generate_records(1600, duplicate_share=0.3, seed=31)
    originals, seen, queries = [], set(), []
    for row in rows:
        (queries if row["person_id"] in seen else originals).append(row)
        seen.add(row["person_id"])
    await store_people(ctx, originals)
    async with ctx.db.reading() as session:
        stored = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields))).all())
    assert len(stored) > 1000  # term-frequency adjustment applies from 1000 profiles
    members = _members(stored)
    statements: list[str] = []
    event.listen(ctx.db.reader.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    compared = matched = 0
    as_fields = lambda row: comparison_fields(RawPerson(**{k: row[k] for k in ATTRIBUTES}, phones=[row["phone"]], emails=[row["email"]]))  # noqa: E731
    async with ctx.db.reading() as session:
        assert await score_record(session, as_fields(originals[0]))  # the base size is now cached
        for n, row in enumerate(queries[:150] + originals[:50]):
            fields = as_fields(row)
            exclude = n % 40 + 1 if n % 3 == 0 else None
            statements.clear()
            found = await score_record(session, fields, exclude=exclude, model=MatchModel())
            assert len(statements) == 1, statements
            assert [(c.customer_id, c.score, c.match_weight, c.contributions) for c in found] == _expected(stored, fields, exclude)
            assert await candidates_for(session, fields, exclude=exclude) == _ranked(members, fields, exclude)
            compared += len(found)
            matched += bool(found)
    assert matched > 150 and compared > matched  # most queries have candidates, some several


async def test_a_key_shared_by_too_many_profiles_narrows_nothing(ctx) -> None:  # noqa: ANN001
    born = [(date(1950, 1, 1) + timedelta(days=40 * i)).isoformat() for i in range(MAX_BLOCK_SIZE + 1)]  # one per month; over the limit under postcode + first name too
    person = {"first_name": "Anna", "last_name": "Smith", "city": "", "address": "", "postcode": "SW1A", "phone": "", "email": ""}
    crowd = [{**person, "birth_date": b} for b in born]
    twins = [{**person, "first_name": "Quentin", "birth_date": "1940-05-05"}] * 2  # with the crowd: 303 share the postcode key
    await store_people(ctx, crowd + twins)
    async with ctx.db.reading() as session:
        member = comparison_fields(RawPerson(**{k: crowd[0][k] for k in ATTRIBUTES}))
        same_year_or_day = [i + 1 for i, b in enumerate(born) if b[:4] == born[0][:4] or b[5:] == born[0][5:]]  # the n: and nd: name keys
        assert 1 < len(same_year_or_day) < 20
        assert await candidates_for(session, member) == same_year_or_day  # its name, date keys; not the postcode key
        twin = comparison_fields(RawPerson(**{k: twins[0][k] for k in ATTRIBUTES}))
        assert await candidates_for(session, twin) == [len(crowd) + 1, len(crowd) + 2]  # the same keys shared: by id
        assert await candidates_for(session, twin, exclude=len(crowd) + 1) == [len(crowd) + 2]


async def test_a_stale_base_size_is_served_while_a_background_count_refreshes_it(ctx, monkeypatch) -> None:  # noqa: ANN001
    import asyncio

    from sqlalchemy import delete

    from okno.customers.matching import realtime

    await store_people(ctx, generate_records(60, duplicate_share=0.0, seed=5))
    statements: list[str] = []
    event.listen(ctx.db.reader.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with ctx.db.reading() as session:
        assert await realtime._base_size(session) == 60  # first use: counted in the request
        assert any("count(" in s.lower() for s in statements)
    async with ctx.db.transaction() as session:
        await session.execute(delete(MatchProfile).where(MatchProfile.customer_id > 40))
    later = realtime.time.monotonic() + realtime.CACHE_SECONDS + 1
    monkeypatch.setattr(realtime.time, "monotonic", lambda: later)
    statements.clear()
    async with ctx.db.reading() as session:
        assert await realtime._base_size(session) == 60  # the stale figure at once, no count on the request
        assert not any("count(" in s.lower() for s in statements)
        assert await realtime._base_size(session) == 60  # one refresh in flight, not two
        slot = realtime._cache[realtime._engine(session)]
    await asyncio.wait_for(slot["size_refresh"], timeout=10)
    async with ctx.db.reading() as session:
        assert await realtime._base_size(session) == 40
    assert sum("count(" in s.lower() for s in statements) == 1


async def test_changing_compared_attributes_through_the_api_refiles_the_profile(client, ctx) -> None:  # noqa: ANN001
    """A birth date and postcode set by an operator or a CRM are matched on at once: the profile
    and its blocking keys follow in the same transaction (a VIP tier, which the matcher doesn't
    compare, leaves them alone)."""
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79161230001", "name": "Ольга Сидорова"})
    customer = await customer_by(client, headers, "phone:+79161230001")

    async def filed() -> tuple[dict, set[str]]:
        async with ctx.db.reading() as session:
            fields = await session.scalar(select(MatchProfile.fields).where(MatchProfile.customer_id == customer["id"]))
            keys = set(await session.scalars(select(MatchBlock.key).where(MatchBlock.customer_id == customer["id"])))
        return fields, keys

    before = await filed()
    response = await client.patch(f"/api/v1/customers/{customer['id']}/attributes", json={"vip_tier": "gold"}, headers=headers)
    assert response.status_code == 200 and await filed() == before
    response = await client.patch(f"/api/v1/customers/{customer['id']}/attributes", json={"birth_date": "01.04.1990", "postcode": "190 000"}, headers=headers)
    assert response.status_code == 200
    fields, keys = await filed()
    assert (fields["birth_date"], fields["postcode"]) == ("1990-04-01", "190000")
    assert filed_key("bz:1990-04-01:190000") in keys and keys == filed_keys(fields)


async def test_the_true_match_is_scored_when_a_crowd_shares_more_keys_than_it(ctx) -> None:  # noqa: ANN001
    """More namesakes than the budget share two keys with the record (its names with its birth
    year, and with its city); the person himself, under a new surname, shares one: his phone.
    Counting shared keys would rank the whole crowd above him and cut him off; a key held by
    one profile outweighs two held by a crowd, so he is fetched, scored and ranked first."""
    crowd_size = MAX_CANDIDATES + 30
    days = [date(1990, 1, 1) + timedelta(days=d) for d in range(0, 366, 4)]
    person = {"first_name": "Анна", "last_name": "Смирнова", "city": "Казань", "address": "", "postcode": "", "email": ""}
    crowd = [{**person, "birth_date": day.isoformat(), "phone": ""} for day in days if day.strftime("%m-%d") != "07-15"][:crowd_size]
    himself = {**person, "last_name": "Петрова", "birth_date": "1990-07-16", "city": "", "phone": "+79161234567"}  # a new surname, a slip in the date
    await store_people(ctx, [*crowd, himself])
    record = comparison_fields(RawPerson(**{**{k: person[k] for k in ATTRIBUTES if k in person}, "birth_date": "1990-07-15"}, phones=["8 916 123-45-67"]))
    async with ctx.db.reading() as session:
        stored = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields))).all())
    members = _members(stored)
    shared = Counter(c for key in blocking_keys(record) if len(members.get(key, [])) <= block_cap(key) for c in members.get(key, []))
    true_id = len(crowd) + 1
    assert len(crowd) == crowd_size and sum(n > shared[true_id] for n in shared.values()) > MAX_CANDIDATES  # by keys shared he would be cut off
    async with ctx.db.reading() as session:
        ranked = await candidates_for(session, record)
        found = await score_record(session, record, model=MatchModel())
    assert len(ranked) == MAX_CANDIDATES and ranked[0] == true_id
    assert found[0].customer_id == true_id and {"field": "phone", "comparison": "same"} in [{k: c[k] for k in ("field", "comparison")} for c in found[0].contributions]
