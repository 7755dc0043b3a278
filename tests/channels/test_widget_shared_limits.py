"""The website chat's limits shared by several serve processes: counted in ``rate_counters`` so
two processes together allow what one would, over a sliding minute, with blinded keys."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from okno.channels.adapters.widget.limits import SharedCounter, WidgetLimits
from okno.models import RateCounter
from tests.channels.test_widget import _frame, _session, _socket, widget  # noqa: F401 - the fixture

LIMITS = {"widget_messages_per_minute": 3, "widget_messages_per_minute_per_ip": 100, "widget_sessions_per_minute_per_ip": 4, "widget_receipts_per_minute": 3}


@pytest.fixture
def settings(settings):  # noqa: ANN001, ANN201 - the suite's settings: small limits, counted in the database
    return settings.model_copy(update={**LIMITS, "widget_limits_shared": True})


async def _rows(ctx) -> list[RateCounter]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(RateCounter)))


async def test_two_processes_together_allow_what_one_would(ctx) -> None:
    first, second = WidgetLimits(), WidgetLimits()  # two serve processes on one database
    first.configure(LIMITS, ctx.db)
    second.configure(LIMITS, ctx.db)
    waits = [await (first if n % 2 else second).message(7, "visitor-1", "203.0.113.9") for n in range(4)]
    assert waits[:3] == [0, 0, 0] and 0 < waits[3] <= 60  # the fourth is refused whichever process takes it
    assert await first.message(7, "visitor-2", "203.0.113.9") == 0  # another visitor has his own count

    apart = WidgetLimits(), WidgetLimits()  # memory buckets: each process alone would allow three
    for limits in apart:
        limits.configure(LIMITS)
    assert [await apart[n % 2].message(7, "visitor-1", "203.0.113.9") for n in range(4)] == [0, 0, 0, 0]

    stored = repr([(r.key, r.minute, r.count) for r in await _rows(ctx)])
    assert "203.0.113.9" not in stored and "visitor-1" not in stored  # keys are blinded


async def test_the_window_slides_over_the_previous_minute_and_old_minutes_are_swept(ctx) -> None:
    now = [6_000_000.0]  # the start of a minute
    counter = SharedCounter(ctx.db, "messages", 4, clock=lambda: now[0])
    assert [await counter.take("v") for _ in range(4)] == [0, 0, 0, 0]
    assert await counter.take("v") == pytest.approx(60.0)  # a full minute: wait for the next
    now[0] += 90.0  # half-way through the next minute: 5 × ½ still counts 2.5, one more fits
    assert await counter.take("v") == 0
    assert await counter.take("v") > 0  # 2.5 + 2 > 4
    now[0] += 150.0  # minutes later: the old rows are swept, the key starts afresh
    assert await counter.take("v") == 0
    assert sorted((r.minute, r.count) for r in await _rows(ctx)) == [(int(now[0] // 60), 1)]


async def test_a_flooding_visitor_is_refused_through_the_shared_counts(widget, ctx) -> None:  # noqa: F811
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        for n in range(4):
            await ws.send(orjson.dumps({"type": "message", "client_id": f"c-{n}", "text": f"сообщение {n}"}).decode())
        acks = [await _frame(ws, "ack") for _ in range(3)]
        refused = await _frame(ws, "error")
    assert [a["client_id"] for a in acks] == ["c-0", "c-1", "c-2"]
    assert refused["code"] == "rate_limited" and refused["client_id"] == "c-3" and 0 < refused["retry_after"] <= 60
    assert {r.key.split(":", 1)[0] for r in await _rows(ctx)} >= {"messages", "messages_per_ip", "sessions_per_ip"}
