"""``okno keys rotate`` and ``okno keys status``: personal data under the newest secret key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from okno.kit.db import Database

keys_app = typer.Typer(help="Keys that seal personal data at rest", no_args_is_help=True)


@keys_app.command("rotate")
def rotate_keys(
    batch: Annotated[int, typer.Option(help="rows per write transaction", min=1)] = 500,
) -> None:
    """Re-seal every personal-data value under the first key of OKNO_SECRET_KEYS (older keys
    after it still open old rows). Safe to interrupt and run again; remove old keys afterwards."""
    from okno.cli import _settings, on_database
    from okno.customers.key_rotation import old_values, rotate

    async def run(db: Database) -> dict[str, int]:
        report = await rotate(db, batch=batch, progress=lambda table, cursor: typer.echo(f"{table}: up to {cursor}"))
        for name, count in sorted(report.resealed.items()):
            typer.echo(f"re-sealed {count} × {name}")
        typer.echo(f"matcher profiles re-filed: {report.refiled}")
        async with db.reading() as session:
            return await old_values(session)

    left = on_database(_settings(), run)
    if left:
        typer.secho(f"still under an older key: {left} (run again)", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
    typer.secho("every personal-data value is sealed with the newest key; older keys may be removed", fg=typer.colors.GREEN)


@keys_app.command("status")
def keys_status() -> None:
    """How many stored personal-data values still need an older key, per column."""
    from okno.cli import _settings, on_database
    from okno.customers.key_rotation import old_values

    async def run(db: Database) -> dict[str, int]:
        async with db.reading() as session:
            return await old_values(session)

    left = on_database(_settings(), run)
    for name, count in sorted(left.items()):
        typer.echo(f"{name}: {count} under an older key")
    typer.echo("nothing to rotate" if not left else "run `okno keys rotate`")
