"""Round trips and server-side plannings per real-time operation on PostgreSQL: what a loaded
machine does not blur. On a base kept by ``bench/identity.py --keep-db`` (the same customers and
queries), N exact-key attaches and N fuzzy scores (the bench's two timed paths) run through the
application's engine, and per operation it prints

  * round trips: writes to the server's socket (each statement, ``BEGIN``, ``COMMIT`` and a
    pool ping's statements are one each);
  * plannings: how often PostgreSQL planned a statement (``log_planner_stats``; a prepared
    statement on its generic plan is not planned again) and the planner's CPU.

    .venv/bin/python bench/identity_round_trips.py --keep-db /var/tmp/okno-bases --customers 1000000 \\
        --pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/okno_identity_bench_kept_1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import identity  # noqa: E402
from sqlalchemy import event  # noqa: E402

from okno.kit.db import Database, create_database  # noqa: E402

_PLANNER = re.compile(r"([\d.]+) s user, ([\d.]+) s system")


class ServerCounter:
    """Socket writes of this process (asyncpg writes each round trip's messages at once) and the
    planner statistics PostgreSQL sends back to the connections it was installed on."""

    def __init__(self) -> None:
        self.writes = 0
        self.plannings: list[float] = []
        transport = asyncio.selector_events._SelectorSocketTransport  # noqa: SLF001
        for name in ("write", "writelines"):
            original = getattr(transport, name)

            def counted(this, data, _original=original) -> None:  # noqa: ANN001
                self.writes += 1
                _original(this, data)

            setattr(transport, name, counted)

    def install(self, db: Database) -> None:
        @event.listens_for(db.writer.sync_engine, "connect")
        def _planner_stats(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.run_async(lambda raw: raw.execute("SET log_planner_stats = on; SET client_min_messages = log"))
            dbapi_connection.run_async(lambda raw: asyncio.sleep(0, raw.add_log_listener(self._logged)))

    def _logged(self, _connection, message) -> None:  # noqa: ANN001
        if "PLANNER STATISTICS" in message.message and (found := _PLANNER.search(message.detail or "")):
            self.plannings.append(float(found[1]) + float(found[2]))

    def start(self) -> tuple[int, int]:
        return self.writes, len(self.plannings)

    def report(self, label: str, since: tuple[int, int], operations: int) -> None:
        writes, planned = self.writes - since[0], self.plannings[since[1] :]
        print(f"{label:<16} round trips {writes / operations:5.2f}   plannings {len(planned) / operations:5.3f} "
              f"(planner CPU {1000 * sum(planned) / operations:.3f} ms)   per operation over {operations}")  # fmt: skip


async def run(url: str, stored: list[dict], queries: list[dict], count: int) -> None:
    phones = await identity.load(url, stored, reuse=True)
    counter = ServerCounter()
    db = create_database(url)
    counter.install(db)
    processor = identity.IngestProcessor(db)
    rng = random.Random(3)
    owners = [cid for cid, ph in phones.items() if ph]
    items = []
    for n in range(count + 50):
        digits = phones[rng.choice(owners)][0][2:]
        sender = identity.SenderIdentity(
            kind="phone", value=f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}", source="api"
        )
        items.append(
            identity.InboundMessage(provider_id=f"trips-{time.time_ns()}-{n}", sender=[sender], text="Здравствуйте, это снова я")
        )
    for n, item in enumerate(items):
        if n == 50:  # warm-up: the pool's connection, the caches
            since = counter.start()
        prepared = processor.prepare(n + 1, 1, item, datetime.now(UTC))
        async with db.transaction() as session:
            await processor.apply(session, [prepared])
    counter.report("exact-key attach", since, count)
    fields = identity.fields_of(queries[: count + 50])
    for n, record in enumerate(fields):
        if n == 50:
            since = counter.start()
        async with db.reading() as session:  # one session per score, as a request has
            await identity.score_record(session, record)
    counter.report("fuzzy scoring", since, count)
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", required=True, help="the kept PostgreSQL base (postgresql+asyncpg://…/<database>)")
    parser.add_argument("--keep-db", type=Path, required=True, help="the folder bench/identity.py --keep-db kept its people in")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    identity.pii.use_keys([identity.BENCH_KEY])
    stored, queries = identity.kept_people(args.customers, 21, args.keep_db)
    asyncio.run(run(args.pg_url, stored, queries, args.queries))


if __name__ == "__main__":
    main()
