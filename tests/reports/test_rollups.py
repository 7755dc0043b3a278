"""The monthly rollups (``okno.reports.rollups``) against the facts they summarise: after inserts,
updates of every rolled-up column and deletes, the triggers' tables hold exactly what the facts
group into, and the summary — whole months from the rollups, the rest from the facts, percentiles
from a histogram and one bucket's rows — equals figures computed here in Python from the fact
rows, for random periods (month-aligned and not), filters (the channel filter too: a
conversation that used several channels is in each one's cells, and a channel added or removed
later moves it) and a supervisor's scope."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import case, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from okno.access import Scope
from okno.models import Conversation, Customer, ReportConversation, ReportConversationChannel, ReportSurvey
from okno.reports import queries
from okno.kit.db import insert_ignoring_duplicates
from okno.reports.figures import span_of
from okno.reports.projection import rebuild_lock
from okno.reports.rollups import COLUMNS, THRESHOLDS, bucket_of, grouped_reads

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_DAYS = 120  # four months
ADMIN = Scope(operator_id=0, role="admin")
SUPERVISOR = Scope(operator_id=7, role="supervisor")  # no team memberships: his assigned and unteamed ones
KINDS = ("api", "email", "telegram")
RC, RS = ReportConversation, ReportSurvey
# every fact column a summary figure reads (listed here, not taken from the module under test)
FIGURE_COLUMNS = (
    "opened_at", "resolved_at", "team_id", "operator_id", "frt_seconds", "frt_business_seconds", "sla_first_response",
    "resolution_seconds", "resolution_business_seconds", "sla_resolution", "reopened", "transferred", "repeat_contact_id",
    "first_channel_kind", "channel_kinds",
)  # fmt: skip


def _random_fact(rng: random.Random) -> dict:
    opened = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
    answered = rng.random() < 0.85
    frt = rng.choice((rng.randrange(0, 90), rng.randrange(60, 4000), rng.randrange(40000, 300000))) if answered else None
    resolved = rng.random() < 0.8
    resolution = rng.randrange(0, 500000) if resolved else 0
    kinds = sorted(set(rng.sample(KINDS, rng.randint(1, 2))))
    return {
        "opened_at": opened,
        "team_id": rng.choice((None, 1, 2, 3)),
        "operator_id": rng.choice((None, 5, 6, 7)),
        "frt_seconds": frt,
        "frt_business_seconds": None if frt is None else frt // rng.randint(1, 3),
        "sla_first_response": rng.choice((None, "met", "missed")) if answered else None,
        "resolved_at": opened + timedelta(seconds=resolution) if resolved else None,
        "resolutions": int(resolved),
        "resolution_seconds": resolution,
        "resolution_business_seconds": resolution // rng.randint(1, 4),
        "sla_resolution": rng.choice((None, "met", "missed")) if resolved else None,
        "reopened": rng.choice((0, 0, 0, 1)),
        "transferred": rng.random() < 0.2,
        "repeat_contact_id": rng.choice((None, None, None, 999)),
        "first_channel_kind": kinds[0],
        "channel_kinds": ",".join(kinds),
    }


async def _load(ctx, rng: random.Random, n: int) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        customer = Customer(name="Rollups")
        session.add(customer)
        await session.flush()
        for _ in range(n):
            row = _random_fact(rng)
            conversation = Conversation(customer_id=customer.id, created_at=row["opened_at"])
            session.add(conversation)
            await session.flush()
            session.add(ReportConversation(conversation_id=conversation.id, customer_id=customer.id, **row))
            for channel_id in rng.sample((11, 12), rng.randint(1, 2)):
                session.add(ReportConversationChannel(conversation_id=conversation.id, channel_id=channel_id, kind="api"))
            if rng.random() < 0.5:
                session.add(ReportSurvey(conversation_id=conversation.id, customer_id=customer.id, **_random_survey(rng)))


def _random_survey(rng: random.Random) -> dict:
    kind, top = rng.choice((("csat", 5), ("nps", 10), ("ces", 7)))
    return {
        "survey_id": 1,
        "kind": kind,
        "channel_id": rng.choice((None, 11, 12)),
        "team_id": rng.choice((None, 1, 2, 3)),
        "operator_id": rng.choice((None, 5, 6, 7)),
        "score": rng.choice((None, rng.randint(0 if kind == "nps" else 1, top))),
        "period_at": START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400)),
    }


async def _churn(ctx, rng: random.Random) -> None:  # noqa: ANN001
    """Updates of each rolled-up column (as the projection makes: a transfer, an answer, a
    resolution, a reopening, a repeat contact…) and deletes (a rebuild deletes and re-inserts)."""
    async with ctx.db.transaction() as session:
        ids = list((await session.scalars(select(ReportConversation.conversation_id))).all())
        for conversation_id in rng.sample(ids, len(ids) // 2):
            fresh = _random_fact(rng)
            changed = {key: fresh[key] for key in rng.sample(sorted(fresh), rng.randint(1, 4))}
            if {"frt_seconds", "frt_business_seconds"} & set(changed):  # answered together, as the projection records them
                changed |= {"frt_seconds": fresh["frt_seconds"], "frt_business_seconds": fresh["frt_business_seconds"]}
            if "resolved_at" in changed and changed["resolved_at"] is not None:
                changed["resolved_at"] = max(changed["resolved_at"], START)
            await session.execute(
                update(ReportConversation).where(ReportConversation.conversation_id == conversation_id).values(**changed)
            )
        toggled = {"reopened": case((RC.reopened == 0, 1), else_=0), "transferred": ~RC.transferred}
        for column in FIGURE_COLUMNS:  # each rolled-up column changed alone, on a few rows
            for conversation_id in rng.sample(ids, 6):
                value = toggled[column] if column in toggled else _random_fact(rng)[column]
                where = [RC.conversation_id == conversation_id]
                if column in ("frt_seconds", "frt_business_seconds"):  # a changed duration of an answered one
                    value, where = rng.randrange(1, 90000), [*where, RC.frt_seconds.is_not(None)]
                await session.execute(update(RC).where(*where).values({column: value}))
        await session.execute(
            update(ReportConversation).where(ReportConversation.conversation_id.in_(ids[:5])).values(responses=3)
        )
        surveyed = list((await session.scalars(select(RS.conversation_id))).all())
        for conversation_id in rng.sample(surveyed, len(surveyed) // 2):  # an answer, a later resolution, a move…
            fresh = _random_survey(rng)
            changed = {key: fresh[key] for key in rng.sample(sorted(set(fresh) - {"survey_id", "kind"}), rng.randint(1, 2))}
            await session.execute(update(RS).where(RS.conversation_id == conversation_id).values(**changed))
        await session.execute(delete(RS).where(RS.conversation_id.in_(surveyed[:8])))
        uses = ReportConversationChannel
        for conversation_id in rng.sample(ids, 40):  # a channel the conversation turns to later, or one of its channels undone
            if rng.random() < 0.7:
                fresh = rng.choice((11, 12, 13))
                await session.execute(
                    insert_ignoring_duplicates(
                        uses.__table__, session.bind.dialect.name, ["conversation_id", "channel_id"]
                    ).values(conversation_id=conversation_id, channel_id=fresh, kind="api")
                )
            else:
                await session.execute(
                    delete(uses).where(uses.conversation_id == conversation_id, uses.channel_id == rng.choice((11, 12)))
                )
        gone = rng.sample(ids, 20)
        await session.execute(delete(RS).where(RS.conversation_id.in_(gone)))
        await session.execute(delete(uses).where(uses.conversation_id.in_(gone[:5])))  # the channels first, then the fact
        await session.execute(
            delete(ReportConversation).where(ReportConversation.conversation_id.in_(gone[:10]))
        )  # its channels stay
        await session.execute(delete(uses).where(uses.conversation_id.in_(gone[5:10])))
        await session.execute(delete(Conversation).where(Conversation.id.in_(gone[10:])))  # a cascade to both tables


async def _rollup_rows(session) -> dict[str, set]:  # noqa: ANN001
    """Each rollup table's rows with a non-zero count, and the rows the facts group into."""
    dialect = session.bind.dialect.name
    stored, expected = {}, {}
    for table, columns in COLUMNS.items():
        count = {"report_rollups": "conversations", "report_rollup_surveys": "responses"}.get(table, columns.split(", ")[-1])
        stored[table] = {tuple(r) for r in await session.execute(text(f"SELECT {columns} FROM {table} WHERE {count} <> 0"))}
        expected[table] = {tuple(r) for r in await session.execute(text(grouped_reads(dialect)[table]))}
    return {"stored": stored, "expected": expected}


async def _stale_copies(session) -> int:  # noqa: ANN001
    """Channel rows whose copy of their fact's columns differs from the fact row."""
    columns = ("opened_at", "resolved_at", "team_id", "operator_id", "frt_seconds", "frt_business_seconds",
               "resolution_seconds", "resolution_business_seconds")  # fmt: skip
    differ = " OR ".join(
        f"NOT (used.{c} IS NOT DISTINCT FROM fact.{c})"
        if session.bind.dialect.name == "postgresql"
        else f"used.{c} IS NOT fact.{c}"
        for c in columns
    )
    return await session.scalar(
        text(
            f"SELECT COUNT(*) FROM report_conversation_channels AS used JOIN report_conversations AS fact USING (conversation_id) WHERE {differ}"
        )
    )


def _nearest(values: list[int], num: int, den: int) -> int | None:
    return sorted(values)[(len(values) * num + den - 1) // den - 1] if values else None


def _durations(rows: list, wall: str, business: str) -> dict:
    walls = [r[wall] for r in rows if r[wall] is not None]
    businesses = [r[business] for r in rows if r[business] is not None]
    if not walls:
        return {"count": 0, "avg_seconds": None, "p50_seconds": None, "p90_seconds": None, "business_avg_seconds": None,
                "business_p50_seconds": None}  # fmt: skip
    return {
        "count": len(walls),
        "avg_seconds": math.floor(sum(walls) / len(walls) + 0.5),
        "p50_seconds": _nearest(walls, 1, 2),
        "p90_seconds": _nearest(walls, 9, 10),
        "business_avg_seconds": math.floor(sum(r[business] or 0 for r in rows) / len(walls) + 0.5),
        "business_p50_seconds": _nearest(businesses, 1, 2),
    }


def _expected_surveys(surveys: list[dict], f: queries.Filters) -> dict:
    out = {}
    for kind in ("csat", "nps", "ces"):
        scores = [
            s["score"] for s in surveys
            if s["kind"] == kind and s["score"] is not None and f.start <= s["period_at"] < f.end
            and (f.scope is not SUPERVISOR or s["team_id"] is None or s["operator_id"] == SUPERVISOR.operator_id)
            and all(value is None or s[key] == value for key, value in (("team_id", f.team_id), ("operator_id", f.operator_id),
                                                                       ("channel_id", f.channel_id)))
        ]  # fmt: skip
        score = None
        if scores:
            score = {
                "csat": round(100 * sum(v >= 4 for v in scores) / len(scores), 2),
                "nps": round(100 * (sum(v >= 9 for v in scores) - sum(v <= 6 for v in scores)) / len(scores), 2),
                "ces": round(sum(scores) / len(scores), 2),
            }[kind]
        out[kind] = {"responses": len(scores), "score": score}
    return out


def _expected(facts: list[dict], channels: dict[int, set], f: queries.Filters) -> dict:
    def kept(r: dict) -> bool:
        if f.scope is SUPERVISOR and not (r["team_id"] is None or r["operator_id"] == SUPERVISOR.operator_id):
            return False
        return (
            (f.team_id is None or r["team_id"] == f.team_id)
            and (f.operator_id is None or r["operator_id"] == f.operator_id)
            and (f.channel_id is None or f.channel_id in channels.get(r["conversation_id"], set()))
        )

    opened = [r for r in facts if kept(r) and f.start <= r["opened_at"] < f.end]
    resolved = [r for r in facts if kept(r) and r["resolved_at"] is not None and f.start <= r["resolved_at"] < f.end]
    fcr = [r for r in resolved if r["reopened"] == 0 and not r["transferred"] and r["repeat_contact_id"] is None]
    share: dict[str, int] = {}
    for r in opened:
        for kind in r["channel_kinds"].split(","):
            share[kind] = share.get(kind, 0) + 1
    return {
        "conversations": len(opened),
        "resolved": len(resolved),
        "frt": _durations(opened, "frt_seconds", "frt_business_seconds"),
        "resolution": _durations(resolved, "resolution_seconds", "resolution_business_seconds"),
        "fcr_rate": queries.ratio(len(fcr), len(resolved)),
        "repeat_contact_rate": queries.ratio(sum(r["repeat_contact_id"] is not None for r in resolved), len(resolved)),
        "sla": {
            rule: {
                "met": sum(r[column] == "met" for r in rows),
                "missed": sum(r[column] == "missed" for r in rows),
                "rate": queries.ratio(sum(r[column] == "met" for r in rows), sum(r[column] in ("met", "missed") for r in rows)),
            }
            for rule, column, rows in (
                ("first_response", "sla_first_response", opened),
                ("resolution", "sla_resolution", resolved),
            )
        },  # fmt: skip
        "channel_share": {k: {"conversations": n, "share": queries.ratio(n, len(opened))} for k, n in sorted(share.items())},
        "first_touch": {
            k: sum(r["first_channel_kind"] == k for r in opened) for k in sorted({r["first_channel_kind"] for r in opened})
        },
    }


async def test_rollups_follow_the_facts_through_inserts_updates_and_deletes(ctx) -> None:  # noqa: ANN001
    rng = random.Random(15)
    await _load(ctx, rng, 300)
    async with ctx.db.reading() as session:
        rows = await _rollup_rows(session)
    assert rows["stored"] == rows["expected"] and rows["stored"]["report_rollup_durations"]
    await _churn(ctx, rng)
    async with ctx.db.reading() as session:
        rows = await _rollup_rows(session)
        assert await _stale_copies(session) == 0
        assert await session.scalar(text("SELECT COUNT(*) FROM report_conversation_channels WHERE opened_at IS NOT NULL")) > 300
    assert rows["stored"] == rows["expected"]


async def test_the_summary_over_rollups_equals_the_facts_for_random_periods_and_filters(ctx) -> None:  # noqa: ANN001
    rng = random.Random(27)
    await _load(ctx, rng, 400)
    await _churn(ctx, rng)
    async with ctx.db.reading() as session:
        facts = [dict(r) for r in (await session.execute(select(ReportConversation.__table__))).mappings()]
        surveys = [
            dict(r)
            for r in (
                await session.execute(select(RS.kind, RS.score, RS.period_at, RS.team_id, RS.operator_id, RS.channel_id))
            ).mappings()
        ]
        channels: dict[int, set] = {}
        for conversation_id, channel_id in await session.execute(
            select(ReportConversationChannel.conversation_id, ReportConversationChannel.channel_id)
        ):
            channels.setdefault(conversation_id, set()).add(channel_id)
    months = [datetime(2026, m, 1, tzinfo=UTC) for m in range(1, 7)]
    periods = [(months[0], months[5]), (months[1], months[3]), (months[0] - timedelta(days=40), months[5] + timedelta(days=3))]
    for _ in range(12):
        a = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        periods.append((a, a + timedelta(seconds=rng.randrange(3600, 150 * 86400))))
    filters = [
        {},
        {"team_id": 2},
        {"operator_id": 6},
        {"team_id": 1, "operator_id": 5},
        {"channel_id": 12},
        {"channel_id": 11, "team_id": 1},
        {"channel_id": 13, "operator_id": 5},
        {"channel_id": 11, "scope": SUPERVISOR},
        {"scope": SUPERVISOR},
    ]
    used_rollups = 0
    async with ctx.db.reading() as session:
        for start, end in periods:
            for extra in filters:
                f = queries.Filters(start=start, end=end, scope=extra.get("scope", ADMIN),
                                    **{k: v for k, v in extra.items() if k != "scope"})  # fmt: skip
                used_rollups += span_of(start, end).months is not None and f.channel_id is not None
                got = await queries.summary(session, f)
                want = _expected(facts, channels, f) | _expected_surveys(surveys, f)
                assert {k: got[k] for k in want} == want, (start, end, extra)
                assert await queries.duration_stats(session, f, 1) == want["resolution"]
    assert used_rollups >= 3 * 4  # the aligned periods and the long random ones read a channel's whole months from the rollups


def test_the_python_bucket_matches_the_thresholds() -> None:
    assert bucket_of(0) == 0 and bucket_of(1) == 1 and bucket_of(THRESHOLDS[-1]) == len(THRESHOLDS)
    assert all(bucket_of(low) == b and bucket_of(low - 1) == b - 1 for b, low in enumerate(THRESHOLDS, 1))


async def test_postgresql_projection_transactions_exclude_each_other(ctx) -> None:  # noqa: ANN001
    """The rollups' cells are rows every projection transaction may update: two at once could lock
    them in different orders (a deadlock), so each takes the projection's advisory lock exclusively
    first — a second one waits."""
    async with ctx.db.transaction() as first:
        if first.bind.dialect.name != "postgresql":
            return  # SQLite: one writer at a time anyway
        await rebuild_lock(first)
        async with ctx.db.transaction() as second:
            await second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await rebuild_lock(second)


async def test_sqlite_leaves_the_update_triggers_out_of_updates_of_other_columns(ctx) -> None:  # noqa: ANN001
    """A fact's ``waiting_since`` (set by every customer message after an answer) or a channel
    row's copied stamps are no rolled column: SQLite codes no trigger program into those UPDATEs
    (``AFTER UPDATE OF …``), while an UPDATE of a rolled column runs it."""
    if ctx.db.writer.dialect.name != "sqlite":
        pytest.skip("SQLite's trigger column lists (PostgreSQL tests its WHEN before calling the function)")

    async def programs(statement: str) -> int:
        async with ctx.db.reading() as session:
            return sum(row[1] == "Program" for row in await session.execute(text("EXPLAIN " + statement)))

    assert await programs("UPDATE report_conversations SET waiting_since = '2026-01-01' WHERE conversation_id = 1") == 0
    assert await programs("UPDATE report_conversation_channels SET opened_at = '2026-01-01' WHERE conversation_id = 1") == 0
    assert await programs("UPDATE report_conversations SET team_id = 2 WHERE conversation_id = 1") == 2  # rollups, copies
    assert await programs("UPDATE report_conversation_channels SET channel_id = 2 WHERE conversation_id = 1") == 1
