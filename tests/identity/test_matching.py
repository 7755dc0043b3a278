"""Probabilistic matching: batch quality on generated data, explanations, suggestions, thresholds."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from okno.customers.matching.batch import dedupe, term_shares
from okno.customers.matching.columns import map_columns, person_from_row
from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.fields import RawPerson, comparison_fields
from okno.customers.matching.model import MatchModel, score_gamma
from okno.customers.matching.suggestions import index_and_suggest
from okno.customers.matching.synthetic import generate_records, true_pairs
from okno.models import MatchProfile
from tests.factories import admin_headers, login, make_api_channel, make_operator
from tests.identity.helpers import customer_by, set_attributes, touch


def _fields(rows: list[dict]) -> list[dict]:
    mapping = map_columns(list(rows[0]))
    return [comparison_fields(person_from_row({k: str(v) for k, v in r.items()}, mapping)) for r in rows]


def test_batch_dedupe_finds_generated_duplicates() -> None:
    rows = generate_records(4000, seed=5)
    result = dedupe(_fields(rows))
    truth, found = set(true_pairs(rows)), {tuple(p) for p in result.pairs.tolist()}
    precision, recall = len(truth & found) / len(found), len(truth & found) / len(truth)
    assert precision > 0.85 and recall > 0.95, (precision, recall)
    assert all(len(c) >= 2 for c in result.clusters)
    assert result.stats["candidate_pairs"] < 4000 * 40  # blocking, not all pairs


def _score(base: list[RawPerson], a: int, b: int, model: MatchModel | None = None) -> tuple[float, list]:
    records = [comparison_fields(p) for p in base]
    frame = Frame(records)
    for column, shares in term_shares(records).items():
        frame.set_term_shares(column, shares)
    gamma = compare_pairs(frame, frame, np.array([a]), np.array([b]))
    scores = score_gamma(model or MatchModel(), gamma, {c: s[[a]] for c, s in frame.shares.items()})
    return float(scores.probability[0]), scores.weights[0].tolist()


def test_same_common_name_and_city_is_not_enough_but_a_rare_one_with_birth_date_is() -> None:
    crowd = [RawPerson(first_name="Иван", last_name="Иванов", city="Москва", phones=[f"+7916000{i:04d}"]) for i in range(300)]
    crowd += [RawPerson(first_name="Olga", last_name=f"Name{i}", city="Moscow") for i in range(700)]
    crowd += [
        RawPerson(first_name="Евфросиния", last_name="Щукина-Зальцман", city="Казань", birth_date="1961-07-03"),
        RawPerson(first_name="Evfrosiniya", last_name="Shchukina-Zaltsman", city="Kazan", birth_date="03.07.1961"),
    ]
    common, _ = _score(crowd, 0, 1)
    assert common < MatchModel().review_threshold
    rare, _ = _score(crowd, 1000, 1001)
    assert rare > 0.99


async def _indexed_pair(client, ctx):  # noqa: ANN001, ANN202
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79164440001", "name": "Анна Петрова"})
    await touch(client, ctx, channel, {"phone": "+79035557788", "name": "Anna Petrova"})
    a = (await customer_by(client, headers, "phone:+79164440001"))["id"]
    b = (await customer_by(client, headers, "phone:+79035557788"))["id"]
    await set_attributes(ctx, a, {"birth_date": "1988-02-14", "city": "Москва", "address": "ул. Ленина, д. 5, кв. 7"})
    await set_attributes(ctx, b, {"birth_date": "14.02.1988", "city": "Moscow", "address": "ul. Lenina d 5 kv 7"})
    async with ctx.db.transaction() as session:
        await index_and_suggest(session, a)
    async with ctx.db.transaction() as session:
        await index_and_suggest(session, b)
    return headers, a, b


async def test_suggestions_are_explained_queued_and_accepted(client, ctx) -> None:
    headers, a, b = await _indexed_pair(client, ctx)
    response = await client.get(f"/api/v1/customers/{b}/merge-suggestions", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["customer_id"] for i in body["items"]] == [a] and body["auto_threshold"] is None
    item = body["items"][0]
    assert item["score"] >= body["review_threshold"]
    by_field = {c["field"]: c for c in item["contributions"]}
    assert by_field["first_name"]["comparison"] == "exact" and by_field["birth_date"]["weight"] > 5
    assert by_field["phone"]["comparison"] == "different" and by_field["phone"]["weight"] < 0
    assert abs(sum(c["weight"] for c in item["contributions"]) - (item["match_weight"] - np.log2(0.01 / 0.99))) < 0.05

    queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
    assert [(q["customer_id"], q["other_customer_id"]) for q in queue] == [(b, a)]
    accepted = await client.post(f"/api/v1/merge-suggestions/{queue[0]['id']}/accept", json={"reason": "same birthday, same flat"}, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "merged"
    assert (await client.get(f"/api/v1/customers/{b}", headers=headers)).json()["merged_into_id"] == a
    merges = (await client.get(f"/api/v1/customers/{a}/merges", headers=headers)).json()["items"]
    assert merges[0]["origin"] == "suggestion" and merges[0]["score"] > 0.9
    async with ctx.db.reading() as session:
        assert (await session.scalar(select(MatchProfile).where(MatchProfile.customer_id == b))) is None


async def test_dismissed_pairs_stay_dismissed_and_settings_are_admin_only(client, ctx) -> None:
    headers, a, b = await _indexed_pair(client, ctx)
    queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
    assert (await client.post(f"/api/v1/merge-suggestions/{queue[0]['id']}/dismiss", json={}, headers=headers)).json()["status"] == "dismissed"
    assert (await client.get(f"/api/v1/customers/{b}/merge-suggestions", headers=headers)).json()["items"] == []
    assert (await client.post(f"/api/v1/merge-suggestions/{queue[0]['id']}/accept", json={}, headers=headers)).status_code == 409

    operator = await make_operator(ctx)
    op_headers = await login(client, email=operator["email"])
    assert (await client.put("/api/v1/matcher", json={"auto_threshold": 0.99}, headers=op_headers)).status_code == 403
    bad = await client.put("/api/v1/matcher", json={"m": {"phone": [0.5, 0.5]}}, headers=headers)
    assert bad.status_code == 422
    lowered = await client.put("/api/v1/matcher", json={"review_threshold": 0.5, "auto_threshold": 0.9}, headers=headers)
    assert lowered.status_code == 200 and lowered.json()["auto_threshold"] == 0.9
    assert (await client.get("/api/v1/matcher", headers=headers)).json()["review_threshold"] == 0.5
    off = await client.put("/api/v1/matcher", json={"auto_threshold": None}, headers=headers)
    assert off.json()["auto_threshold"] is None and off.json()["review_threshold"] == 0.5


async def test_auto_threshold_merges_a_new_customer_into_its_match(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    assert (await client.put("/api/v1/matcher", json={"auto_threshold": 0.98}, headers=headers)).status_code == 200
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79165550001", "email": "ivan.sokolov@example.ru", "name": "Иван Соколов"})
    first = (await customer_by(client, headers, "phone:+79165550001"))["id"]
    await set_attributes(ctx, first, {"birth_date": "1979-11-30", "unverified_identities": ["email:sokolov.work@example.com"]})
    async with ctx.db.transaction() as session:
        await index_and_suggest(session, first)
    # a new customer: new phone, same name, the e-mail the first one had as evidence
    await touch(client, ctx, channel, {"email": "sokolov.work@example.com", "name": "Ivan Sokolov"})
    merged = (await client.get(f"/api/v1/customers/{first}/merges", headers=headers)).json()["items"]
    assert len(merged) == 1 and merged[0]["origin"] == "auto" and merged[0]["merged_by_id"] is None
    survivor = await customer_by(client, headers, "email:sokolov.work@example.com")
    assert survivor["id"] == first


async def test_dedupe_files_customers_that_have_no_profile_yet(client, ctx) -> None:
    from sqlalchemy import delete

    from okno.customers.matching.dedupe_base import dedupe_base

    headers, a, b = await _indexed_pair(client, ctx)
    async with ctx.db.transaction() as session:  # as if they predated the matcher
        await session.execute(delete(MatchProfile))
    stats = await dedupe_base(ctx.db, threshold=None, merge=False)
    assert stats["profiles_indexed_now"] == 2 and stats["suggestions_written"] == 1
    queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
    assert [(q["customer_id"], q["other_customer_id"]) for q in queue] == [(b, a)]


async def test_estimate_re_fits_parameters_from_stored_profiles(client, ctx) -> None:
    from okno.customers.importer import import_rows

    headers = await admin_headers(ctx, client)
    rows = generate_records(400, seed=12)
    columns = ["first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"]
    async with ctx.db.transaction() as session:
        await import_rows(session, [{c: r[c] for c in columns} for r in rows], map_columns(columns), id_column=None, first_row_number=2)
    sampled = await client.post("/api/v1/matcher/estimate", params={"sample": 100}, headers=headers)
    assert sampled.status_code == 202 and sampled.json()["status"] == "queued"  # a job: the request only queues it
    await ctx.settle()
    sampled = await client.get(f"/api/v1/jobs/{sampled.json()['id']}", headers=headers)
    assert sampled.json()["status"] == "done" and sampled.json()["result"]["stats"]["profiles"] == 100
    response = await client.post("/api/v1/matcher/estimate", headers=headers)
    assert response.status_code == 202, response.text
    await ctx.settle()
    job = (await client.get(f"/api/v1/jobs/{response.json()['id']}", headers=headers)).json()
    assert job["status"] == "done" and job["attempts"] == 1 and job["progress"]["stage"] == "saved", job
    body = job["result"]
    assert body["stats"]["profiles"] >= 100 and body["params"]["review_threshold"] == 0.95
    m = body["params"]["m"]
    assert all(abs(sum(v) - 1) < 1e-6 for v in m.values()) and m["first_name"][0] > m["first_name"][3]
    assert (await client.get("/api/v1/matcher", headers=headers)).json()["u"] == body["params"]["u"]


async def test_the_household_share_is_shown_set_and_cleared_through_the_matcher_settings(client, ctx) -> None:
    from okno.customers.matching.realtime import current_model

    headers = await admin_headers(ctx, client)
    assert (await client.get("/api/v1/matcher", headers=headers)).json()["household_share"] is None  # never estimated: households assumed
    assert (await client.put("/api/v1/matcher", json={"household_share": 1.5}, headers=headers)).status_code == 422
    assert (await client.put("/api/v1/matcher", json={"household_share": 0.01}, headers=headers)).json()["household_share"] == 0.01
    async with ctx.db.reading() as session:
        assert not (await current_model(session, fresh=True)).households  # real-time scoring drops the discount
    assert (await client.put("/api/v1/matcher", json={"household_share": None}, headers=headers)).json()["household_share"] is None
    async with ctx.db.reading() as session:
        assert (await current_model(session, fresh=True)).households
