"""``okno customers import``, ``dedupe``, ``reindex``, ``export`` and ``erase``."""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

customers_app = typer.Typer(help="Import, match and deduplicate customer profiles", no_args_is_help=True)

IMPORT_CHUNK = 500
# File mode writes the pairs it judges the same person. The probability is a calibrated
# Fellegi–Sunter one (prior: the chance that two random records match, from the estimated
# matches per record); the default cut is the one that maximised the mean F1 over FEBRL3
# without its id column, five different generated data sets at 20,000 records and one at
# 100,000 (docs/identity-matching.md).
SAME_PERSON_THRESHOLD = 0.3
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class _DryRun(Exception):
    """Raised at the end of a dry run so that its transaction rolls back."""


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    rows = [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    return list(reader.fieldnames or []), rows


def _mapping(headers: list[str], map_option: str | None) -> dict[str, list[str]]:
    from okno.customers.matching.columns import map_columns, parse_map_option

    try:
        overrides = parse_map_option(map_option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    unknown = [c for c in overrides if c not in headers]
    if unknown:
        raise typer.BadParameter(f"--map names columns the file doesn't have: {', '.join(unknown)}")
    mapping = map_columns(headers, overrides)
    if not mapping:
        raise typer.BadParameter(f"no column recognised among {', '.join(headers)}; use --map column=field")
    return mapping


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False)


@customers_app.command("import")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header row (, ; tab or | separated)")],
    map_option: Annotated[str | None, typer.Option("--map", help="column=field pairs for columns not recognised, e.g. 'Клиент=full_name,tel=phone'")] = None,
    id_column: Annotated[str | None, typer.Option(help="the CRM's own id column: stored as identity crm:<id>")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="do everything, report, then roll back")] = False,
) -> None:
    """Create or update profiles from a CRM export; prints created/attached/suggested/conflicts."""
    from okno.cli import _migrate, _settings
    from okno.customers.importer import ImportReport, import_rows
    from okno.kit.db import create_database

    headers, rows = _read_csv(file)
    mapping = _mapping(headers, map_option)
    if id_column and id_column not in headers:
        raise typer.BadParameter(f"--id-column {id_column!r} is not a column of {file.name}")
    typer.echo("columns: " + "; ".join(f"{field} ← {', '.join(cols)}" for field, cols in mapping.items()) + (f"; crm id ← {id_column}" if id_column else ""))
    settings = _settings()
    report = ImportReport()

    async def run() -> None:
        await _migrate(settings)
        db = create_database(settings.resolved_database_url())
        try:
            with _progress() as progress:
                task = progress.add_task("importing" + (" (dry run)" if dry_run else ""), total=len(rows))
                if dry_run:
                    try:
                        async with db.transaction() as session:
                            for start in range(0, len(rows), IMPORT_CHUNK):
                                report.add(await import_rows(session, rows[start : start + IMPORT_CHUNK], mapping, id_column=id_column,
                                                             first_row_number=start + 2, default_region=settings.default_region))  # fmt: skip
                                progress.update(task, completed=min(start + IMPORT_CHUNK, len(rows)))
                            raise _DryRun
                    except _DryRun:
                        pass
                else:
                    for start in range(0, len(rows), IMPORT_CHUNK):
                        async with db.transaction() as session:
                            report.add(await import_rows(session, rows[start : start + IMPORT_CHUNK], mapping, id_column=id_column,
                                                         first_row_number=start + 2, default_region=settings.default_region))  # fmt: skip
                        progress.update(task, completed=min(start + IMPORT_CHUNK, len(rows)))
        finally:
            await db.dispose()

    started = time.perf_counter()
    asyncio.run(run())
    verb = "would be" if dry_run else "were"
    typer.echo(f"{report.rows} rows in {time.perf_counter() - started:.1f} s{' (dry run: nothing was saved)' if dry_run else ''}")
    typer.echo(f"  created:            {report.created} new profiles {verb} created")
    typer.echo(f"  attached by key:    {report.attached_by_key} (a phone, e-mail or CRM id already known)")
    typer.echo(f"  attached by match:  {report.attached_by_match} (scored above the auto threshold)")
    typer.echo(f"  suggestions queued: {report.suggested} (a likely duplicate for an operator to review)")
    typer.echo(f"  conflicts:          {report.conflicts} (a key already owned by another profile; see /api/v1/identity-conflicts)")
    typer.echo(f"  skipped:            {len(report.skipped)}")
    for line in report.skipped[:20]:
        typer.echo(f"    {line}")


@customers_app.command("dedupe")
def dedupe_customers(
    input_file: Annotated[Path | None, typer.Option("--input", exists=True, dir_okay=False, help="deduplicate this CSV instead of the database (nothing is stored)")] = None,
    id_column: Annotated[str | None, typer.Option(help="with --input: the column that identifies a row in the output")] = None,
    output: Annotated[Path | None, typer.Option(help="with --input: write id_a,id_b,score for every pair judged the same person")] = None,
    map_option: Annotated[str | None, typer.Option("--map", help="column=field pairs for columns not recognised")] = None,
    truth_column: Annotated[str | None, typer.Option(help="with --input: a column holding the true person id; prints precision, recall, F1, where missed pairs were lost, and a precision/recall curve")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="match probability cut (default: 0.3 with --input, chosen to maximise F1 on varied data; else the review threshold)")] = None,
    merge: Annotated[bool, typer.Option("--merge", help="database mode: merge pairs above the auto threshold (or --threshold) instead of only queueing suggestions")] = False,
    jobs: Annotated[int | None, typer.Option(min=1, help="with --input: processes to use (default: one per core, at most 4, for files over 20 MB)")] = None,
) -> None:
    """Cluster duplicates with the same matcher as real time: suggestions (or merges) in the
    database, or a pairs file for outside data."""
    if input_file is not None:
        _dedupe_file(input_file, id_column, output, map_option, truth_column, threshold, jobs)
    else:
        if output or id_column or truth_column or jobs:
            raise typer.BadParameter("--output, --id-column, --truth-column and --jobs go with --input")
        _dedupe_database(threshold, merge)


def _dedupe_file(path: Path, id_column: str | None, output: Path | None, map_option: str | None, truth_column: str | None, threshold: float | None,
                 jobs: int | None) -> None:  # fmt: skip
    from okno.customers.matching.batch import dedupe
    from okno.customers.matching.helpers import default_helpers, helper_processes
    from okno.customers.matching.loading import csv_headers, load_table
    from okno.customers.matching.model import MatchModel

    if not id_column or not output:
        raise typer.BadParameter("--input needs --id-column and --output")
    started = time.perf_counter()
    headers, _ = csv_headers(path)
    for name, column in (("--id-column", id_column), ("--truth-column", truth_column)):
        if column and column not in headers:
            raise typer.BadParameter(f"{name} {column!r} is not a column of {path.name}")
    mapping = _mapping([h for h in headers if h not in (id_column, truth_column)], map_option)
    typer.echo("columns: " + "; ".join(f"{field} ← {', '.join(cols)}" for field, cols in mapping.items()))
    with helper_processes(default_helpers(path.stat().st_size) if jobs is None else jobs - 1) as helpers:
        loaded = load_table(path, mapping, id_column=id_column, truth_column=truth_column, helpers=helpers)
        load_seconds = time.perf_counter() - started
        with _progress() as progress:
            task = progress.add_task("scoring pairs", total=None)

            def report(stage: str, done: int, total: int) -> None:
                progress.update(task, description=stage, completed=done, total=total)

            cut = SAME_PERSON_THRESHOLD if threshold is None else threshold
            result = dedupe(loaded.table, model=MatchModel(), threshold=cut, progress=report, helpers=helpers, keep_candidates=loaded.truth is not None)
    loaded.table = None  # type: ignore[assignment]  # its columns are no longer needed
    _write_pairs(output, loaded.ids, result.pairs, result.probabilities)
    _print_stats(result, load_seconds, time.perf_counter() - started)
    if loaded.truth is not None:
        _print_truth(loaded.truth, result, cut)
    typer.echo(f"pairs written to {output} (match probability ≥ {cut})")


def _write_pairs(output: Path, ids: list[str], pairs, probabilities) -> None:  # noqa: ANN001
    """``id_a,id_b,score`` rows, byte for byte as ``csv.writer`` writes them, a block at a time."""
    special = any(c in "".join(ids) for c in ',"\r\n')
    field = (lambda v: '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v) if special else (lambda v: v)  # noqa: E731
    with output.open("w", newline="", encoding="utf-8") as out:
        out.write("id_a,id_b,score\r\n")
        for start in range(0, len(pairs), 100_000):
            block = pairs[start : start + 100_000].tolist()
            scores = probabilities[start : start + 100_000].tolist()
            out.write("".join(f"{field(ids[a])},{field(ids[b])},{p:.6f}\r\n" for (a, b), p in zip(block, scores, strict=True)))


def _print_stats(result, load_seconds: float, total_seconds: float) -> None:  # noqa: ANN001
    import math

    from okno.customers.matching.compare import COMPARISONS

    s = result.stats
    p = result.probabilities
    expected_false = float((1 - p).sum()) if len(p) else 0.0
    typer.echo(f"records {s['records']}, candidate pairs {s['candidate_pairs']} (blocks too common to use: {s['oversized_blocks_skipped']})")
    typer.echo(f"matched pairs {s['matched_pairs']} in {s['clusters']} clusters; load {load_seconds:.1f} s, total {total_seconds:.1f} s")
    if len(p):
        bands = [(0.99, 1.01), (0.95, 0.99), (0.0, 0.95)]
        typer.echo("by match probability: " + ", ".join(f"[{lo:.2f}, {min(hi, 1):.2f}): {int(((p >= lo) & (p < hi)).sum())}" for lo, hi in bands))
        typer.echo(f"expected false pairs among them (Σ 1−p): {expected_false:.0f}, i.e. model-estimated precision {1 - expected_false / len(p):.4f}")
    rate = result.model.match_rate
    typer.echo(f"model: candidate-pair prior {result.model.prior:.4f}" + (f", {rate:.3f} matches per record" if rate is not None else "") + " (m from anchor pairs and EM, u from random pairs)")
    for comparison in COMPARISONS:
        m, u = result.model.m[comparison.name], result.model.u[comparison.name]
        typer.echo(f"  {comparison.name}: " + ", ".join(f"{level} {math.log2(a / b):+.1f}" for level, a, b in zip(comparison.levels, m, u, strict=True)) + " bits")


def _print_truth(truth, result, cut: float) -> None:  # noqa: ANN001
    """``truth``: per record, a code of the true person (equal codes, same person): precision,
    recall, F1, where each missed true pair was lost, and the curve over thresholds."""
    from okno.customers.matching.truth import truth_report

    li, ri, probability, gamma = result.candidates
    for line in truth_report(truth, li, ri, probability, cut, gamma).lines():
        typer.echo(line)


def _dedupe_database(threshold: float | None, merge: bool) -> None:
    from okno.cli import _migrate, _settings
    from okno.customers.matching.dedupe_base import dedupe_base
    from okno.kit.db import create_database

    settings = _settings()

    async def run() -> dict:
        await _migrate(settings)
        db = create_database(settings.resolved_database_url())
        try:
            return await dedupe_base(db, threshold=threshold, merge=merge)
        finally:
            await db.dispose()

    stats = asyncio.run(run())
    for key, value in stats.items():
        typer.echo(f"{key}: {value}")


@customers_app.command("reindex")
def reindex_customers(
    after_id: Annotated[int, typer.Option(min=0, help="start after this customer id (resume an interrupted run)")] = 0,
    chunk: Annotated[int, typer.Option(min=1, max=10_000, help="customers per transaction")] = 1000,
) -> None:
    """Re-file stored profiles under the matcher's current fields and blocking keys (run once
    after an upgrade that adds some); rewrites only profiles that differ, so it can be re-run
    or resumed at any time, also while okno serves."""
    from okno.cli import _migrate, _settings
    from okno.customers.matching.reindex import ReindexReport, customers_after, reindex_profiles
    from okno.kit.db import create_database

    settings = _settings()
    done = ReindexReport(last_id=after_id)

    async def run() -> None:
        await _migrate(settings)
        db = create_database(settings.resolved_database_url())
        try:
            total = await customers_after(db, after_id)
            with _progress() as progress:
                task = progress.add_task("re-filing profiles", total=total)

                def report(so_far: ReindexReport) -> None:
                    done.customers, done.refiled, done.last_id = so_far.customers, so_far.refiled, so_far.last_id
                    progress.update(task, completed=min(so_far.customers, total))

                await reindex_profiles(db, after_id=after_id, chunk=chunk, progress=report)
        finally:
            await db.dispose()

    started = time.perf_counter()
    try:
        asyncio.run(run())
    except BaseException:
        if done.last_id > after_id:
            typer.echo(f"stopped after customer {done.last_id} (everything up to it is saved): resume with --after-id {done.last_id}", err=True)
        raise
    typer.echo(f"{done.customers} customers in {time.perf_counter() - started:.1f} s: {done.refiled} profiles re-filed, the rest were up to date")


@customers_app.command("export")
def export_customer_command(
    customer_id: Annotated[int, typer.Argument(min=1, help="the customer's id (a merged-away id exports the person it was merged into)")],
    output: Annotated[Path | None, typer.Option(help="write the JSON here instead of to standard output")] = None,
) -> None:
    """Everything okno holds about one customer as JSON (a data-subject access request); audited."""
    import orjson

    from okno.cli import _settings, on_database
    from okno.customers.export import export_customer_data

    document = on_database(_settings(), lambda db: export_customer_data(db, customer_id, actor_id=None))
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    if output is None:
        sys.stdout.buffer.write(data + b"\n")
    else:
        output.write_bytes(data + b"\n")
        typer.echo(f"customer {document['customer']['id']}: {len(document['messages'])} messages, {len(document['conversations'])} conversations written to {output}")


@customers_app.command("erase")
def erase_customer_command(
    customer_id: Annotated[int, typer.Argument(min=1, help="the customer's id (the whole merged person is erased)")],
    reason: Annotated[str, typer.Option(help="why: kept in the audit log (e.g. the request's reference)")],
) -> None:
    """Erase a customer's personal data for good; the profile stays as an anonymous tombstone."""
    from okno.cli import _settings, on_database
    from okno.customers.erasure import erase_customer_data
    from okno.files.storage import file_storage

    settings = _settings()
    erasure = on_database(settings, lambda db: erase_customer_data(db, file_storage(settings).blobs, customer_id, actor_id=None, reason=reason))
    typer.echo(f"erased customer {erasure.customer_id} (profiles {', '.join(map(str, erasure.customers))}): "
               + ", ".join(f"{name} {count}" for name, count in erasure.counts.items()))  # fmt: skip
