"""An imported id number (national id, SNILS, social security number) is kept on the customer,
in the stored profile and its blocking keys, so real time and database dedupe use it; older
profiles get new blocking keys by ``reindex``; saved weights that no longer fit are reported."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from okno.customers.importer import import_rows
from okno.customers.matching.columns import map_columns
from okno.customers.matching.fields import RawPerson, comparison_fields, filed_key
from okno.customers.matching.model import DEFAULT_M
from okno.customers.matching.realtime import candidates_for, current_model, score_record
from okno.customers.matching.reindex import reindex_profiles
from okno.customers.personal import masked, shown_attributes
from okno.models import Customer, MatchBlock, MatcherSettings, MatchProfile, MatchSuggestion
from tests.factories import admin_headers

COLUMNS = ["crm", "first_name", "last_name", "ssn"]


async def _import(ctx, rows: list[dict]):  # noqa: ANN001, ANN202
    async with ctx.db.transaction() as session:
        return await import_rows(session, rows, map_columns(COLUMNS[1:]), id_column="crm", first_row_number=2)


async def _only_customer(ctx, crm: str) -> Customer:  # noqa: ANN001
    async with ctx.db.reading() as session:
        from okno.customers.identity_index import is_key
        from okno.models import Identity

        return (await session.scalars(select(Customer).join(Identity, Identity.customer_id == Customer.id).where(is_key("crm", crm)))).one()


# the same person under a new surname: only the id number (key "i:…") brings the two together
FIRST = {"crm": "c-1", "first_name": "Olga", "last_name": "Sidorova", "ssn": "123-456-789 01"}
SECOND = {"crm": "c-2", "first_name": "Olga", "last_name": "Kuznetsova", "ssn": "12345678901"}


async def test_an_imported_id_number_is_stored_filed_and_found_in_real_time(ctx) -> None:  # noqa: ANN001
    await _import(ctx, [FIRST])
    first = await _only_customer(ctx, "c-1")
    assert first.attributes["id_number"] == "123-456-789 01"
    async with ctx.db.reading() as session:
        assert (await session.get(MatchProfile, first.id)).fields["id_number"] == "12345678901"
        assert filed_key("i:12345678901") in set((await session.scalars(select(MatchBlock.key).where(MatchBlock.customer_id == first.id))).all())
        fields = comparison_fields(RawPerson(first_name="Olga", last_name="Kuznetsova", id_number="12345678901"))
        found = await score_record(session, fields)
    assert [c.customer_id for c in found] == [first.id]
    assert {"field": "id_number", "comparison": "same"} in [{k: c[k] for k in ("field", "comparison")} for c in found[0].contributions]

    report = await _import(ctx, [SECOND])
    second = await _only_customer(ctx, "c-2")
    assert report.created == 1 and report.suggested == 1
    async with ctx.db.reading() as session:
        queued = (await session.execute(select(MatchSuggestion.customer_id, MatchSuggestion.other_customer_id))).all()
    assert [tuple(q) for q in queued] == [(second.id, first.id)]


async def test_database_dedupe_pairs_customers_through_their_id_numbers(ctx) -> None:  # noqa: ANN001
    from okno.customers.matching.dedupe_base import dedupe_base

    await _import(ctx, [FIRST])
    await _import(ctx, [SECOND])
    async with ctx.db.transaction() as session:
        await session.execute(delete(MatchSuggestion))  # the import's own; dedupe must find the pair again
    stats = await dedupe_base(ctx.db, threshold=None, merge=False)
    assert stats["suggestions_written"] == 1
    async with ctx.db.reading() as session:
        assert (await session.scalar(select(MatchSuggestion.contributions))) is not None


async def test_reindex_files_old_profiles_under_the_new_keys_and_is_idempotent(ctx) -> None:  # noqa: ANN001
    await _import(ctx, [FIRST, {"crm": "c-3", "first_name": "Pavel", "last_name": "Orlov", "ssn": ""}])
    first = await _only_customer(ctx, "c-1")
    async with ctx.db.transaction() as session:  # filed before the matcher knew id numbers
        stored = await session.get(MatchProfile, first.id)
        await session.execute(update(MatchProfile).where(MatchProfile.customer_id == first.id).values(fields={k: v for k, v in stored.fields.items() if k != "id_number"}))
        await session.execute(delete(MatchBlock).where(MatchBlock.key.like("i:%")))
    probe = comparison_fields(RawPerson(first_name="Irina", last_name="Belova", id_number="12345678901"))  # only the id number in common
    async with ctx.db.reading() as session:
        assert await candidates_for(session, probe) == []

    seen = []
    report = await reindex_profiles(ctx.db, chunk=1, progress=lambda r: seen.append(r.customers))
    assert (report.customers, report.refiled) == (2, 1) and seen == [1, 2]
    async with ctx.db.reading() as session:
        assert await candidates_for(session, probe) == [first.id]
        assert (await session.get(MatchProfile, first.id)).fields["id_number"] == "12345678901"
    again = await reindex_profiles(ctx.db)
    assert (again.customers, again.refiled) == (2, 0)
    assert (await reindex_profiles(ctx.db, after_id=report.last_id)).customers == 0


def test_id_numbers_are_masked_where_operators_read_attributes() -> None:
    shown = shown_attributes({"id_number": "123-456-789 01", "city": "Tver", "_alternatives": {"id_number": [{"value": "98765432100", "source": "crm_import"}]}})
    assert shown["id_number"] == "•••• 8901" and shown["city"] == "Tver"
    assert shown["_alternatives"]["id_number"] == [{"value": "•••• 2100", "source": "crm_import"}]
    assert masked("1234") == "••••"


async def test_saved_weights_that_no_longer_fit_are_reported_and_the_rest_kept(client, ctx, monkeypatch) -> None:  # noqa: ANN001
    from okno.customers.matching import realtime

    warnings: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime.log, "warning", lambda event, **kw: warnings.append((event, kw)))
    headers = await admin_headers(ctx, client)
    saved = (await client.put("/api/v1/matcher", json={"m": {"first_name": [0.7, 0.1, 0.1, 0.1]}}, headers=headers)).json()
    assert saved["weights_out_of_date"] == []
    async with ctx.db.transaction() as session:  # as saved when the address had five levels, before id numbers existed
        row = await session.get(MatcherSettings, 1)
        params = {**row.params, "m": {k: v for k, v in row.params["m"].items() if k != "id_number"} | {"address": [0.6, 0.1, 0.1, 0.05, 0.15]}}
        params["u"] = {k: v for k, v in row.params["u"].items() if k != "id_number"} | {"address": [0.001, 0.01, 0.05, 0.05, 0.889]}
        await session.execute(update(MatcherSettings).where(MatcherSettings.id == 1).values(params=params))
    body = (await client.get("/api/v1/matcher", headers=headers)).json()
    assert body["weights_out_of_date"] == ["address", "id_number"]
    assert body["m"]["first_name"] == [0.7, 0.1, 0.1, 0.1]  # still fits: kept
    assert len(body["m"]["address"]) == len(DEFAULT_M["address"]) and len(body["m"]["id_number"]) == 4  # defaults stand in
    assert [kw["comparisons"] for event, kw in warnings if event == "matcher_settings_out_of_date"] == [["address", "id_number"]]

    thresholds = (await client.put("/api/v1/matcher", json={"review_threshold": 0.9}, headers=headers)).json()
    assert thresholds["weights_out_of_date"] == ["address", "id_number"]  # defaults aren't saved as if chosen
    address = {"m": {"address": [0.6, 0.1, 0.05, 0.25]}, "u": {"address": [0.001, 0.004, 0.02, 0.975]}}
    assert (await client.put("/api/v1/matcher", json=address, headers=headers)).json()["weights_out_of_date"] == ["id_number"]
    async with ctx.db.reading() as session:
        model = await current_model(session, fresh=True)
    assert model.out_of_date == ("id_number",) and model.review_threshold == 0.9 and model.m["first_name"] == [0.7, 0.1, 0.1, 0.1]
