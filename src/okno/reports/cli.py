"""``okno reports rebuild``: the report projection recomputed from the stored events
(``okno.reports.rebuild``, docs/analytics.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from okno.kit.db import Database
    from okno.reports.rebuild import RebuildOutcome

reports_app = typer.Typer(help="Analytics projections", no_args_is_help=True)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} takes an ISO 8601 moment with its time zone, e.g. 2026-11-01T00:00:00+03:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{option} needs a time zone (e.g. +03:00 or Z)")
    return moment


@reports_app.command("rebuild")
def rebuild_command(
    start: Annotated[str | None, typer.Option("--from", help="rebuild conversations opened from this moment (ISO 8601 with a time zone)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="… and before this one")] = None,
) -> None:
    """Recompute the report projection from the stored events for the conversations opened in
    [--from, --to) (all without them). Safe to interrupt: run it again with the same range to
    resume; running it again after it finished rebuilds the same figures."""
    from okno.cli import _settings, on_database
    from okno.reports.rebuild import rebuild

    first, last = _moment(start, "--from"), _moment(end, "--to")
    if first is not None and last is not None and last <= first:
        raise typer.BadParameter("--to must be after --from")
    settings = _settings()

    async def run(db: Database) -> RebuildOutcome:
        return await rebuild(
            db, start=first, end=last, window=timedelta(days=settings.repeat_contact_days),
            progress=lambda run: typer.echo(f"replayed up to event {run.cursor} of {run.high_water} ({run.events} applied)"),
        )

    outcome = on_database(settings, run)
    typer.secho(f"rebuild {outcome.run_id}: {outcome.conversations} conversations, {outcome.events} events applied", fg=typer.colors.GREEN)
    if outcome.uncounted:
        typer.secho(f"{outcome.uncounted} of them have no stored events (written without them, e.g. seeded): not counted", fg=typer.colors.YELLOW)
