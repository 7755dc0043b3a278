"""Identity resolution benchmark: real-time attach and fuzzy scoring latency, batch dedupe
time / memory / pairwise F1 on generated labelled data — beside Splink when it is installed.

    .venv/bin/python bench/identity.py                      # defaults: ~2 min on a 2-core box
    .venv/bin/python bench/identity.py --customers 1000000 --batch 1000000
    .venv/bin/python bench/identity.py --splink-python /path/to/venv/bin/python

Real time (per backend): N customers are bulk-loaded (profile, blocking keys, term counts,
phone and e-mail identities) into a fresh database migrated to head. Then
  * exact-key attach: one inbound message whose phone (written ``8 (9xx) …``) is a stored
    identity goes through the ingest pipeline (``IngestProcessor.apply``: identity lookup,
    conversation, message, timeline, outbox) in its own committed transaction;
  * fuzzy scoring: one record (a corrupted duplicate of a stored person: typos,
    transliteration, swapped names, new phone…) is scored against the base through the
    blocking-key table (``score_record``), as ``GET /customers/{id}/merge-suggestions`` does.
Batch: ``okno customers dedupe --input`` runs as a child process on a generated CSV with known
truth; wall time, the child's peak RSS and pairwise precision/recall/F1 are printed. With
``--splink-python`` (an interpreter that can ``import splink``), Splink runs on the same
records, already normalised the same way (Splink has no Cyrillic transliteration), in the same
run, with comparable comparisons and blocking rules.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
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

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from okno.channels.base import InboundMessage, SenderIdentity  # noqa: E402
from okno.channels.ingest import IngestProcessor, sender_keys  # noqa: E402
from okno.customers.resolution import owners_of  # noqa: E402
from okno.customers.cli import SAME_PERSON_THRESHOLD  # noqa: E402
from okno.customers.matching.columns import map_columns, person_from_row  # noqa: E402
from okno.customers.matching.fields import blocking_keys, comparison_fields  # noqa: E402
from okno.customers.matching.profiles import TERM_FIELDS  # noqa: E402
from okno.customers.matching.realtime import score_record  # noqa: E402
from okno.customers.matching.synthetic import generate_records  # noqa: E402
from okno.kit.db import create_database, create_oneoff_engine  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from okno.models import Channel, Customer, Identity, MatchBlock, MatchProfile, MatchTerm  # noqa: E402

CHUNK = 20_000


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


def fields_of(rows: list[dict]) -> list[dict]:
    mapping = map_columns(list(rows[0]))
    return [comparison_fields(person_from_row({k: str(v) for k, v in r.items()}, mapping)) for r in rows]


async def load(url: str, stored: list[dict]) -> dict[int, list[str]]:
    """Bulk-loads the base; returns customer id → its stored phones (for attach queries)."""
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    now = datetime.now(UTC)
    fields = fields_of(stored)
    phones: dict[int, list[str]] = {}
    terms: Counter = Counter()
    async with engine.begin() as conn:
        await conn.execute(insert(Channel.__table__), [{"id": 1, "kind": "api", "name": "bench", "config_sealed": "-", "is_active": True, "created_at": now, "updated_at": now}])
        for start in range(0, len(stored), CHUNK):
            part = range(start, min(start + CHUNK, len(stored)))
            customers, identities, profiles, blocks = [], [], [], []
            for i in part:
                cid, f, row = i + 1, fields[i], stored[i]
                customers.append({"id": cid, "name": f"{row['first_name']} {row['last_name']}", "attributes": {k: row[k] for k in ("birth_date", "city", "address", "postcode") if row[k]}, "created_at": now, "updated_at": now})
                for kind, values in (("phone", f.get("phones", [])), ("email", f.get("emails", []))):
                    identities += [{"customer_id": cid, "kind": kind, "value": v, "created_at": now} for v in values]
                phones[cid] = f.get("phones", [])
                profiles.append({"customer_id": cid, "fields": f, "updated_at": now})
                blocks += [{"key": k, "customer_id": cid} for k in blocking_keys(f)]
                terms.update((t, f[t][:200]) for t in TERM_FIELDS if f.get(t))
            await conn.execute(insert(Customer.__table__), customers)
            await conn.execute(_ignoring(Identity.__table__, conn.dialect.name, ["kind", "value"]), identities)  # households share a phone
            await conn.execute(insert(MatchProfile.__table__), profiles)
            await conn.execute(_ignoring(MatchBlock.__table__, conn.dialect.name, ["key", "customer_id"]), blocks)
        rows = [{"field": f, "value": v, "count": c} for (f, v), c in terms.items()]
        for start in range(0, len(rows), CHUNK):
            await conn.execute(insert(MatchTerm.__table__), rows[start : start + CHUNK])
        if conn.dialect.name == "postgresql":
            for table in ("customers", "identities", "channels"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            await conn.execute(text("ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return phones


def _ignoring(table, dialect: str, keys: list[str]):  # noqa: ANN001, ANN202
    from okno.kit.db import insert_ignoring_duplicates

    return insert_ignoring_duplicates(table, dialect, keys)


# ---- real time ----------------------------------------------------------------------------


async def realtime(url: str, stored: list[dict], queries: list[dict], count: int) -> dict:
    t0 = time.perf_counter()
    phones = await load(url, stored)
    loaded = time.perf_counter() - t0
    db = create_database(url)
    processor = IngestProcessor(db)
    rng = random.Random(1)
    owners = [cid for cid, ph in phones.items() if ph]
    attach: list[float] = []
    lookup: list[float] = []
    for n in range(count + 50):
        cid = rng.choice(owners)
        digits = phones[cid][0][2:]
        sender = SenderIdentity(kind="phone", value=f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}", source="api")
        item = InboundMessage(provider_id=f"bench-{n}", sender=[sender], text="Здравствуйте, это снова я")
        prepared = processor.prepare(n + 1, 1, item, datetime.now(UTC))
        async with db.reading() as session:  # the resolution step alone: normalise + one indexed lookup
            started = time.perf_counter()
            keys, _ = sender_keys(item, "RU")
            resolved = await owners_of(session, set(keys))
            if n >= 50:
                lookup.append(time.perf_counter() - started)
        assert resolved, "the stored phone must resolve"
        started = time.perf_counter()
        async with db.transaction() as session:
            await processor.apply(session, [prepared])
        if n >= 50:  # warm-up
            attach.append(time.perf_counter() - started)
    query_fields = fields_of(queries[: count + 50])
    fuzzy: list[float] = []
    candidates: list[int] = []
    top1 = 0
    truth = {i + 1: row["person_id"] for i, row in enumerate(stored)}
    async with db.reading() as session:
        for n, (fields, row) in enumerate(zip(query_fields, queries, strict=False)):
            started = time.perf_counter()
            found = await score_record(session, fields)
            elapsed = time.perf_counter() - started
            if n >= 50:
                fuzzy.append(elapsed)
                candidates.append(len(found))
                top1 += bool(found) and truth.get(found[0].customer_id) == row["person_id"]
    await db.dispose()
    return {
        "load_seconds": round(loaded, 1),
        "lookup_p50_ms": round(p(lookup, 0.5), 2), "lookup_p99_ms": round(p(lookup, 0.99), 2),
        "attach_p50_ms": round(p(attach, 0.5), 2), "attach_p99_ms": round(p(attach, 0.99), 2),
        "fuzzy_p50_ms": round(p(fuzzy, 0.5), 2), "fuzzy_p99_ms": round(p(fuzzy, 0.99), 2),
        "fuzzy_candidates_mean": round(statistics.mean(candidates), 1) if candidates else 0,
        "fuzzy_true_match_ranked_first": round(top1 / max(len(fuzzy), 1), 4),
    }  # fmt: skip


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'identity-bench.db'}"


async def _pg_admin(admin: str, statement: str) -> None:
    engine = create_oneoff_engine(admin)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


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
    """(output, wall seconds, peak RSS MB of the child and all its descendants together),
    sampling ``/proc`` every 50 ms: a pool of worker processes counts in full."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss_kb(child.pid))
        time.sleep(0.05)
    out, err = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{out[-2000:]}\n{err[-4000:]}")
    return out, wall, peak / 1024


def tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree)


def okno_batch(raw: Path, folder: Path) -> dict:
    okno = str(Path(sys.executable).parent / "okno")
    out, wall, rss = run_child([okno, "customers", "dedupe", "--input", str(raw), "--id-column", "rec_id", "--truth-column", "person_id", "--output", str(folder / "pairs.csv")])
    line = next(line for line in out.splitlines() if line.startswith("against the truth column"))
    numbers = {k: float(line.split(k + " ")[1].split(",")[0].split()[0]) for k in ("precision", "recall", "F1")}
    return {"seconds": round(wall, 1), "peak_rss_mb": round(rss), **numbers}


SPLINK_SCRIPT = r'''
import json, sys, time
import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

path, threshold = sys.argv[1], float(sys.argv[2])
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{path}', all_varchar = true)")
con.execute("CREATE TABLE people AS SELECT unique_id, " + ", ".join(f"nullif({c}, '') AS {c}" for c in
            ("first_name", "surname", "dob", "phone", "email", "city", "address", "postcode")) + " FROM raw")
db_api = DuckDBAPI(con)
people = db_api.register("people")
settings = SettingsCreator(
    link_type="dedupe_only",
    comparisons=[
        cl.NameComparison("first_name"), cl.NameComparison("surname"),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.LevenshteinAtThresholds("phone", 1), cl.EmailComparison("email"),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("address", 2), cl.ExactMatch("postcode"),
    ],
    blocking_rules_to_generate_predictions=[
        block_on("phone"), block_on("email"), block_on("dob", "substr(surname, 1, 1)"),
        block_on("first_name", "surname", "substr(dob, 1, 4)"), block_on("postcode", "surname"), block_on("first_name", "dob"),
    ],
    retain_intermediate_calculation_columns=False,
)
linker = Linker(people, settings, log_level=40)
linker.training.estimate_probability_two_random_records_match([block_on("phone"), block_on("email")], recall=0.7)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname", "dob"))
predictions = linker.inference.predict(threshold_match_probability=threshold)
found_rows = con.execute(f"SELECT unique_id_l, unique_id_r FROM {predictions.physical_name}").fetchall()
seconds = time.perf_counter() - started
truth_of = dict(con.execute("SELECT unique_id, person_id FROM raw").fetchall())
found = {tuple(sorted(pair)) for pair in found_rows}
groups = {}
for uid, pid in truth_of.items():
    groups.setdefault(pid, []).append(uid)
truth = {tuple(sorted((m[i], m[j]))) for m in groups.values() for i in range(len(m)) for j in range(i + 1, len(m))}
hits = len(found & truth)
precision, recall = hits / max(len(found), 1), hits / max(len(truth), 1)
print(json.dumps({"seconds_in_process": round(seconds, 1), "precision": round(precision, 4), "recall": round(recall, 4),
                  "F1": round(2 * precision * recall / max(precision + recall, 1e-12), 4)}))
'''


def splink_batch(python: str, normalised: Path, folder: Path, threshold: float) -> dict:
    script = folder / "splink_run.py"
    script.write_text(SPLINK_SCRIPT)
    out, wall, rss = run_child([python, str(script), str(normalised), str(threshold)])
    return {"seconds": round(wall, 1), "peak_rss_mb": round(rss), **json.loads(out.strip().splitlines()[-1])}


# ---- report -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="stored customers for the real-time figures (default 100000)")
    parser.add_argument("--queries", type=int, default=1000, help="timed attach and fuzzy queries per backend (default 1000)")
    parser.add_argument("--batch", type=int, default=100_000, help="records for the batch dedupe (default 100000; 0 = skip)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both (PostgreSQL needs --pg-url)")
    parser.add_argument("--pg-url", default=os.environ.get("OKNO_BENCH_PG_URL") or os.environ.get("OKNO_TEST_DATABASE_URL"), help="admin URL of a PostgreSQL server")
    parser.add_argument("--splink-python", default=None, help="a Python interpreter that can import splink (compared in the same run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    results: dict = {"customers": args.customers, "queries": args.queries, "batch_records": args.batch, "cpus": os.cpu_count()}
    stored, queries = people(args.customers, seed=21)
    with tempfile.TemporaryDirectory(prefix="okno-identity-bench-") as tmp:
        folder = Path(tmp)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend == "sqlite":
                results["sqlite"] = asyncio.run(realtime(sqlite_url(folder), stored, queries, args.queries))
            elif backend == "postgresql":
                if not args.pg_url:
                    print("PostgreSQL skipped: no --pg-url / OKNO_TEST_DATABASE_URL")
                    continue
                name = f"okno_identity_bench_{secrets.token_hex(3)}"
                asyncio.run(_pg_admin(args.pg_url, f'CREATE DATABASE "{name}"'))
                try:
                    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
                    results["postgresql"] = asyncio.run(realtime(url, stored, queries, args.queries))
                finally:
                    asyncio.run(_pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if args.batch:
            raw, normalised = write_batch_csv(args.batch, folder, seed=5)
            results["okno_batch"] = okno_batch(raw, folder)
            if args.splink_python:
                results["splink_batch"] = splink_batch(args.splink_python, normalised, folder, threshold=SAME_PERSON_THRESHOLD)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(r: dict) -> None:
    print(f"\nidentity resolution — {r['customers']:,} stored customers, {r['queries']} timed queries per backend, {r['cpus']} CPUs")
    for backend in ("sqlite", "postgresql"):
        if backend in r:
            b = r[backend]
            print(f"  {backend:<10} key lookup       p50 {b['lookup_p50_ms']:.2f} ms  p99 {b['lookup_p99_ms']:.2f} ms  (normalise the phone, one indexed lookup)")
            print(f"  {'':<10} exact-key attach p50 {b['attach_p50_ms']:.2f} ms  p99 {b['attach_p99_ms']:.2f} ms  {'PASS' if b['attach_p99_ms'] < 10 else 'MISS'} (<10 ms; whole pipeline, committed)")
            print(f"  {'':<10} fuzzy scoring    p50 {b['fuzzy_p50_ms']:.2f} ms  p99 {b['fuzzy_p99_ms']:.2f} ms  {'PASS' if b['fuzzy_p99_ms'] < 10 else 'MISS'} (<10 ms)"
                  f"  candidates/query {b['fuzzy_candidates_mean']}, true match ranked first {b['fuzzy_true_match_ranked_first']:.1%} (load {b['load_seconds']} s)")  # fmt: skip
    if "okno_batch" in r:
        print(f"\nbatch dedupe — {r['batch_records']:,} generated records (Russian/English names, typos, transliteration, swaps, households),"
              f" pairs at match probability ≥ {SAME_PERSON_THRESHOLD} for both")
        for name in ("okno_batch", "splink_batch"):
            if name in r:
                b = r[name]
                print(f"  {name.split('_')[0]:<7} {b['seconds']:>7.1f} s  peak RSS {b['peak_rss_mb']:>6} MB  precision {b['precision']:.4f}  recall {b['recall']:.4f}  F1 {b['F1']:.4f}")
        if "splink_batch" not in r:
            print("  splink  not run (pass --splink-python with an interpreter that has splink installed)")


if __name__ == "__main__":
    main()
