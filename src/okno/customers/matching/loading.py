"""Reading person records from CSV for the batch matcher: streamed, and folded into comparison
fields (with their blocking keys) on every core."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from okno.customers.matching.columns import person_from_row
from okno.customers.matching.fields import blocking_keys, comparison_fields

CHUNK = 20_000


@dataclass
class LoadedRecords:
    headers: list[str]
    ids: list[str] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    keys: list[list[str]] = field(default_factory=list)


def csv_headers(path: Path) -> tuple[list[str], type[csv.Dialect] | csv.Dialect]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(65536)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    first = next(csv.reader(sample.splitlines()[:1], dialect), [])
    return first, dialect


def load_records(path: Path, mapping: dict[str, list[str]], *, id_column: str, truth_column: str | None, workers: int | None = None) -> LoadedRecords:
    headers, dialect = csv_headers(path)
    used = sorted({h for cols in mapping.values() for h in cols})
    loaded = LoadedRecords(headers=headers)
    workers = workers or min(os.cpu_count() or 1, 4)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, dialect=dialect)
        chunks = _chunks(reader, used, id_column, truth_column, loaded)
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(_fold, ((mapping, used, chunk) for chunk in chunks))
                for records, keys in results:
                    loaded.records.extend(records)
                    loaded.keys.extend(keys)
        else:
            for chunk in chunks:
                records, keys = _fold((mapping, used, chunk))
                loaded.records.extend(records)
                loaded.keys.extend(keys)
    return loaded


def _chunks(reader: csv.DictReader, used: list[str], id_column: str, truth_column: str | None, loaded: LoadedRecords) -> Iterator[list[list[str]]]:
    while True:
        rows = list(islice(reader, CHUNK))
        if not rows:
            return
        loaded.ids.extend(row.get(id_column) or "" for row in rows)
        if truth_column:
            loaded.truth.extend(row.get(truth_column) or "" for row in rows)
        yield [[row.get(h) or "" for h in used] for row in rows]


def _fold(job: tuple[dict[str, list[str]], list[str], list[list[str]]]) -> tuple[list[dict], list[list[str]]]:
    mapping, used, rows = job
    records = [comparison_fields(person_from_row(dict(zip(used, values, strict=True)), mapping)) for values in rows]
    return records, [sorted(blocking_keys(r)) for r in records]
