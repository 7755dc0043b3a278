"""A ground-truth simulator for the reports: plays conversations with known times through the
real pipeline and computes, independently of the projection, what every figure must be.

The plan is drawn from a seed: customers write through the API channel's signed webhook (two
channels, so repeat contacts cross channels), an operator answers through the REST API, some
conversations get a next question, are transferred to another team after the first answer,
are reopened and resolved again; some customers come back within (or after) the repeat-contact
window on the same or another reason; survey answers arrive as ``survey.answered`` events, as
the surveys domain emits them. okno's clock is stopped at each action's moment
(``okno.kit.time.stop_at``: every stamp is exactly the planned moment, however long a step takes
on a loaded machine), so every duration is known to the second, including replies across
nights and weekends on the team's 09:00–18:00 (Mon–Fri, Europe/Moscow) calendar.

``expected_summary`` recomputes the summary from the plan alone: its own business-time
arithmetic, its own percentile and rounding rules (as docs/analytics.md defines them); it never
reads the projection or okno's business-hours code.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from math import ceil
from typing import Any

import httpx
import orjson

from okno.bus.outbox import record_events
from okno.kit.db import Database
from okno.kit.signing import sign
from okno.kit.time import stop_at, travel_to
from okno.surveys.events import SurveyAnswered, SurveySent

MSK = timedelta(hours=3)  # Europe/Moscow has had no daylight saving time since 2014
OPEN, CLOSE = timedelta(hours=9), timedelta(hours=18)
OFFICE = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
REASONS = ("delivery", "payment", "return")
WINDOW = timedelta(days=7)
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # Monday 09:00 in Moscow
# the default SLA policy, in business minutes; replies land at half minutes, so no figure ties a target
FIRST_RESPONSE_TARGET, RESOLUTION_TARGET = 45, 240
HALF = timedelta(seconds=30)


def business_seconds(start: datetime, end: datetime) -> int:
    """Seconds of Mon–Fri 09:00–18:00 Moscow time between two moments (independent arithmetic)."""
    if end <= start:
        return 0
    local_start, local_end = (start + MSK).replace(tzinfo=None), (end + MSK).replace(tzinfo=None)
    total, day = 0, local_start.date()
    while day <= local_end.date():
        if day.weekday() < 5:
            midnight = datetime(day.year, day.month, day.day)
            lo, hi = max(local_start, midnight + OPEN), min(local_end, midnight + CLOSE)
            if hi > lo:
                total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


@dataclass
class Planned:
    """One conversation as the simulator plans it."""

    key: int
    customer: int
    channel: int  # 0 or 1
    opened: datetime
    first_reply: datetime
    next_question: tuple[datetime, datetime] | None  # (customer asks, operator answers)
    transfer_at: datetime | None
    resolved: datetime
    reopen: tuple[datetime, datetime] | None  # (reopened, resolved again)
    reason: str
    surveys: list[tuple[str, int, datetime]] = field(default_factory=list)  # (kind, score, answered at)

    @property
    def final_resolution(self) -> datetime:
        return self.reopen[1] if self.reopen else self.resolved

    @property
    def resolution_wall(self) -> int:
        periods = [(self.opened, self.resolved)] + ([self.reopen] if self.reopen else [])
        return sum(int((b - a).total_seconds()) for a, b in periods)

    @property
    def resolution_business(self) -> int:
        periods = [(self.opened, self.resolved)] + ([self.reopen] if self.reopen else [])
        return sum(business_seconds(a, b) for a, b in periods)


def _moment(rng: random.Random, after: datetime, *, off_hours: bool) -> datetime:
    """A whole-minute moment after ``after``: minutes later, or (off_hours) across a night or weekend."""
    if off_hours:
        return after + timedelta(hours=rng.randint(14, 66), minutes=rng.randint(0, 59)) + HALF
    return after + timedelta(minutes=rng.randint(2, 90)) + HALF


def plan(n: int, seed: int = 15) -> list[Planned]:
    rng = random.Random(seed)
    conversations: list[Planned] = []
    customer = 0
    at = START
    while len(conversations) < n:
        customer += 1
        at += timedelta(minutes=rng.randint(1, 20))
        opened = at
        visits = 2 if rng.random() < 0.3 and len(conversations) + 2 <= n else 1
        channel = rng.randint(0, 1)
        for _ in range(visits):
            conv = _conversation(rng, len(conversations), customer, channel, opened)
            conversations.append(conv)
            # the customer comes back after the final resolution: inside the window (a repeat
            # contact when the reason is the same) or just after it
            gap = timedelta(days=rng.choice((1, 3, 6)), minutes=rng.randint(1, 600)) if rng.random() < 0.8 else WINDOW + timedelta(hours=rng.randint(1, 48))
            opened = conv.final_resolution + gap
            channel = 1 - channel if rng.random() < 0.6 else channel  # often through the other channel
    return conversations


def _conversation(rng: random.Random, key: int, customer: int, channel: int, opened: datetime) -> Planned:
    first_reply = _moment(rng, opened, off_hours=rng.random() < 0.25)
    t = first_reply
    next_question = None
    if rng.random() < 0.3:
        asked = t + timedelta(minutes=rng.randint(1, 30))
        next_question = (asked, _moment(rng, asked, off_hours=rng.random() < 0.2))
        t = next_question[1]
    transfer_at = t + timedelta(minutes=rng.randint(1, 5)) if rng.random() < 0.1 else None
    t = transfer_at or t
    resolved = t + timedelta(minutes=rng.randint(1, 120), seconds=15)
    reopen = None
    if rng.random() < 0.12:
        again = resolved + timedelta(hours=rng.randint(1, 30))
        reopen = (again, again + timedelta(minutes=rng.randint(5, 200)))
    final = reopen[1] if reopen else resolved
    reason = REASONS[customer % len(REASONS)] if rng.random() < 0.75 else rng.choice(REASONS)
    surveys = []
    for kind, top in (("csat", 5), ("nps", 10), ("ces", 7)):
        if rng.random() < 0.4:
            surveys.append((kind, rng.randint(1 if kind != "nps" else 0, top), final + timedelta(minutes=rng.randint(1, 300))))
    return Planned(key, customer, channel, opened, first_reply, next_question, transfer_at, resolved, reopen, reason, surveys)


# ---- what the API must answer, from the plan alone ----------------------------------------

def _avg(values: list[int]) -> int | None:
    return None if not values else (2 * sum(values) + len(values)) // (2 * len(values))


def _rank(values: list[int], fraction: float) -> int | None:
    return None if not values else sorted(values)[max(ceil(fraction * len(values)) - 1, 0)]


def _stats(wall: list[int], business: list[int]) -> dict[str, Any]:
    return {
        "count": len(wall), "avg_seconds": _avg(wall), "p50_seconds": _rank(wall, 0.5), "p90_seconds": _rank(wall, 0.9),
        "business_avg_seconds": _avg(business), "business_p50_seconds": _rank(business, 0.5),
    }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _sla(verdicts: list[bool]) -> dict[str, Any]:
    met = sum(verdicts)
    return {"met": met, "missed": len(verdicts) - met, "rate": _rate(met, len(verdicts))}


def repeated(conversations: list[Planned]) -> set[int]:
    """Keys of conversations followed by another of the same customer on the same reason that
    opened after them and no later than the window after their (final) resolution."""
    same: dict[tuple[int, str], list[Planned]] = defaultdict(list)  # only these can repeat each other
    for c in conversations:
        same[(c.customer, c.reason)].append(c)
    return {a.key for group in same.values() for a in group if any(a.opened < b.opened <= a.final_resolution + WINDOW for b in group)}


def expected_summary(conversations: list[Planned], start: datetime, end: datetime) -> dict[str, Any]:
    opened = [c for c in conversations if start <= c.opened < end]
    resolved = [c for c in conversations if start <= c.final_resolution < end]
    repeats = repeated(conversations)
    fcr = [c for c in resolved if c.reopen is None and c.transfer_at is None and c.key not in repeats]
    answers: dict[str, list[int]] = {"csat": [], "nps": [], "ces": []}
    for c in resolved:  # a survey counts in the period its conversation was resolved in
        for kind, score, _ in c.surveys:
            answers[kind].append(score)
    scores = {
        "csat": lambda s: round(100 * sum(1 for v in s if v >= 4) / len(s), 2),
        "nps": lambda s: round(100 * (sum(1 for v in s if v >= 9) - sum(1 for v in s if v <= 6)) / len(s), 2),
        "ces": lambda s: round(sum(s) / len(s), 2),
    }
    return {
        "conversations": len(opened),
        "resolved": len(resolved),
        "frt": _stats([int((c.first_reply - c.opened).total_seconds()) for c in opened], [business_seconds(c.opened, c.first_reply) for c in opened]),
        "resolution": _stats([c.resolution_wall for c in resolved], [c.resolution_business for c in resolved]),
        "fcr_rate": _rate(len(fcr), len(resolved)),
        "repeat_contact_rate": _rate(sum(1 for c in resolved if c.key in repeats), len(resolved)),
        **{kind: {"responses": len(v), "score": scores[kind](v) if v else None} for kind, v in answers.items()},
        "sla": {
            "first_response": _sla([business_seconds(c.opened, c.first_reply) <= FIRST_RESPONSE_TARGET * 60 for c in opened]),
            "resolution": _sla([c.resolution_business <= RESOLUTION_TARGET * 60 for c in resolved]),
        },
        "channel_share": {"api": {"conversations": len(opened), "share": 1.0}} if opened else {},
        "first_touch": {"api": len(opened)} if opened else {},
    }


# ---- playing the plan through okno ------------------------------------------------------------

@dataclass
class Setup:
    channels: list[dict]  # two API channels of team A (id, secret)
    team_b: int
    headers: dict[str, str]


async def prepare(http: httpx.AsyncClient, headers: dict[str, str]) -> Setup:
    """A 09–18 calendar, teams A and B on it, a default SLA policy, two API channels of team A."""
    async def post(path: str, body: dict) -> dict:
        response = await http.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    calendar = await post("/api/v1/calendars", {"name": "Ground truth 09-18", "timezone": "Europe/Moscow", "weekly": OFFICE})
    targets = {"normal": {"first_response": FIRST_RESPONSE_TARGET, "resolution": RESOLUTION_TARGET}}
    await post("/api/v1/sla/policies", {"name": "Ground truth", "targets": targets, "is_default": True})
    teams = [await post("/api/v1/teams", {"name": f"Ground truth {n}"}) for n in ("A", "B")]
    for team in teams:
        response = await http.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": calendar["id"]}, headers=headers)
        assert response.status_code == 200, response.text
    channels = []
    for name in ("CRM", "Phone desk"):
        secret = f"ground-truth-{name}-secret-0123456789"
        channel = await post("/api/v1/channels", {"kind": "api", "name": name, "config": {"secret": secret}, "team_id": teams[0]["id"]})
        channels.append({"id": channel["id"], "secret": secret})
    return Setup(channels, teams[1]["id"], headers)


Action = tuple[datetime, int, str, Planned]  # (when, order within a moment, what, conversation)


def actions(conversations: list[Planned]) -> list[Action]:
    out: list[Action] = []
    for c in conversations:
        out += [(c.opened, 0, "write", c), (c.first_reply, 1, "reply", c)]
        if c.next_question:
            out += [(c.next_question[0], 2, "write", c), (c.next_question[1], 3, "reply", c)]
        if c.transfer_at:
            out.append((c.transfer_at, 4, "transfer", c))
        out.append((c.resolved, 5, "resolve", c))
        if c.reopen:
            out += [(c.reopen[0], 6, "reopen", c), (c.reopen[1], 7, "resolve", c)]
        out += [(at, 8 + index, f"survey:{index}", c) for index, (*_, at) in enumerate(c.surveys)]
    return sorted(out, key=lambda a: (a[0], a[3].key, a[1]))


async def play(
    http: httpx.AsyncClient, db: Database, settle: Callable[[], Awaitable[None]], setup: Setup, conversations: list[Planned], *, settle_every: int = 50
) -> None:
    ids: dict[int, int] = {}
    serial = 0
    last = None
    try:
        for n, (at, _, what, c) in enumerate(actions(conversations)):
            stop_at(at)  # every stamp is the planned moment, to the microsecond
            last = at
            serial = await _act(http, db, settle, setup, ids, serial, what, c)
            if n % settle_every == settle_every - 1:
                await settle()
        await settle()
    finally:
        stop_at(None)
        if last is not None:
            travel_to(last)  # the clock runs on from the last planned moment


async def _act(
    http: httpx.AsyncClient, db: Database, settle: Callable[[], Awaitable[None]], setup: Setup, ids: dict[int, int], serial: int, what: str, c: Planned
) -> int:
    if what == "write":
        serial += 1
        channel = setup.channels[c.channel]
        body = orjson.dumps({"message_id": f"gt-{serial}", "from": {"phone": f"+7916{c.customer:07d}"}, "text": "Где мой заказ?"})
        response = await http.post(f"/webhooks/{channel['id']}", content=body, headers={"content-type": "application/json", "x-okno-signature": sign(channel["secret"], body)})
        assert response.status_code == 200, response.text
        if c.key not in ids:
            ids[c.key] = await _conversation_of(db, channel["id"], f"gt-{serial}")
    elif what == "reply":
        await _call(http, setup, f"/api/v1/conversations/{ids[c.key]}/messages", {"text": "Отвечаем"}, 201)
    elif what == "transfer":
        await settle()  # routing has given it its first team (as it does within moments in service)
        await _call(http, setup, f"/api/v1/conversations/{ids[c.key]}/assign", {"operator_id": None, "team_id": setup.team_b})
    elif what == "resolve":
        await _call(http, setup, f"/api/v1/conversations/{ids[c.key]}/status", {"status": "resolved", "reason": c.reason})
    elif what == "reopen":
        # the SLA clocks complete a resolution at the conversation's resolved_at as it is when
        # they run: let them see this resolution before it is superseded (docs/analytics.md)
        await settle()
        await _call(http, setup, f"/api/v1/conversations/{ids[c.key]}/status", {"status": "open"})
    else:
        await _answer_survey(db, c, ids[c.key], setup, int(what.split(":")[1]))
    return serial


async def _call(http: httpx.AsyncClient, setup: Setup, path: str, body: dict, status: int = 200) -> None:
    response = await http.post(path, json=body, headers=setup.headers)
    assert response.status_code == status, f"{path}: {response.status_code} {response.text}"


async def _conversation_of(db: Database, channel_id: int, provider_id: str) -> int:
    from sqlalchemy import select

    from okno.models import Message

    async with db.reading() as session:
        return await session.scalar(select(Message.conversation_id).where(Message.channel_id == channel_id, Message.provider_message_id == provider_id))


async def _answer_survey(db: Database, c: Planned, conversation_id: int, setup: Setup, index: int) -> None:
    """What the surveys domain emits when the customer answers (and, before, when it sent the question)."""
    kind, score, at = c.surveys[index]
    survey_id = {"csat": 1, "nps": 2, "ces": 3}[kind]
    base = {"survey_id": survey_id, "kind": kind, "conversation_id": conversation_id, "customer_id": c.customer,
            "channel_id": setup.channels[c.channel]["id"], "team_id": None, "operator_id": None}
    async with db.transaction() as session:  # both rows in one insert, in this order
        await record_events(session, [
            SurveySent(sent_at=(c.final_resolution + timedelta(seconds=1)).isoformat(), **base),
            SurveyAnswered(score=score, answered_at=at.isoformat(), comment=None, **base),
        ])


def weeks(conversations: list[Planned]) -> list[tuple[datetime, datetime]]:
    """Monday-to-Monday windows covering the plan (sub-periods the test checks one by one)."""
    first: date = min(c.opened for c in conversations).date()
    last = max(c.final_resolution for c in conversations)
    at = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=first.weekday())
    out = []
    while at <= last:
        out.append((at, at + timedelta(days=7)))
        at += timedelta(days=7)
    return out
