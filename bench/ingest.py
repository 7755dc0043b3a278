"""Inbound throughput of okno against a raw ASGI + aiosqlite baseline, on this machine.

Starts ``bench/_raw_baseline.py`` and then a real ``okno serve`` (SQLite, fresh data dir) as
subprocesses on 127.0.0.1, drives both with the same pre-signed API-channel webhooks from C
keep-alive connections, and prints msg/s, latency and memory against the targets:

* okno fully processed msg/s >= 40 % of the raw baseline's msg/s
* okno webhook p99 < 50 ms at 32 concurrent senders
* okno idle RSS < 250 MB (also with ``okno demo`` data when ``--with-demo`` is given)

    .venv/bin/python bench/ingest.py [--messages N] [--concurrency C] [--json out.json] [--quick]

A script that prints figures, not a test: it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import math
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from _adapters import available_kinds, build_load

HOST = "127.0.0.1"
SECRET = "bench-channel-secret-0123456789"
ADMIN_EMAIL = "bench@okno.local"
ADMIN_PASSWORD = "bench-password"
BASELINE_SCRIPT = Path(__file__).with_name("_raw_baseline.py")

TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 250.0

POLL_SECONDS = 0.1
CLIENT_SATURATED = 0.8  # share of one core above which the generator, not the server, may set the pace
SETTLE_SECONDS = 1.0


# ---------------------------------------------------------------------------------------------
# Payloads: ~2,000 customers, phones in several national/international formats, some e-mails,
# some integrator ids; Russian texts of 40-200 characters; one unique message_id per message.
# ---------------------------------------------------------------------------------------------

MALE_NAMES = ("Иван", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Павел", "Никита")
FEMALE_NAMES = ("Мария", "Ольга", "Анна", "Екатерина", "Наталья", "Татьяна", "Елена", "Юлия")
LAST_NAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов",
              "Новиков", "Морозов", "Волков", "Фёдоров", "Егоров")
MAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "example.ru")
OPENERS = ("Здравствуйте!", "Добрый день.", "Привет!", "Добрый вечер,", "Подскажите, пожалуйста,", "")
TOPICS = (
    "заказ №{n} до сих пор не доставлен, хотя срок прошёл ещё вчера.",
    "не могу оплатить картой, приложение пишет «ошибка {n}».",
    "хочу вернуть товар: он пришёл в повреждённой упаковке.",
    "можно ли изменить адрес доставки на Ленинградский проспект, {n}?",
    "с карты дважды списали деньги за одну и ту же подписку.",
    "когда снова появится в наличии модель, которую я смотрел на сайте?",
    "курьер не позвонил и ушёл, перенесите доставку на завтра после 18:00.",
    "как подключить уведомления о статусе заказа в Telegram?",
    "код подтверждения не приходит по SMS уже полчаса.",
    "промокод SALE{n} не применяется к корзине.",
)
CLOSERS = ("Спасибо.", "Жду ответа.", "Очень срочно!", "Заранее благодарю.", "")


@dataclass(frozen=True)
class Customer:
    index: int
    name: str
    phone: str | None  # ten national digits, e.g. "9161234567"
    email: str | None
    external_id: str | None


@dataclass(frozen=True)
class SignedBody:
    body: bytes
    headers: tuple[tuple[str, str], ...]  # the provider's own headers (signature, secret token…)
    query: str = ""  # the provider's query string, if any (SMS.ru: ``token=…``)
    content_type: str = "application/json"  # Novofon and SMS.ru post forms


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    phones = rng.sample(range(900_000_0000, 999_999_9999), count)
    return [_customer(rng, i, str(phones[i])) for i in range(count)]


def _customer(rng: random.Random, index: int, phone: str) -> Customer:
    female = rng.random() < 0.5
    first, last = rng.choice(FEMALE_NAMES if female else MALE_NAMES), rng.choice(LAST_NAMES)
    name = f"{first} {last}{'а' if female else ''}"
    email = f"client{index}@{rng.choice(MAIL_DOMAINS)}"
    kind = rng.random()
    if kind < 0.55:  # phone only
        return Customer(index, name, phone, None, None)
    if kind < 0.75:  # phone and e-mail
        return Customer(index, name, phone, email, None)
    if kind < 0.90:  # a CRM's own id, sometimes a phone too
        return Customer(index, name, phone if rng.random() < 0.5 else None, None, f"crm-{index:06d}")
    return Customer(index, name, None, email, None)  # e-mail only


def format_phone(rng: random.Random, digits: str) -> str:
    code, a, b, c = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return rng.choice(
        (f"+7 {code} {a}-{b}-{c}", f"8{digits}", f"8 ({code}) {a}-{b}-{c}", f"+7{digits}", f"+7 ({code}) {a}{b}{c}")
    )


def russian_text(rng: random.Random) -> str:
    parts = [rng.choice(OPENERS), rng.choice(TOPICS).format(n=rng.randint(10, 99_999))]
    if rng.random() < 0.4:
        parts.append(_sentence(rng))
    parts.append(rng.choice(CLOSERS))
    text = " ".join(p for p in parts if p)
    text = text[0].upper() + text[1:]
    while len(text) < 40:
        text += " " + _sentence(rng)
    return text[:200].rstrip()


def _sentence(rng: random.Random) -> str:
    topic = rng.choice(TOPICS).format(n=rng.randint(10, 99_999))
    return topic[0].upper() + topic[1:]


def sender_fields(rng: random.Random, customer: Customer) -> dict[str, str]:
    sender: dict[str, str] = {}
    if customer.external_id:
        sender["external_id"] = customer.external_id
    if customer.phone and (not customer.external_id or rng.random() < 0.5):
        sender["phone"] = format_phone(rng, customer.phone)
    if customer.email and (not sender or rng.random() < 0.6):
        sender["email"] = customer.email.upper() if rng.random() < 0.1 else customer.email
    if rng.random() < 0.7:
        sender["name"] = customer.name
    return sender


def make_bodies(rng: random.Random, customers: list[Customer], count: int, prefix: str) -> list[bytes]:
    bodies = []
    for i in range(count):
        customer = rng.choice(customers)
        payload = {"message_id": f"{prefix}-{i:07d}", "from": sender_fields(rng, customer), "text": russian_text(rng)}
        bodies.append(orjson.dumps(payload))
    return bodies


def sign_all(secret: str, bodies: list[bytes]) -> list[SignedBody]:
    key = secret.encode()
    return [SignedBody(b, (("X-Okno-Signature", "sha256=" + hmac.new(key, b, hashlib.sha256).hexdigest()),)) for b in bodies]


# ---------------------------------------------------------------------------------------------
# Load generator: C senders, each with one keep-alive connection and one request in flight.
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    count: int
    started: float  # perf_counter() at the first send
    finished: float  # perf_counter() at the last response
    latencies: list[float]  # seconds; -1.0 where no response came back
    errors: int
    error_samples: list[str]
    client_cpu_s: float

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the requests that got a response."""
        ordered = sorted(x for x in self.latencies if x >= 0)
        return 1000 * ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


class LoadClient(Protocol):
    async def drive(self, path: str, items: list[SignedBody]) -> LoadResult: ...


class _Tally:
    """Shared by the senders of one run: hands out request indexes, records outcomes."""

    def __init__(self, count: int) -> None:
        self.indexes: Iterator[int] = iter(range(count))
        self.latencies = [-1.0] * count
        self.errors = 0
        self.error_samples: list[str] = []

    def fail(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what)

    def result(self, started: float, cpu_started: float) -> LoadResult:
        return LoadResult(
            count=len(self.latencies),
            started=started,
            finished=time.perf_counter(),
            latencies=self.latencies,
            errors=self.errors,
            error_samples=self.error_samples,
            client_cpu_s=time.process_time() - cpu_started,
        )


class RawClient:
    """Plain asyncio HTTP/1.1: pre-encoded requests, minimal response parsing (cheapest generator)."""

    def __init__(self, port: int, concurrency: int) -> None:
        self.port = port
        self.concurrency = concurrency

    async def drive(self, path: str, items: list[SignedBody]) -> LoadResult:
        requests = [encode_request(path, item) for item in items]
        connections = await asyncio.gather(*(self._connect() for _ in range(self.concurrency)))
        tally = _Tally(len(requests))
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(self._sender(conn, requests, tally) for conn in connections))
        return tally.result(started, cpu_started)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def _sender(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], requests: list[bytes], tally: _Tally) -> None:
        reader, writer = conn
        try:
            for i in tally.indexes:
                sent = time.perf_counter()
                try:
                    writer.write(requests[i])
                    status, keep_alive = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    tally.fail(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await self._connect()
                    continue
                tally.latencies[i] = time.perf_counter() - sent
                if status != 200:
                    tally.fail(f"HTTP {status}")
                if not keep_alive:
                    writer.close()
                    reader, writer = await self._connect()
        finally:
            writer.close()


def encode_request(path: str, item: SignedBody) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in item.headers)
    target = f"{path}?{item.query}" if item.query else path
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {item.content_type}\r\n"
        f"Content-Length: {len(item.body)}\r\n{extra}\r\n"
    )
    return head.encode("ascii") + item.body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and keep-alive of one response; its body (sized by Content-Length) is discarded."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, keep_alive = None, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    if length is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(length)
    return status, keep_alive


class HttpxClient:
    """One ``httpx.AsyncClient`` with room for C keep-alive connections (for comparison)."""

    def __init__(self, port: int, concurrency: int) -> None:
        self.port = port
        self.concurrency = concurrency

    async def drive(self, path: str, items: list[SignedBody]) -> LoadResult:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{self.port}", limits=limits, timeout=60, trust_env=False) as client:
            await asyncio.gather(*(client.get("/healthz") for _ in range(self.concurrency)))  # open the pool
            tally = _Tally(len(items))
            started, cpu_started = time.perf_counter(), time.process_time()
            await asyncio.gather(*(self._sender(client, path, items, tally) for _ in range(self.concurrency)))
            return tally.result(started, cpu_started)

    async def _sender(self, client: httpx.AsyncClient, path: str, items: list[SignedBody], tally: _Tally) -> None:
        for i in tally.indexes:
            headers = {"content-type": items[i].content_type, **dict(items[i].headers)}
            sent = time.perf_counter()
            try:
                target = f"{path}?{items[i].query}" if items[i].query else path
                response = await client.post(target, content=items[i].body, headers=headers)
            except httpx.HTTPError as exc:
                tally.fail(f"{type(exc).__name__}: {exc}")
                continue
            tally.latencies[i] = time.perf_counter() - sent
            if response.status_code != 200:
                tally.fail(f"HTTP {response.status_code}: {response.text[:200]}")


def make_client(kind: str, port: int, concurrency: int) -> LoadClient:
    return RawClient(port, concurrency) if kind == "raw" else HttpxClient(port, concurrency)


# ---------------------------------------------------------------------------------------------
# Server processes.
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    async def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://{HOST}:{self.port}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def rss_mb(self) -> tuple[float, float]:
        """Current and peak resident set size (VmRSS, VmHWM) in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        return _kb(fields["VmRSS"]) / 1024, _kb(fields["VmHWM"]) / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process (all threads) so far."""
        after_name = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _kb(value: str) -> int:
    return int(value.split()[0])


def okno_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    # the adapter channels' provider URLs point at loopback (never called: inbound only), which the
    # outbound URL guard refuses when a channel is saved unless private addresses are allowed
    env.update(OKNO_DATA_DIR=str(data_dir), OKNO_LOG_LEVEL="warning", PYTHONUNBUFFERED="1", OKNO_ALLOW_PRIVATE_URLS="true")
    return env


def okno_cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "okno.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def okno_server(data_dir: Path, port: int, log_path: Path) -> ServerProcess:
    argv = [sys.executable, "-m", "okno.cli", "serve", "--host", HOST, "--port", str(port)]
    return ServerProcess("okno serve", argv, okno_env(data_dir), port, log_path)


def baseline_server(db_path: Path, port: int, log_path: Path) -> ServerProcess:
    argv = [sys.executable, str(BASELINE_SCRIPT), "--port", str(port), "--db", str(db_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return ServerProcess("raw baseline", argv, env, port, log_path)


async def create_channel(port: int, kind: str, config: dict) -> int:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30, trust_env=False) as http:
        login = await http.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        channel = {"kind": kind, "name": f"bench {kind}", "config": config}
        created = await http.post("/api/v1/channels", json=channel, headers=auth)
        if created.is_error:
            raise RuntimeError(f"creating the {kind} channel failed: {created.status_code} {created.text}")
        return int(created.json()["id"])


# ---------------------------------------------------------------------------------------------
# Watching okno's pipeline through its own SQLite file (a separate read-only connection).
# ---------------------------------------------------------------------------------------------


class PipelineProbe:
    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False, timeout=10)

    def _count(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0])

    def pending(self) -> int:
        return self._count("SELECT count(*) FROM inbound_items WHERE status = 'pending'")

    def unpublished(self) -> int:
        return self._count("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    def totals(self) -> dict[str, int]:
        tables = ("messages", "customers", "identities", "conversations")
        totals = {table: self._count(f"SELECT count(*) FROM {table}") for table in tables}  # noqa: S608 (fixed names)
        totals["failed_items"] = self._count("SELECT count(*) FROM inbound_items WHERE status = 'failed'")
        return totals

    def close(self) -> None:
        self.conn.close()


@dataclass
class DrainTimes:
    ingest_done: float | None  # perf_counter() when nothing was pending any more
    outbox_done: float | None  # ... and every outbox event had been published
    pending_samples: list[tuple[float, int]] = field(default_factory=list)


async def _poll_until_zero(
    count: Callable[[], int], ready: Callable[[], bool], deadline: float, samples: list[tuple[float, int]] | None = None
) -> float | None:
    while time.perf_counter() < deadline:
        was_ready = ready()  # read before the query: a later answer may predate the last commit
        value = await asyncio.to_thread(count)
        now = time.perf_counter()
        if samples is not None:
            samples.append((now, value))
        if was_ready and value == 0:
            return now
        await asyncio.sleep(POLL_SECONDS)
    return None


async def watch_pipeline(probe: PipelineProbe, load: asyncio.Task[LoadResult], timeout: float) -> DrainTimes:
    deadline = time.perf_counter() + timeout
    times = DrainTimes(None, None)
    times.ingest_done = await _poll_until_zero(probe.pending, load.done, deadline, times.pending_samples)
    if times.ingest_done is not None:
        times.outbox_done = await _poll_until_zero(probe.unpublished, lambda: True, deadline)
    return times


async def wait_drained(probe: PipelineProbe, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    for count in (probe.pending, probe.unpublished):
        if await _poll_until_zero(count, lambda: True, deadline) is None:
            raise RuntimeError(f"okno did not drain its queues within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------
# The two measured servers.
# ---------------------------------------------------------------------------------------------


@dataclass
class Workload:
    warmup: list[SignedBody]
    run: list[SignedBody]
    concurrency: int
    client: str
    drain_timeout: float


@dataclass
class BaselineResult:
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    elapsed_s: float
    errors: int
    rows: int
    server_cpu_s: float
    client_cpu_s: float


@dataclass
class OknoResult:
    accepted_per_s: float
    processed_per_s: float | None
    events_published_per_s: float | None
    p50_ms: float
    p99_ms: float
    accept_s: float
    process_s: float | None
    outbox_s: float | None
    errors: int
    rss_idle_mb: float
    rss_after_setup_mb: float
    rss_peak_after_setup_mb: float
    rss_after_run_mb: float
    rss_peak_mb: float
    server_cpu_s: float
    client_cpu_s: float
    totals: dict[str, int]
    pending_samples: list[tuple[float, int]]


@dataclass(frozen=True)
class DemoRss:
    rss_mb: float | None  # None: `okno demo` could not be run
    note: str


@dataclass(frozen=True)
class Results:
    baseline: BaselineResult
    okno: OknoResult
    demo: DemoRss | None
    adapters: dict[str, OknoResult] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """okno fully-processed msg/s ÷ raw baseline msg/s."""
        return None if self.okno.processed_per_s is None else self.okno.processed_per_s / self.baseline.msgs_per_s

    @property
    def busiest_client(self) -> float:
        """The load generator's largest share of one core during either measured run."""
        return max(self.baseline.client_cpu_s / self.baseline.elapsed_s, self.okno.client_cpu_s / self.okno.accept_s)


def _check_warmup(name: str, result: LoadResult) -> None:
    if result.errors:
        raise RuntimeError(f"{name}: {result.errors} of {result.count} warm-up requests failed, e.g. {result.error_samples}")


async def bench_baseline(work: Workload, workdir: Path, stack: contextlib.ExitStack) -> BaselineResult:
    db_path = workdir / "baseline.db"
    server = baseline_server(db_path, free_port(), workdir / "baseline.log")
    server.start()
    stack.callback(server.stop)
    await server.wait_healthy()
    client = make_client(work.client, server.port, work.concurrency)
    _check_warmup("raw baseline", await client.drive("/webhooks/1", work.warmup))
    await asyncio.sleep(SETTLE_SECONDS)
    cpu_before = server.cpu_seconds()
    load = await client.drive("/webhooks/1", work.run)
    cpu = server.cpu_seconds() - cpu_before
    server.stop()
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = int(db.execute("SELECT count(*) FROM inbound").fetchone()[0])
    return BaselineResult(
        msgs_per_s=load.count / load.elapsed,
        p50_ms=load.percentile_ms(0.50),
        p99_ms=load.percentile_ms(0.99),
        elapsed_s=load.elapsed,
        errors=load.errors,
        rows=rows,
        server_cpu_s=cpu,
        client_cpu_s=load.client_cpu_s,
    )


async def start_okno(data_dir: Path, port: int, log_path: Path, stack: contextlib.ExitStack) -> ServerProcess:
    server = okno_server(data_dir, port, log_path)
    server.start()
    stack.callback(server.stop)
    await server.wait_healthy()
    return server


async def bench_okno(
    work: Workload, workdir: Path, stack: contextlib.ExitStack, kind: str = "api", config: dict | None = None
) -> OknoResult:
    data_dir = workdir / f"okno-{kind}"
    created = okno_cli(okno_env(data_dir), "admin", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--role", "admin")
    if created.returncode != 0:
        raise RuntimeError(f"okno admin create failed:\n{created.stdout}{created.stderr}")
    server = await start_okno(data_dir, free_port(), workdir / f"okno-{kind}.log", stack)
    await asyncio.sleep(SETTLE_SECONDS)
    rss_idle, _ = server.rss_mb()
    path = f"/webhooks/{await create_channel(server.port, kind, config or {'secret': SECRET})}"
    rss_setup, peak_setup = server.rss_mb()

    probe = PipelineProbe(data_dir / "okno.db")
    stack.callback(probe.close)
    client = make_client(work.client, server.port, work.concurrency)
    _check_warmup("okno", await client.drive(path, work.warmup))
    await wait_drained(probe, work.drain_timeout)
    await asyncio.sleep(SETTLE_SECONDS)

    cpu_before = server.cpu_seconds()
    load_task = asyncio.create_task(client.drive(path, work.run))
    drain = await watch_pipeline(probe, load_task, work.drain_timeout)
    load = await load_task
    cpu = server.cpu_seconds() - cpu_before
    await asyncio.sleep(SETTLE_SECONDS)
    rss_after, rss_peak = server.rss_mb()
    totals = await asyncio.to_thread(probe.totals)
    server.stop()
    return _okno_result(load, drain, cpu, Rss(rss_idle, rss_setup, peak_setup, rss_after, rss_peak), totals)


@dataclass(frozen=True)
class Rss:
    idle: float
    after_setup: float
    peak_after_setup: float
    after_run: float
    peak: float


def _okno_result(load: LoadResult, drain: DrainTimes, cpu: float, rss: Rss, totals: dict[str, int]) -> OknoResult:
    accepted = load.count - load.errors
    process_s = None if drain.ingest_done is None else drain.ingest_done - load.started
    outbox_s = None if drain.outbox_done is None else drain.outbox_done - load.started
    return OknoResult(
        accepted_per_s=accepted / load.elapsed,
        processed_per_s=None if process_s is None else accepted / process_s,
        events_published_per_s=None if outbox_s is None else accepted / outbox_s,
        p50_ms=load.percentile_ms(0.50),
        p99_ms=load.percentile_ms(0.99),
        accept_s=load.elapsed,
        process_s=process_s,
        outbox_s=outbox_s,
        errors=load.errors,
        rss_idle_mb=rss.idle,
        rss_after_setup_mb=rss.after_setup,
        rss_peak_after_setup_mb=rss.peak_after_setup,
        rss_after_run_mb=rss.after_run,
        rss_peak_mb=rss.peak,
        server_cpu_s=cpu,
        client_cpu_s=load.client_cpu_s,
        totals=totals,
        pending_samples=[(round(t - load.started, 3), n) for t, n in drain.pending_samples],
    )


async def idle_rss_with_demo(workdir: Path, stack: contextlib.ExitStack) -> DemoRss:
    """Idle RSS of ``okno serve`` on a data dir seeded by ``okno demo`` (skipped, with a note, if that fails)."""
    data_dir, port = workdir / "demo", free_port()
    try:
        seeded = okno_cli(okno_env(data_dir), "demo", "--base-url", f"http://{HOST}:{port}")
    except subprocess.TimeoutExpired:
        return DemoRss(None, "skipped: okno demo timed out")
    if seeded.returncode != 0:
        last = (seeded.stderr.strip().splitlines() or ["(no output)"])[-1]
        return DemoRss(None, f"skipped: okno demo failed (exit {seeded.returncode}): {last}")
    server = await start_okno(data_dir, port, workdir / "demo.log", stack)
    await asyncio.sleep(SETTLE_SECONDS)
    rss, _ = server.rss_mb()
    server.stop()
    return DemoRss(rss, (seeded.stdout.strip().splitlines() or ["seeded"])[0])


# ---------------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ",.0f", unit: str = "") -> str:
    return "—" if value is None else format(value, spec) + unit


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def targets(results: Results) -> list[tuple[str, str, bool | None]]:
    okno, ratio = results.okno, results.ratio
    rows: list[tuple[str, str, bool | None]] = [
        (f"full pipeline >= {TARGET_RATIO:.0%} of raw baseline", _fmt(None if ratio is None else 100 * ratio, ".1f", " %"),
         None if ratio is None else ratio >= TARGET_RATIO),
        (f"webhook p99 < {TARGET_P99_MS:.0f} ms", f"{okno.p99_ms:.1f} ms", okno.p99_ms < TARGET_P99_MS),
        (f"idle RSS < {TARGET_RSS_MB:.0f} MB", f"{okno.rss_idle_mb:.1f} MB", okno.rss_idle_mb < TARGET_RSS_MB),
    ]
    if results.demo is not None and results.demo.rss_mb is not None:
        demo_rss = results.demo.rss_mb
        rows.append((f"idle RSS with demo data < {TARGET_RSS_MB:.0f} MB", f"{demo_rss:.1f} MB", demo_rss < TARGET_RSS_MB))
    if results.adapters and results.okno.processed_per_s:
        worst = min(r.processed_per_s or 0.0 for r in results.adapters.values()) / results.okno.processed_per_s - 1
        rows.append(("each channel kind within 10 % of API channel", f"{worst:+.1%}", adapter_cost_ok(results)))
    return rows


def _row(name: str, *cells: str) -> None:
    print(f"{name:28}" + "".join(f"{cell:>11}" for cell in cells))


def print_table(base: BaselineResult, okno: OknoResult) -> None:
    _row("", "msg/s", "p50 ms", "p99 ms", "wall s", "srv CPU s", "errors")
    _row("raw baseline", _fmt(base.msgs_per_s), _fmt(base.p50_ms, ".1f"), _fmt(base.p99_ms, ".1f"), _fmt(base.elapsed_s, ".2f"),
         _fmt(base.server_cpu_s, ".1f"), str(base.errors))
    _row("okno accepted (webhook)", _fmt(okno.accepted_per_s), _fmt(okno.p50_ms, ".1f"), _fmt(okno.p99_ms, ".1f"),
         _fmt(okno.accept_s, ".2f"), "", str(okno.errors))
    _row("okno fully processed", _fmt(okno.processed_per_s), "", "", _fmt(okno.process_s, ".2f"), _fmt(okno.server_cpu_s, ".1f"))
    _row("okno outbox published", _fmt(okno.events_published_per_s), "", "", _fmt(okno.outbox_s, ".2f"))


def print_details(results: Results) -> None:
    base, okno, ratio = results.baseline, results.okno, results.ratio
    print(f"okno processed/s ÷ baseline msg/s = {_fmt(None if ratio is None else 100 * ratio, '.1f', ' %')}   "
          f"(accepted/s ÷ baseline = {100 * okno.accepted_per_s / base.msgs_per_s:.1f} %)")
    print(f"okno RSS: idle {okno.rss_idle_mb:.1f} MB, after login+channel {okno.rss_after_setup_mb:.1f} MB "
          f"(peak so far {okno.rss_peak_after_setup_mb:.1f} MB), after the run {okno.rss_after_run_mb:.1f} MB "
          f"(peak {okno.rss_peak_mb:.1f} MB)")
    if results.demo is not None:
        print(f"okno RSS idle with demo data: {_fmt(results.demo.rss_mb, '.1f', ' MB')}  ({results.demo.note})")
    t = okno.totals
    print(f"okno stored {t['messages']:,} messages, {t['customers']:,} customers, {t['identities']:,} identities, "
          f"{t['conversations']:,} conversations; failed items: {t['failed_items']}; baseline rows: {base.rows:,}")
    print(f"load generator CPU: {base.client_cpu_s:.1f} s in the baseline run ({base.client_cpu_s / base.elapsed_s:.0%} of a core), "
          f"{okno.client_cpu_s:.1f} s in the okno run ({okno.client_cpu_s / okno.accept_s:.0%})")


def print_report(args: argparse.Namespace, results: Results) -> None:
    print(f"\nokno inbound benchmark: {args.messages:,} messages (+{args.warmup} warm-up), {args.concurrency} concurrent senders, "
          f"client={args.client}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    print_table(results.baseline, results.okno)
    print()
    print_details(results)
    print_adapters(results)
    print("\ntargets")
    for name, value, ok in targets(results):
        print(f"  {name:40}{value:>12}   {_verdict(ok)}")
    if results.busiest_client >= CLIENT_SATURATED:
        print(f"\nWARNING: the load generator used {results.busiest_client:.0%} of a core: "
              "the figures may be bounded by the client, not by the servers")
    if results.baseline.errors or results.okno.errors:
        print(f"\nWARNING: failed requests (baseline {results.baseline.errors}, okno {results.okno.errors}); "
              "rates count successful requests only")


def print_adapters(results: Results) -> None:
    if not results.adapters:
        return
    api = results.okno.processed_per_s or 0.0
    print("\nper channel kind (same load, each on a fresh okno; verify + parse + full pipeline)")
    print(f"  {'channel':10}{'processed msg/s':>17}{'p50 ms':>9}{'p99 ms':>9}{'vs API channel':>16}{'vs baseline':>13}")
    for kind, result in [("api", results.okno), *results.adapters.items()]:
        rate = result.processed_per_s or 0.0
        print(f"  {kind:10}{rate:>17,.0f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}"
              f"{(rate / api - 1) if api else float('nan'):>+16.1%}{rate / results.baseline.msgs_per_s:>13.1%}")


def adapter_cost_ok(results: Results) -> bool | None:
    """Issue target: signature checks and parsing cost at most 10 % against the API channel."""
    api = results.okno.processed_per_s
    if not results.adapters or not api:
        return None
    return all((r.processed_per_s or 0.0) >= 0.9 * api for r in results.adapters.values())


def write_json(path: Path, args: argparse.Namespace, results: Results) -> None:
    report: dict[str, Any] = {
        "messages": args.messages,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "client": args.client,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "baseline": asdict(results.baseline),
        "okno": asdict(results.okno),
        "processed_vs_baseline": results.ratio,
        "demo": None if results.demo is None else asdict(results.demo),
        "adapters": {kind: asdict(r) for kind, r in results.adapters.items()},
        "targets": [{"target": n, "value": v, "verdict": _verdict(ok)} for n, v, ok in targets(results)],
    }
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))


# ---------------------------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="okno inbound throughput vs a raw ASGI+aiosqlite baseline")
    parser.add_argument("--messages", type=int, default=None, help="measured messages (default 20000, 2000 with --quick)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent senders (default 32)")
    parser.add_argument("--warmup", type=int, default=500, help="uncounted warm-up messages (default 500)")
    parser.add_argument("--customers", type=int, default=2000, help="distinct customers (default 2000)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator (default raw asyncio HTTP/1.1)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2000 messages")
    parser.add_argument("--with-demo", action="store_true", help="also measure idle RSS on a data dir seeded by `okno demo`")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="give up waiting for the pipeline after this many s")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--adapters", default="all", help="channel kinds to measure besides the API channel: all, none, or e.g. telegram,vk")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (path is printed)")
    args = parser.parse_args(argv)
    if args.messages is None:
        args.messages = 2000 if args.quick else 20_000
    return args


def build_workload(args: argparse.Namespace) -> Workload:
    rng = random.Random(args.seed)
    customers = make_customers(rng, args.customers)
    warmup = sign_all(SECRET, make_bodies(rng, customers, args.warmup, "warm"))
    run = sign_all(SECRET, make_bodies(rng, customers, args.messages, "msg"))
    return Workload(warmup, run, args.concurrency, args.client, args.drain_timeout)


async def adapter_workloads(args: argparse.Namespace, base: Workload) -> dict[str, tuple[dict, Workload]]:
    """The same number of messages per channel kind, as that provider would send them."""
    kinds = available_kinds() if args.adapters == "all" else [k for k in args.adapters.split(",") if k and k != "none"]
    rng = random.Random(args.seed + 1)
    customers = make_customers(rng, args.customers)
    senders = [(c.index, c.phone or f"9{c.index:09d}") for c in customers]
    loads: dict[str, tuple[dict, Workload]] = {}
    for kind in kinds:
        texts = [russian_text(rng) for _ in range(args.warmup + args.messages)]
        load = await build_load(kind, senders, texts)
        signed = [
            SignedBody(
                body, tuple((k, v) for k, v in headers.items() if k.lower() != "content-type"), query,
                next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json"),
            )
            for body, headers, query in load.requests
        ]
        work = Workload(signed[: args.warmup], signed[args.warmup :], base.concurrency, base.client, base.drain_timeout)
        loads[kind] = (load.config, work)
    return loads


async def run(args: argparse.Namespace, workdir: Path) -> None:
    work = build_workload(args)
    adapter_work = await adapter_workloads(args, work)  # built (and signed) before any timing
    with contextlib.ExitStack() as stack:
        print(f"data dir: {workdir}", flush=True)
        print("raw baseline ...", flush=True)
        base = await bench_baseline(work, workdir, stack)
        print("okno ...", flush=True)
        okno = await bench_okno(work, workdir, stack)
        adapters: dict[str, OknoResult] = {}
        for kind, (config, kind_work) in adapter_work.items():
            print(f"okno, {kind} channel ...", flush=True)
            adapters[kind] = await bench_okno(kind_work, workdir, stack, kind=kind, config=config)
        demo = None
        if args.with_demo:
            print("okno demo idle RSS ...", flush=True)
            demo = await idle_rss_with_demo(workdir, stack)
    results = Results(base, okno, demo, adapters)
    print_report(args, results)
    if args.json:
        write_json(args.json, args, results)
        print(f"\nresults written to {args.json}")


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_in_workdir(args: argparse.Namespace, run, prefix: str) -> None:  # noqa: ANN001
    """Run ``run(args, workdir)`` in a temporary folder (kept with ``--keep-data``); SIGTERM,
    SIGHUP and Ctrl-C stop the servers it started."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    with contextlib.ExitStack() as stack:
        if args.keep_data:
            workdir = Path(tempfile.mkdtemp(prefix=prefix))
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        try:
            _run_loop(run(args, workdir))
        except KeyboardInterrupt:
            print("\ninterrupted; servers stopped", file=sys.stderr)
            raise SystemExit(130) from None


def main(argv: list[str] | None = None) -> None:
    run_in_workdir(parse_args(argv), run, "okno-bench-")


def _run_loop(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
