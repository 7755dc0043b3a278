"""Reading person records from CSV for the batch matcher: streamed in chunks, each column
folded into codes of its normalised values (see :mod:`.table`), so that a million rows never
become a million dicts. With helper processes, each reads its own byte range of the file."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice, pairwise
from pathlib import Path

import numpy as np

from okno.customers.matching.table import PersonTable, TableBuilder, Vocabulary, columns_of

CHUNK = 50_000
SCAN_BLOCK = 1 << 23


@dataclass
class LoadedTable:
    headers: list[str]
    table: PersonTable
    ids: list[str] = field(default_factory=list)
    truth: np.ndarray | None = None  # the truth column as codes (equal code, same person)


def csv_headers(path: Path) -> tuple[list[str], type[csv.Dialect] | csv.Dialect]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(65536)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    first = next(csv.reader(sample.splitlines()[:1], dialect), [])
    return first, dialect


def load_table(path: Path, mapping: dict[str, list[str]], *, id_column: str, truth_column: str | None, default_region: str = "RU",
               helpers: list[ProcessPoolExecutor] | None = None) -> LoadedTable:  # fmt: skip
    """The file's records as a table; ``helpers`` (see :mod:`.helpers`) each fold a byte range."""
    headers, dialect = csv_headers(path)
    params = {name: getattr(dialect, name) for name in ("delimiter", "quotechar", "escapechar", "doublequote", "skipinitialspace", "quoting") if hasattr(dialect, name)}
    ranges = row_ranges(path, params, parts=1 + len(helpers or []))
    job = {"path": path, "params": params, "mapping": mapping, "id_column": id_column, "truth_column": truth_column, "default_region": default_region}
    others = [helper.submit(_load_part, **job, start=start, end=end) for helper, (start, end) in zip(helpers or [], ranges[1:], strict=False)]
    builder, ids, truth = _load_rows(**job, start=ranges[0][0], end=ranges[0][1])
    for other in others:
        part, part_ids, part_truth = other.result()
        builder.absorb(part)
        ids.extend(part_ids)
        truth.absorb(part_truth)
    return LoadedTable(headers=headers, table=builder.build(), ids=ids, truth=truth.codes() if truth_column else None)


def row_ranges(path: Path, params: dict, *, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of about equal size, each a run of whole rows (the header row left out).
    A line break inside a quoted field is told apart by counting quote characters before it.
    That holds when every ``"`` opens or closes a field or is doubled inside one, so a file
    with a quote elsewhere (``5" screen``), or another dialect, is read as one range."""
    size = path.stat().st_size
    boundaries = None
    if parts > 1 and params.get("quotechar") == '"' and not params.get("escapechar") and params.get("quoting") != csv.QUOTE_NONE and _quotes_only_around_fields(path, params["delimiter"]):
        with path.open("rb") as handle:
            boundaries = _row_starts(handle, size, parts)
    if boundaries is None:
        return [(_after_header(path, params), size)]
    return list(pairwise(boundaries))


def _quotes_only_around_fields(path: Path, delimiter: str) -> bool:
    """No ``"`` with other text right before and right after it."""
    edges = np.frombuffer(f'{delimiter}\r\n"'.encode(), dtype=np.uint8)
    with path.open("rb") as handle:
        previous = b"\n"
        while block := handle.read(SCAN_BLOCK):
            data = np.frombuffer(previous + block, dtype=np.uint8)
            quotes = np.flatnonzero(data[1:-1] == ord('"')) + 1  # the last byte is looked at with the next block
            if (~np.isin(data[quotes - 1], edges) & ~np.isin(data[quotes + 1], edges)).any():
                return False
            previous = (previous + block)[-2:]  # its last byte is looked at next time, between its neighbours
    return True


def _row_starts(handle, size: int, parts: int) -> list[int] | None:  # noqa: ANN001
    quotes, position, starts = 0, 0, []
    for target in [0, *(size * i // parts for i in range(1, parts))]:  # 0: the first row after the header
        while position < target:
            block = handle.read(min(SCAN_BLOCK, target - position))
            quotes += block.count(b'"')
            position += len(block)
        found = _next_row_start(handle, position, quotes)
        if found is None:
            break
        position, quotes = found
        starts.append(position)
    return [*sorted(set(starts)), size] if starts else None


def _next_row_start(handle, position: int, quotes: int) -> tuple[int, int] | None:  # noqa: ANN001
    """The first position after a line break outside quotes, at or after ``position``."""
    while True:
        line = handle.readline()
        if not line:
            return None
        position += len(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0 and line.endswith(b"\n"):
            return position, quotes


def _after_header(path: Path, params: dict) -> int:
    with path.open("rb") as handle:
        found = _next_row_start(handle, 0, 0) if params["quotechar"] == '"' else (len(handle.readline()), 0)
    return found[0] if found else path.stat().st_size


class _Truth:
    def __init__(self) -> None:
        self.vocabulary = Vocabulary()
        self.parts: list[np.ndarray] = []

    def add(self, values: tuple[str, ...]) -> None:
        self.parts.append(np.asarray(self.vocabulary.codes_of(list(values)), dtype=np.int64))

    def absorb(self, other: tuple[list[str], np.ndarray]) -> None:
        values, codes = other
        self.parts.append(np.asarray(self.vocabulary.codes_of(values), dtype=np.int64)[codes])

    def export(self) -> tuple[list[str], np.ndarray]:
        return list(self.vocabulary.codes), self.codes()

    def codes(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)


def _load_rows(*, path: Path, params: dict, mapping: dict[str, list[str]], id_column: str, truth_column: str | None, default_region: str,
               start: int, end: int) -> tuple[TableBuilder, list[str], _Truth]:  # fmt: skip
    headers, _ = csv_headers(path)
    builder, ids, truth = TableBuilder(mapping, default_region=default_region), [], _Truth()
    reader = csv.reader(_lines(path, start, end), **params)
    while chunk := list(islice(reader, CHUNK)):
        rows = [row for row in chunk if row]  # blank lines are no records (as csv.DictReader skips them)
        del chunk
        if not rows:
            continue
        columns = columns_of(rows, headers)
        del rows
        ids.extend(columns[id_column])
        if truth_column:
            truth.add(columns[truth_column])
        builder.add(columns)
    return builder, ids, truth


def _load_part(**job) -> tuple[dict, list[str], tuple[list[str], np.ndarray]]:  # noqa: ANN003
    builder, ids, truth = _load_rows(**job)
    return builder.export(), ids, truth.export()


def _lines(path: Path, start: int, end: int) -> Iterator[str]:
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        while position < end:
            line = handle.readline()
            if not line:
                return
            position += len(line)
            yield line.decode("utf-8")
