"""Routing simulation: a day of conversations through okno's real assignment code, on this machine.

50 operators in four shifts (capacity 4 chats each; 8 experienced, in every shift), 10,000 conversations
arriving over 24 hours on a daily curve (quiet night, morning and afternoon peaks), 5 % from VIP
customers (priority urgent, experienced operators only). Each conversation is offered to its
team the moment it arrives; operators resolve after a lognormal handling time and, the moment
they free up or come online, take the best waiting conversation. Every decision is one real
transaction through ``okno.routing.assignment`` on a fresh migrated database (SQLite by
default); the clock is virtual (okno's ``travel_to``), the decisions and their latency are real.

Then the time a VIP customer waits for an operator in the running app: ``--vip-messages`` (default
200) known VIP customers write one after another as signed webhooks of the API channel, to the
in-process app (ASGI, no network) with its real background workers started (ingest, relay,
subscribers: as ``okno serve`` runs them); the team has three juniors and one experienced operator,
all online and free. For each message: webhook answered (accepted) → the assignment recorded (its
timeline entry's time) and → ``conversation.assigned`` on the operators' live feed (after commit
and the relay). This part has a fresh database of its own: a temporary SQLite file, or
``--vip-database-url``.

    .venv/bin/python bench/routing.py [--conversations N] [--operators N] [--seed S] [--database-url URL]
                                      [--vip-messages N] [--vip-database-url URL]

Prints the decision latency p50/p99, the spread of load across operators, VIP vs non-VIP
waits, and the accepted-VIP-message → assignment p50/p99. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from okno.app import create_app  # noqa: E402
from okno.auth.passwords import hash_password  # noqa: E402
from okno.auth.service import create_operator  # noqa: E402
from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign  # noqa: E402
from okno.config import Settings  # noqa: E402
from okno.conversations.lifecycle import change_conversation_status  # noqa: E402
from okno.kit import time as okno_time  # noqa: E402
from okno.kit.db import Database, create_database, create_oneoff_engine  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from okno.models import Conversation, Customer, Operator, Presence, Team, TimelineEvent, team_members  # noqa: E402
from okno.routing.assignment import assign_to_free_operator, assign_waiting_conversation  # noqa: E402
from okno.routing.operators import set_operator_presence  # noqa: E402

DAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
# (from hour, to hour, operators per 50), shaped to the curve; 23–07 runs overnight
SHIFTS = ((23, 7, 5), (7, 16, 15), (9, 18, 15), (14, 23, 15))
HOURLY_CURVE = (  # relative arrivals per hour of day: quiet night, 11:00 and 15:00 peaks
    0.15, 0.1, 0.08, 0.08, 0.1, 0.15, 0.3, 0.6, 1.0, 1.5, 1.8, 2.0,
    1.8, 1.6, 1.8, 1.9, 1.7, 1.4, 1.1, 0.9, 0.7, 0.5, 0.35, 0.2,
)
VIP_SHARE = 0.05
EXPERIENCED = 8
CAPACITY = 4  # with these shifts, about 60 % of capacity over the day: queues form only at the peaks
HANDLING_MEDIAN_MIN = 7.0


@dataclass(order=True)
class Happening:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    ref: int = field(compare=False)


@dataclass
class Figures:
    decisions_ms: list[float] = field(default_factory=list)
    waits: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})
    handled: dict[int, int] = field(default_factory=dict)
    shift_of: dict[int, tuple[int, int]] = field(default_factory=dict)
    unassigned_at_end: int = 0


def arrival_times(n: int, rng: random.Random) -> list[datetime]:
    total = sum(HOURLY_CURVE)
    times: list[datetime] = []
    for hour, weight in enumerate(HOURLY_CURVE):
        count = round(n * weight / total)
        times += [DAY + timedelta(hours=hour, seconds=rng.uniform(0, 3600)) for _ in range(count)]
    while len(times) < n:
        times.append(DAY + timedelta(hours=11, seconds=rng.uniform(0, 3600)))
    return sorted(times[:n])


async def prepare(db: Database, operators: int, rng: random.Random) -> tuple[int, list[tuple[int, int, int]]]:
    """One team with ``operators`` members on shifts; (operator id, from hour, to hour) each."""
    async with db.transaction() as session:
        team = Team(name="Поддержка", assignment_strategy="least_loaded", sticky=True)
        session.add(team)
        await session.flush()
        password = hash_password("bench-password")
        roster: list[tuple[int, int, int]] = []
        per_50 = sum(share for *_, share in SHIFTS)
        plan = [shift for shift in SHIFTS for _ in range(round(operators * shift[2] / per_50))]
        plan = (plan + [SHIFTS[1]] * operators)[:operators]
        # experienced operators in every shift, in proportion (at least one each)
        experienced = {i for shift in SHIFTS for i in [j for j, p in enumerate(plan) if p == shift][: max(1, round(EXPERIENCED * shift[2] / per_50))]}
        for i in range(operators):
            start, end, _ = plan[i]
            operator = Operator(
                email=f"op{i}@bench.okno", name=f"Оператор {i}", password_hash=password,
                experienced=i in experienced, capacity={"chat": CAPACITY, "email": 10, "call": 1},
            )
            session.add(operator)
            await session.flush()
            await session.execute(insert(team_members).values(team_id=team.id, operator_id=operator.id))
            roster.append((operator.id, start, end))
    return team.id, roster


async def simulate(db: Database, conversations: int, operators: int, seed: int) -> Figures:
    rng = random.Random(seed)
    team_id, roster = await prepare(db, operators, rng)
    figures = Figures(
        handled={op: 0 for op, *_ in roster},
        shift_of={op: (start, end) for op, start, end in roster},
    )
    queue: list[Happening] = []
    seq = 0

    def at(moment: datetime, kind: str, ref: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, Happening(moment, seq, kind, ref))

    for op, start, end in roster:
        if end < start:  # overnight: on from midnight (yesterday's shift) and again from ``start``
            at(DAY, "online", op)
            at(DAY + timedelta(hours=end), "offline", op)
        else:
            at(DAY + timedelta(hours=end), "offline", op)
        at(DAY + timedelta(hours=start), "online", op)
    for i, moment in enumerate(arrival_times(conversations, rng)):
        at(moment, "arrival", i)

    vip_of: dict[int, bool] = {}
    arrived_at: dict[int, datetime] = {}
    vips = [rng.random() < VIP_SHARE for _ in range(conversations)]
    async with db.transaction() as session:  # the customers exist before they write (not part of routing)
        await session.execute(
            insert(Customer),
            [{"name": f"Клиент {i}", "attributes": {"vip": True} if vip else {}, "created_at": DAY, "updated_at": DAY} for i, vip in enumerate(vips)],
        )
        customer_ids = list(await session.scalars(select(Customer.id).order_by(Customer.id)))

    async def decided(started: float, given: dict[int, int], now: datetime) -> None:
        figures.decisions_ms.append((time.perf_counter() - started) * 1000)
        for conversation_id, operator_id in given.items():
            figures.waits[vip_of[conversation_id]].append((now - arrived_at[conversation_id]).total_seconds())
            figures.handled[operator_id] += 1
            minutes = rng.lognormvariate(math.log(HANDLING_MEDIAN_MIN), 0.6)
            at(now + timedelta(minutes=minutes), "resolve", conversation_id)

    while queue:
        happening = heapq.heappop(queue)
        okno_time.travel_to(happening.at)
        now = happening.at
        if happening.kind == "arrival":
            vip, customer_id = vips[happening.ref], customer_ids[happening.ref]
            async with db.transaction() as session:  # what ingest and the routing rules leave behind
                conversation_id = (
                    await session.execute(
                        insert(Conversation)
                        .values(customer_id=customer_id, team_id=team_id, priority=3 if vip else 1, medium="chat", status="open",
                                created_at=now, updated_at=now, last_message_at=now, last_inbound_at=now, queued_at=now)
                        .returning(Conversation.id)
                    )
                ).scalar_one()
            vip_of[conversation_id], arrived_at[conversation_id] = vip, now
            started = time.perf_counter()
            async with db.transaction() as session:
                chosen = await assign_waiting_conversation(session, conversation_id)
            await decided(started, {conversation_id: chosen} if chosen else {}, now)
        elif happening.kind == "resolve":
            async with db.transaction() as session:
                conversation = await change_conversation_status(
                    session, conversation_id=happening.ref, status="resolved", reason=None, comment=None, actor_id=None
                )
                operator_id = conversation.assignee_id
            started = time.perf_counter()
            async with db.transaction() as session:
                given = await assign_to_free_operator(session, operator_id)
            await decided(started, dict.fromkeys(given, operator_id), now)
        else:
            async with db.transaction() as session:
                await set_operator_presence(session, operator_id=happening.ref, presence=happening.kind)
            if happening.kind == Presence.online.value:
                started = time.perf_counter()
                async with db.transaction() as session:
                    given = await assign_to_free_operator(session, happening.ref)
                await decided(started, dict.fromkeys(given, happening.ref), now)
    async with db.reading() as session:
        figures.unassigned_at_end = len((await session.scalars(select(Conversation.id).where(Conversation.assignee_id.is_(None)))).all())
    return figures


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def report(figures: Figures, conversations: int, operators: int, seconds: float, backend: str) -> None:
    handled = list(figures.handled.values())
    print(f"okno routing simulation: {conversations} conversations, {operators} operators, {backend}, {seconds:.1f} s wall")
    print(f"  assignment decisions: {len(figures.decisions_ms)}   latency p50 {pct(figures.decisions_ms, 50):.2f} ms   "
          f"p99 {pct(figures.decisions_ms, 99):.2f} ms   max {max(figures.decisions_ms):.2f} ms")
    print(f"  load per operator (conversations handled): min {min(handled)}  median {statistics.median(handled):.0f}  "
          f"max {max(handled)}  stdev {statistics.pstdev(handled):.1f}  (shifts differ in length and traffic)")
    for (start, end, _) in SHIFTS:
        shift = [n for op, n in figures.handled.items() if figures.shift_of[op] == (start, end)]
        if shift:
            print(f"    shift {start:02d}–{end:02d}: {len(shift):2d} operators, handled min {min(shift)} median {statistics.median(shift):.0f} "
                  f"max {max(shift)} (max/min {max(shift) / max(min(shift), 1):.2f})")
    for vip in (True, False):
        waits = figures.waits[vip]
        label = "VIP    " if vip else "non-VIP"
        print(f"  {label} wait: n={len(waits):5d}  mean {statistics.fmean(waits):7.1f} s  p50 {pct(waits, 50):7.1f} s  "
              f"p90 {pct(waits, 90):7.1f} s  p99 {pct(waits, 99):7.1f} s  assigned at once {sum(w == 0 for w in waits) / len(waits):.0%}")
    print(f"  never assigned (still waiting at the end of the day): {figures.unassigned_at_end}")


# ---------------------------------------------------------------------------------------------
# An accepted VIP message → its assignment, in the running app


@dataclass
class VipFigures:
    recorded_ms: list[float] = field(default_factory=list)  # accepted → the assignment's timeline entry
    heard_ms: list[float] = field(default_factory=list)  # accepted → conversation.assigned on the live feed
    to_expert: int = 0


async def _signed_in(client: httpx.AsyncClient, ctx, *, email: str, role: str) -> tuple[int, dict[str, str]]:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        operator = await create_operator(session, email=email, password="bench-password", role=role, name=email.split("@")[0])
    token = (await client.post("/api/v1/auth/login", json={"email": email, "password": "bench-password"})).json()["access_token"]
    return operator.id, {"Authorization": f"Bearer {token}"}


async def _vip_desk(client: httpx.AsyncClient, ctx, messages: int) -> tuple[dict, int, list[tuple[int, str]]]:  # noqa: ANN001
    """A least-loaded team (three juniors, one experienced operator, all online), its API channel
    and ``messages`` VIP customers known by phone; (channel, the expert's id, [(customer, phone)])."""
    _, admin = await _signed_in(client, ctx, email="vip-admin@bench.okno", role="admin")
    team = (await client.post("/api/v1/teams", json={"name": "VIP"}, headers=admin)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"assignment_strategy": "least_loaded", "sticky": False}, headers=admin)
    expert = 0
    for i in range(4):
        operator_id, own = await _signed_in(client, ctx, email=f"vip-op{i}@bench.okno", role="operator")
        await client.patch(f"/api/v1/operators/{operator_id}", json={"capacity": {"chat": messages + 10}, "experienced": i == 3}, headers=admin)
        await client.post(f"/api/v1/teams/{team['id']}/members", json={"operator_id": operator_id}, headers=admin)
        await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=own)
        expert = operator_id
    secret = "bench-vip-channel-secret-0123456789"
    channel = (await client.post("/api/v1/channels", json={"kind": "api", "name": "VIP", "config": {"secret": secret}, "team_id": team["id"]}, headers=admin)).json()
    customers = []
    for i in range(messages):
        phone = f"+7916{i:07d}"
        body = {"name": f"VIP {i}", "phones": [phone], "attributes": {"vip": True}}
        customers.append(((await client.post("/api/v1/customers", json=body, headers=admin)).json()["id"], phone))
    await ctx.settle()
    return {**channel, "secret": secret}, expert, customers


async def _assigned_heard(feed: asyncio.Queue, customer_id: int) -> dict:
    while True:
        event = await feed.get()
        if event.get("topic") == "conversation.assigned" and event.get("customer_id") == customer_id:
            return event


async def measure_vip(url: str, data_dir: Path, messages: int) -> VipFigures:
    settings = Settings(data_dir=data_dir, database_url=url, log_level="warning", embedded_workers=False)
    app = create_app(settings, start_workers=False)
    figures = VipFigures()
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.bench") as client:
        ctx = app.state.ctx
        channel, expert, customers = await _vip_desk(client, ctx, messages)
        ctx.start_workers()  # from here on only the background workers move anything, as in production
        feed = ctx.operator_feed.subscribe()  # what an operator's open browser hears
        for n, (customer_id, phone) in enumerate(customers):
            body = orjson.dumps({"message_id": f"vip-{n}", "from": {"phone": phone}, "text": "Срочно, заказ не пришёл!"})
            answered = await client.post(f"/webhooks/{channel['id']}", content=body,
                                         headers={"content-type": "application/json", SIGNATURE_HEADER: sign(channel["secret"], body)})
            accepted, accepted_at = time.perf_counter(), datetime.now(UTC)
            if answered.status_code != 200:
                raise RuntimeError(f"webhook refused: {answered.status_code} {answered.text}")
            event = await asyncio.wait_for(_assigned_heard(feed, customer_id), timeout=60)
            figures.heard_ms.append((time.perf_counter() - accepted) * 1000)
            async with ctx.db.reading() as session:
                recorded = await session.scalar(select(TimelineEvent.occurred_at).where(
                    TimelineEvent.conversation_id == event["conversation_id"], TimelineEvent.kind == "conversation.assigned"))
            figures.recorded_ms.append((okno_time.as_utc(recorded) - accepted_at).total_seconds() * 1000)
            figures.to_expert += event.get("operator_id") == expert
        ctx.operator_feed.unsubscribe(feed)
    return figures


def report_vip(figures: VipFigures, backend: str) -> None:
    n = len(figures.heard_ms)
    print(f"okno VIP message → assignment, running app (real workers), {backend}: {n} messages one after another, "
          f"{figures.to_expert}/{n} to the experienced operator")
    for label, values in (("assignment recorded", figures.recorded_ms), ("on the live feed   ", figures.heard_ms)):
        print(f"  accepted → {label}: p50 {pct(values, 50):7.1f} ms   p99 {pct(values, 99):7.1f} ms   max {max(values):7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="a fresh, empty database (default: a temporary SQLite file)")
    parser.add_argument("--vip-messages", type=int, default=200, help="VIP messages through the running app (0: skip that part)")
    parser.add_argument("--vip-database-url", default="", help="a fresh, empty database for them (default: a temporary SQLite file)")
    args = parser.parse_args()
    # the database file on tmpfs when there is one: the figures are about routing, not the disk
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() and not args.database_url else None
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'routing.db'}"
        engine = create_oneoff_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        db = create_database(url)
        started = time.perf_counter()
        try:
            figures = await simulate(db, args.conversations, args.operators, args.seed)
        finally:
            await db.dispose()
        backend = url.split(":")[0] + (" on tmpfs" if scratch else "")
        report(figures, args.conversations, args.operators, time.perf_counter() - started, backend)
        if args.vip_messages > 0:
            okno_time.travel_to(datetime.now(UTC))  # the simulation's virtual day is over: the real clock again
            vip_url = args.vip_database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'vip.db'}"
            engine = create_oneoff_engine(vip_url)
            await upgrade_to_head(engine)
            await engine.dispose()
            vip_backend = vip_url.split(":")[0] + (" on tmpfs" if scratch and not args.vip_database_url else "")
            report_vip(await measure_vip(vip_url, Path(tmp), args.vip_messages), vip_backend)


if __name__ == "__main__":
    asyncio.run(main())
