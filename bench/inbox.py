"""Server time of the operator inbox with a large database, on this machine.

Fills a fresh database (SQLite by default, or ``--database-url``) with N conversations
(default 100,000; a realistic mix: most resolved, about 8 % still open, 2 messages each, 40
operators in 5 teams), then times the server side of the pages an operator opens all day,
in-process (ASGI, no network): the inbox page, its list fragment for each queue and sort,
search, the counters and one conversation. Target: the inbox's first page under 300 ms.

    .venv/bin/python bench/inbox.py [--conversations N] [--repeat R] [--database-url URL]

A script that prints figures, not a test: it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from okno.app import create_app
from okno.cli import _migrate
from okno.auth.service import create_operator
from okno.config import Settings
from okno.kit.time import utcnow
from okno.models import Channel, Conversation, Customer, Identity, Message, Operator, Team, team_members

TARGET_MS = 300.0
PASSWORD = "bench-password-123"
FIRST = ["Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Илья", "Ксения", "Лев", "John", "Maria"]
LAST = ["Петров", "Иванова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Lebedev", "Smith", "Морозов", "Волкова"]
TEXTS = ["Где мой заказ №{n}?", "Не проходит оплата заказа {n}", "Хочу вернуть товар из заказа {n}", "Когда доставка? Заказ {n}", "Спасибо, всё получил"]


async def fill(settings: Settings, conversations: int) -> int:
    app = create_app(settings, start_workers=False)
    async with app.router.lifespan_context(app):
        db = app.state.ctx.db
        rng = random.Random(7)
        now = utcnow()
        async with db.transaction() as session:
            admin = await create_operator(session, email="bench@okno.local", password=PASSWORD, role="admin", name="Bench")
            channel_ids = []
            for kind in ("telegram", "whatsapp", "vk", "widget", "api"):
                row = Channel(kind=kind, name=kind, config_sealed="", is_active=True)
                session.add(row)
                await session.flush()
                channel_ids.append(row.id)
            teams = [Team(name=f"Группа {n}") for n in range(5)]
            session.add_all(teams)
            await session.flush()
        operators = [admin.id]
        async with db.transaction() as session:
            await session.execute(insert(team_members), [{"team_id": teams[0].id, "operator_id": admin.id}])
        async with db.transaction() as session:
            for n in range(40):
                row = Operator(email=f"op{n}@okno.local", name=f"Оператор {n}", password_hash="x", role="operator")
                session.add(row)
                await session.flush()
                operators.append(row.id)
                await session.execute(insert(team_members), [{"team_id": teams[n % 5].id, "operator_id": row.id}])
        customers = max(conversations // 2, 1)
        batch = 5000
        for start in range(0, customers, batch):
            async with db.transaction() as session:
                await session.execute(
                    insert(Customer),
                    [{"id": i + 1, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "attributes": {}, "created_at": now, "updated_at": now} for i in range(start, min(start + batch, customers))],
                )
                await session.execute(
                    insert(Identity),
                    [{"customer_id": i + 1, "kind": "phone", "value": f"+7916{i:07d}", "created_at": now} for i in range(start, min(start + batch, customers))],
                )
        message_id = 0
        for start in range(0, conversations, batch):
            conv_rows, msg_rows = [], []
            for i in range(start, min(start + batch, conversations)):
                age = timedelta(minutes=(conversations - i) * 3)  # spread over months, newest last
                opened = now - age
                finished = rng.random() > 0.08
                customer_id = i % customers + 1
                channel_id = rng.choice(channel_ids)
                conv_rows.append(
                    {
                        "id": i + 1,
                        "customer_id": customer_id,
                        "channel_id": channel_id,
                        "status": "resolved" if finished else rng.choice(["open", "open", "open", "pending"]),
                        "priority": rng.choice([0, 1, 1, 1, 1, 2, 3]),
                        "team_id": teams[i % 5].id,
                        "assignee_id": rng.choice(operators) if (finished or rng.random() < 0.6) else None,
                        "created_at": opened,
                        "updated_at": opened,
                        "last_message_at": opened + timedelta(minutes=2),
                        "last_inbound_at": opened,
                        "resolved_at": opened + timedelta(hours=1) if finished else None,
                    }
                )
                for direction, offset in (("in", 0), ("out", 2)):
                    message_id += 1
                    msg_rows.append(
                        {
                            "id": message_id,
                            "conversation_id": i + 1,
                            "customer_id": customer_id,
                            "channel_id": channel_id,
                            "direction": direction,
                            "text": rng.choice(TEXTS).format(n=100000 + i) if direction == "in" else "Проверим и ответим",
                            "attachments": [],
                            "status": "received" if direction == "in" else "delivered",
                            "created_at": opened + timedelta(minutes=offset),
                            "status_updated_at": opened + timedelta(minutes=offset),
                        }
                    )
            async with db.transaction() as session:
                await session.execute(insert(Conversation), conv_rows)
                await session.execute(insert(Message), msg_rows)
        async with db.transaction() as session:  # fresh planner statistics, as a running database has
            await session.execute(text("ANALYZE"))
        return operators[1]


async def measure(settings: Settings, repeat: int) -> list[tuple[str, float, float, int]]:
    app = create_app(settings, start_workers=False)
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            assert (await client.post("/ui/session", json={"email": "op0@okno.local", "password": "x"})).status_code == 401
            ok = await client.post("/ui/session", json={"email": "bench@okno.local", "password": PASSWORD})
            assert ok.status_code == 200, ok.text
            conversation = await client.get("/ui/inbox/list?queue=all")
            first_id = conversation.text.split('data-conversation="')[1].split('"')[0]
            cases = [
                ("inbox page (all open, waiting longest)", "/inbox"),
                ("list: mine", "/ui/inbox/list?queue=mine"),
                ("list: unassigned", "/ui/inbox/list?queue=unassigned"),
                ("list: my teams", "/ui/inbox/list?queue=team"),
                ("list: all, by priority", "/ui/inbox/list?queue=all&sort=priority"),
                ("list: all, by SLA due", "/ui/inbox/list?queue=all&sort=sla"),
                ("list: one channel", "/ui/inbox/list?queue=all&channel=2"),
                ("list: VIP customers", "/ui/inbox/list?queue=all&vip=1"),
                ("list: resolved (finished)", "/ui/inbox/list?queue=all&status=resolved&sort=recent"),
                ("search: phone", "/ui/inbox/list?queue=all&status=resolved&q=8%20916%20000-12-34"),
                ("search: name", "/ui/inbox/list?queue=all&q=Петров"),
                ("search: message text", "/ui/inbox/list?queue=all&q=вернуть"),
                ("counters", "/ui/inbox/counts"),
                ("conversation + profile", f"/ui/conversations/{first_id}"),
            ]
            for label, url in cases:
                timings = []
                size = 0
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = await client.get(url)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (url, response.status_code, response.text[:200])
                    size = len(response.content)
                timings.sort()
                results.append((label, statistics.median(timings), timings[max(int(len(timings) * 0.95) - 1, 0)], size))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a scratch database: it is filled and not emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okno-bench-inbox-") as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url or "", log_level="warning", embedded_workers=False)
        asyncio.run(_migrate(settings))
        started = time.perf_counter()
        asyncio.run(fill(settings, args.conversations))
        print(f"filled {args.conversations:,} conversations ({args.conversations * 2:,} messages) in {time.perf_counter() - started:.1f} s "
              f"on {'PostgreSQL' if args.database_url else 'SQLite'}")
        results = asyncio.run(measure(settings, args.repeat))
    print(f"\n{'page (server time, in-process)':44} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}")
    for label, p50, p95, size in results:
        print(f"{label:44} {p50:8.1f} {p95:8.1f} {size:8,}")
    first = results[0]
    verdict = "PASS" if first[2] < TARGET_MS else "MISS"
    print(f"\ninbox first page p95 {first[2]:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")


if __name__ == "__main__":
    main()
