"""Test harness: every database test runs on SQLite and, when ``OKNO_TEST_DATABASE_URL`` points at
a PostgreSQL server, on a fresh PostgreSQL database created for this run. Migrations are applied
once per run; each test starts from empty tables."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text
from sqlalchemy.engine import make_url

from okno.app import create_app
from okno.config import Settings
from okno.auth import passwords
from okno.context import AppContext
from okno.kit import pii
from okno.kit.db import Base, create_oneoff_engine, run_outside_transaction
from okno.kit.migrate import upgrade_to_head

PG_ENV = "OKNO_TEST_DATABASE_URL"
TEST_KEY = Fernet.generate_key().decode()
pii.use_keys([TEST_KEY])  # what every Settings of the suite seals personal data with


def _compile_each_route_once() -> None:
    """Each test builds a new app over the same module-level routers, and FastAPI compiles every
    route's dependency graph and response models again on each app's first request: ~0.2 s of CPU
    per test, minutes per suite run. The suite compiles a route of a module-level router once per
    include prefix and hands the compiled route to every later app. Such a handler looks up
    dependency overrides on the first app; no test overrides a dependency
    (tests/test_suite_rules.py fails if one does). Routes made per app (closures over one
    app's context) are compiled as usual. A FastAPI without this internal is left alone."""
    from fastapi import routing

    context = getattr(routing, "_EffectiveRouteContext", None)
    compile_route = getattr(context, "from_api_route", None)
    if compile_route is None:
        return
    compiled: dict[tuple[int, str], object] = {}
    module_routes: dict[int, object] = {}

    def shared(route: object) -> bool:
        if not module_routes:
            for module in [m for name, m in list(sys.modules.items()) if name.startswith("okno.")]:
                for each in getattr(getattr(module, "router", None), "routes", ()):
                    module_routes[id(each)] = each  # kept alive, so an id is never reused
        return module_routes.get(id(route)) is route

    def from_api_route(cls, *, original_route, include_context):  # noqa: ANN001, ANN202
        if not shared(original_route):
            return compile_route(original_route=original_route, include_context=include_context)
        key = (id(original_route), include_context.prefix)
        if key not in compiled:
            compiled[key] = compile_route(original_route=original_route, include_context=include_context)
        return compiled[key]

    context.from_api_route = classmethod(from_api_route)


_compile_each_route_once()


def _remember_that_sniffio_is_absent() -> None:
    """httpx's ASGITransport asks on every request whether it runs under trio by importing sniffio;
    where sniffio isn't installed, each test request searched the whole import path for it again
    and failed (~5% of a REST call in the ground-truth play). A ``None`` in ``sys.modules`` makes
    that import fail at once, as it would anyway; an installed sniffio is left alone."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_remember_that_sniffio_is_absent()

# argon2 with okno's parameters costs ~0.2 s of CPU per hash and per check, and nearly every test
# signs somebody in: minutes of a suite run spent hashing one test password. Tests hash and check
# with the same algorithm at its cheapest parameters; the tests about passwords themselves (marked
# ``real_password_hashing``) use okno's own hasher, and one of them checks the stored parameters.
_CHEAP_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
_CHEAP_DUMMY_HASH = _CHEAP_HASHER.hash("okno-timing-equaliser")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr(passwords, "_hasher", _CHEAP_HASHER)
        monkeypatch.setattr(passwords, "_DUMMY_HASH", _CHEAP_DUMMY_HASH)


# `make test` hands whole files to two workers (--dist loadfile) in the order of this collection
# (--no-loadscope-reorder): these files run long for their few tests (real processes, the API
# fuzzer, the simulator, browser journeys on both databases), so they go first, slowest first; the
# others follow, those with the most tests first. Started last, one of them kept a worker busy for
# minutes after the other had finished.
RUN_FIRST = (
    "channels/test_contract.py",
    "reports/test_ground_truth.py",
    "test_api_fuzz.py",
    "browser/test_operator_ui.py",
    "test_server_process.py",
    "identity/test_realtime.py",
    "test_simulator.py",
    "identity/test_import_batches.py",
    "scaleout/test_nats_bus.py",
    "browser/test_admin_edit.py",
    "test_worker_process.py",
    "scaleout/test_multiprocess.py",
    "reports/test_rebuild.py",
    "browser/test_safe_actions.py",
    "service/test_assignment.py",
    "browser/test_data_subject_ui.py",
    "browser/test_demo_shift.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    files = [item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else str(item.path) for item in items]
    count: dict[str, int] = {}
    for name in files:
        count[name] = count.get(name, 0) + 1
    first = {name: n for n, name in enumerate(RUN_FIRST)}
    position = {id(item): (first.get(name, len(first)), -count[name], name) for item, name in zip(items, files, strict=True)}
    items.sort(key=lambda item: position[id(item)])  # stable: a file's own tests keep their order


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get(PG_ENV)
    backends = f"okno backends: sqlite + postgresql ({make_url(url).render_as_string(hide_password=True)})" if url else (
        f"okno backends: sqlite only ({PG_ENV} not set)"
    )
    from tests.browser.conftest import ON_BOTH_DATABASES

    browser = f"browser tests: on sqlite; also on postgresql only {', '.join(sorted(ON_BOTH_DATABASES))} (the others' postgresql variants are deselected)"
    return [backends, browser]


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        raise pytest.UsageError(f"CI must test PostgreSQL too: set {PG_ENV}")
    return url


def _run_on_server(admin_url: str, statement: str) -> None:
    asyncio.run(run_outside_transaction(admin_url, statement))


def create_pg_database(admin_url: str) -> str:
    """A fresh database on the server at ``admin_url``; returns its URL."""
    name = f"okno_test_{os.getpid()}_{secrets.token_hex(3)}"
    _run_on_server(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, url: str) -> None:
    _run_on_server(admin_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


# Reference rows the migrations seed (the shared status and closing-reason lists): read once
# after migrating and put back each time a test empties the tables.
SEEDED_TABLES = ("conversation_statuses", "closing_reasons")
_seeded_rows: dict[str, dict[str, list[dict]]] = {}


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_oneoff_engine(url)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            _seeded_rows[url] = {
                name: [dict(row) for row in (await conn.execute(Base.metadata.tables[name].select())).mappings()]
                for name in SEEDED_TABLES
            }
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'okno.db'}"
    _migrate(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = _pg_admin_url()
    if not admin:
        pytest.skip(f"PostgreSQL backend not tested: {PG_ENV} is not set")
    url = create_pg_database(admin)
    _migrate(url)
    yield url
    drop_pg_database(admin, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


async def _empty_all_tables(url: str) -> None:
    engine = create_oneoff_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    # the report rollups last: deleting the facts fires the triggers that keep them (okno.reports.rollups)
    tables.sort(key=lambda name: name.startswith("report_rollup"))
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # DELETE, children first, and the sequences restarted, in one statement: TRUNCATE of
            # every table gives each a new file on disk and took ~10x longer than the DELETEs of a
            # test's few rows (it was most of a PostgreSQL test's set-up)
            sequences = (await conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"))).scalars()
            body = "".join(f"DELETE FROM {name};" for name in tables) + "".join(f"ALTER SEQUENCE {name} RESTART;" for name in sequences)
            await conn.execute(text(f"DO $$ BEGIN {body} END $$"))
        else:
            for name in tables:
                await conn.execute(text(f"DELETE FROM {name}"))
            await conn.execute(text("DELETE FROM sqlite_sequence"))
        for name, rows in _seeded_rows.get(url, {}).items():
            if rows:
                await conn.execute(Base.metadata.tables[name].insert(), rows)
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=TEST_KEY,
        delivery_backoff_base_seconds=0.01,
        delivery_backoff_max_seconds=0.05,
        worker_poll_seconds=0.05,
        embedded_workers=False,
        log_level="warning",
        allow_private_urls=True,  # the fakes serve on loopback; tests of the policy turn it off
    )


@pytest.fixture
async def app(settings: Settings):  # noqa: ANN201
    await _empty_all_tables(settings.database_url)
    application = create_app(settings, start_workers=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ctx(app) -> AppContext:  # noqa: ANN001
    return app.state.ctx


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.test") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """Serves an ASGI app on a real loopback port inside the test's event loop."""

    def __init__(self, asgi_app) -> None:  # noqa: ANN001
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1))
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> LoopbackServer:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """An empty database on each backend, for the tests that migrate one step by step themselves."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'okno.db'}"
        return
    admin = _pg_admin_url()
    if not admin:
        pytest.skip(f"PostgreSQL backend not tested: {PG_ENV} is not set")
    url = create_pg_database(admin)
    yield url
    drop_pg_database(admin, url)
