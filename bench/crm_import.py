"""CRM import throughput: ``okno customers import`` on generated rows, rows per second.

    .venv/bin/python bench/crm_import.py                       # 10,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/crm_import.py --rows 100000 --backends sqlite
    .venv/bin/python bench/crm_import.py --src /path/to/other/checkout/src   # before/after

Rows come from ``okno.customers.matching.synthetic.generate_records`` (30 % duplicates:
typos, transliteration, new phones…) with their record id as the CRM id, into a fresh
database each time. The import runs as a child process, exactly as an operator runs it; the
figure is rows / wall time of that process (migration and CSV reading included).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from okno.customers.matching.synthetic import generate_records  # noqa: E402
from okno.kit.db import run_outside_transaction  # noqa: E402

COLUMNS = ["rec_id", "first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"]


def write_csv(rows: int, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(generate_records(rows, seed=17))


def run_import(source: Path, env: dict[str, str], src: Path) -> tuple[float, str]:
    command = [sys.executable, "-c", "from okno.cli import app; app()", "customers", "import", str(source), "--id-column", "rec_id"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env, "PYTHONPATH": str(src), "COLUMNS": "120"}, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-4000:])
    return wall, "\n".join(line for line in done.stdout.splitlines() if line.strip().startswith(("created", "attached", "suggestions", "conflicts")))


async def _pg(admin: str, statement: str) -> None:
    await run_outside_transaction(admin, statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("OKNO_BENCH_PG_URL") or os.environ.get("OKNO_TEST_DATABASE_URL"), help="admin URL of a PostgreSQL server")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the okno source tree to run (default: this checkout)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okno-import-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "crm.csv"
        write_csv(args.rows, source)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            env = {"OKNO_DATA_DIR": str(folder / backend), "OKNO_DATABASE_URL": ""}  # empty: SQLite in the data dir
            name = None
            if backend == "postgresql":
                if not args.pg_url:
                    print("PostgreSQL skipped: no --pg-url / OKNO_TEST_DATABASE_URL")
                    continue
                name = f"okno_import_bench_{secrets.token_hex(3)}"
                asyncio.run(_pg(args.pg_url, f'CREATE DATABASE "{name}"'))
                env["OKNO_DATABASE_URL"] = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
            try:
                load = os.getloadavg()
                wall, summary = run_import(source, env, args.src)
                print(f"{backend:<10} {args.rows:,} rows in {wall:.1f} s: {args.rows / wall:,.0f} rows/s  (load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {args.src})")
                print("  " + summary.replace("\n", "\n  "))
            finally:
                if name:
                    asyncio.run(_pg(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
