"""The ``okno`` command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from okno import __version__
from okno.config import Settings, get_settings
from okno.customers.cli import customers_app
from okno.customers.keys_cli import keys_app
from okno.reports.cli import reports_app

if TYPE_CHECKING:
    from okno.kit.db import Database

T = TypeVar("T")

app = typer.Typer(help="okno — omnichannel customer service", no_args_is_help=True, add_completion=False)
admin_app = typer.Typer(help="Manage operators", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(customers_app, name="customers")
app.add_typer(keys_app, name="keys")
app.add_typer(reports_app, name="reports")


def _settings() -> Settings:
    settings = get_settings()
    if settings.is_sqlite:
        settings.ensure_data_dir()
    from okno.kit import pii

    pii.use_keys(settings.fernet_keys())
    return settings


async def _migrate(settings: Settings) -> str | None:
    from okno.kit.db import create_oneoff_engine
    from okno.kit.migrate import current_revision, upgrade_to_head

    engine = create_oneoff_engine(settings.resolved_database_url())
    try:
        await upgrade_to_head(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate, open the database, run ``work`` on it and close it again: what a one-off command
    does. okno's own refusals (``OknoError``: not found, invalid…) end the command with exit
    code 1 and their message."""
    from okno.kit.db import create_database
    from okno.kit.errors import OknoError

    async def run() -> T:
        await _migrate(settings)
        db = create_database(settings.resolved_database_url())
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OknoError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest schema."""
    settings = _settings()
    revision = asyncio.run(_migrate(settings))
    typer.echo(f"database at revision {revision}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Migrate, then serve the API, webhooks and (unless OKNO_EMBEDDED_WORKERS=false, for a
    separate `okno worker`) the background workers."""
    import uvicorn

    from okno.app import create_app
    from okno.kit.http_protocol import CorkedHttpToolsProtocol

    settings = _settings()
    revision = asyncio.run(_migrate(settings))
    where = "SQLite at " + str(settings.data_dir.resolve() / "okno.db") if settings.is_sqlite else "PostgreSQL"
    typer.echo(f"okno {__version__}: database {where} (revision {revision})")
    typer.secho(f"okno is serving at http://{host}:{port}  (API docs: http://{host}:{port}/docs)", fg=typer.colors.GREEN)
    typer.secho(f"operator UI: http://{host}:{port}/login", fg=typer.colors.GREEN)
    if settings.fake_providers:
        typer.echo(f"fake providers are mounted at http://{host}:{port}/fake/")
        if not settings.allow_private_urls:  # the fakes listen on this loopback address
            typer.secho("the demo's channels call the fakes on loopback: set OKNO_ALLOW_PRIVATE_URLS=true", fg=typer.colors.YELLOW)
    uvicorn.run(
        create_app(settings, freeze_heap=True),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http=CorkedHttpToolsProtocol,  # a response's header block and body in one socket write
        lifespan="on",
        # open live streams (operators' browsers) would otherwise hold a shutdown forever
        timeout_graceful_shutdown=5,
    )


@app.command()
def worker(
    port: Annotated[int | None, typer.Option(help="serve /healthz, /readyz and /metrics on this TCP port")] = None,
    host: Annotated[str, typer.Option(help="interface for --port")] = "127.0.0.1",
) -> None:
    """Migrate, then run every background queue (ingest, relay, delivery, timers, webhook calls,
    jobs) without serving HTTP. Pair it with `OKNO_EMBEDDED_WORKERS=false okno serve`."""
    from okno.kit.logging import configure_logging
    from okno.kit.worker_lock import WorkersAlreadyRunning
    from okno.worker_process import run_worker

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    revision = asyncio.run(_migrate(settings))
    where = "SQLite at " + str(settings.data_dir.resolve() / "okno.db") if settings.is_sqlite else "PostgreSQL"
    typer.echo(f"okno {__version__} worker: database {where} (revision {revision})")
    try:
        import uvloop

        uvloop.run(run_worker(settings, host=host, port=port, settle=True))
    except WorkersAlreadyRunning as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        pass
    typer.echo("okno worker stopped")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="login e-mail")],
    password: Annotated[str, typer.Option(help="at least 8 characters")],
    role: Annotated[str, typer.Option(help="admin, supervisor or operator")] = "admin",
    name: Annotated[str, typer.Option(help="display name")] = "",
) -> None:
    """Create an operator account."""
    from okno.auth.service import create_operator
    from okno.kit.db import create_database
    from okno.kit.errors import OknoError

    settings = _settings()

    async def run() -> int:
        await _migrate(settings)
        db = create_database(settings.resolved_database_url())
        try:
            async with db.transaction() as session:
                operator = await create_operator(session, email=email, password=password, name=name, role=role)
                return operator.id
        finally:
            await db.dispose()

    try:
        operator_id = asyncio.run(run())
    except OknoError as exc:
        raise _fail(exc.detail) from None
    typer.echo(f"created {role} {email} (id {operator_id})")


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many demo customers")] = 300,
    base_url: Annotated[str, typer.Option(help="where okno will be served (for the demo channel's fake receiver)")] = "http://127.0.0.1:8000",
    force: Annotated[bool, typer.Option(help="seed even if demo data exists")] = False,
) -> None:
    """Seed a realistic demo: operators, teams, channels and customers with cross-channel histories."""
    from okno.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo

    settings = _settings()

    async def run() -> bool:
        await _migrate(settings)
        return await seed_demo(settings, customers=customers, base_url=base_url, force=force)

    seeded = asyncio.run(run())
    typer.echo("demo data seeded" if seeded else "demo data already present (use --force to add more)")
    typer.secho(f"demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}", fg=typer.colors.GREEN)


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="where okno is served")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(help="customer journeys per minute", min=0.1)] = 6.0,
    journeys: Annotated[int | None, typer.Option(help="stop after this many journeys (default: until Ctrl-C)", min=1)] = None,
    operator_replies: Annotated[bool, typer.Option(help="answer customers through the API as the demo admin")] = True,
    ground_truth: Annotated[int | None, typer.Option("--ground-truth", help="instead: play N conversations with known answers in-process on a fresh database and compare the reports' summary with them", min=1)] = None,
    expected: Annotated[Path | None, typer.Option(help="with --ground-truth: write the expected and returned summaries here (JSON)")] = None,
) -> None:
    """Play realistic customer journeys through the real webhooks of channels on the fake providers."""
    if ground_truth is not None:
        _ground_truth(ground_truth, expected)
        return
    from okno.kit.logging import configure_logging
    from okno.simulator import DEMO_OPERATOR, JourneyFailed, Simulator

    settings = _settings()
    configure_logging(settings.log_level)
    simulator = Simulator(settings, url.rstrip("/"), rate=rate, operator=DEMO_OPERATOR if operator_replies else None)
    try:
        outcomes = asyncio.run(simulator.run(journeys=journeys))
    except KeyboardInterrupt:
        typer.echo("simulation stopped")
        return
    except JourneyFailed as exc:
        raise _fail(str(exc)) from None
    failed = sum(not o.ok for o in outcomes)
    typer.echo(f"{len(outcomes)} journeys played, {failed} failed")
    if failed:
        raise typer.Exit(code=1)


def _ground_truth(n: int, expected: Path | None) -> None:
    """``okno simulate --ground-truth N`` (docs/analytics.md): exit 1 when the summary differs."""
    import orjson

    from okno.reports.runner import run_ground_truth

    out = asyncio.run(run_ground_truth(n, database_url=_settings().database_url))
    if expected is not None:
        expected.write_bytes(orjson.dumps({"expected": out.expected, "got": out.got}, option=orjson.OPT_INDENT_2))
    typer.echo(f"{out.conversations} conversations ({out.actions} actions) played in {out.played_seconds:.1f} s on {out.backend}; "
               f"summary {'equals' if out.exact else 'DIFFERS FROM'} the expected figures")
    if not out.exact:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
