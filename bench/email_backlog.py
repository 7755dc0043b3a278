"""E-mail ingest: a mailbox backlog through IMAP into okno, and live IDLE delivery, on this machine.

Starts a throw-away Dovecot on loopback (the test suite's helper, ``tests/channels/mail_servers.py``),
APPENDs ``--messages`` customer e-mails, creates an e-mail channel in a fresh okno (SQLite) and
drains the backlog through the real poll worker and ingest (``ctx.settle()``), then starts okno's
workers and APPENDs ``--live`` more, one at a time, timing APPEND → the message stored (IDLE
wakes the poll). Prints messages/s, peak RSS, and the live p50/p99 against the issue's targets
(backlog of 10,000 under 2 minutes; live p99 under 2 s). A script that prints figures, not a test.

    .venv/bin/python bench/email_backlog.py [--messages 10000] [--live 50]
"""

from __future__ import annotations

import sys

# (named email_backlog, not email: run as a script, bench/ is first on the path and a bench/email.py
# would shadow the standard library's ``email`` package for every script here)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import imaplib  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's Dovecot helper

from okno.app import create_app  # noqa: E402
from okno.channels.adapters.email import adapter, imap  # noqa: E402
from okno.channels.adapters.email.adapter import watchers  # noqa: E402
from okno.channels.adapters.email.fake import FakeMail, compose_mail  # noqa: E402
from okno.channels.service import create_channel  # noqa: E402
from okno.config import Settings  # noqa: E402
from okno.kit.db import create_oneoff_engine  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from okno.models import Message  # noqa: E402
from tests.channels.mail_servers import Dovecot  # noqa: E402

TEXTS = ("Здравствуйте! Заказ №{n} до сих пор не доставлен.", "Не могу оплатить картой, ошибка {n}.",
         "Хочу вернуть товар из заказа {n}: пришёл повреждённым.", "Промокод SALE{n} не применяется.")


def mail(n: int) -> bytes:
    return compose_mail("support@shop.example", f"customer{n % 2000}@mail.example", TEXTS[n % len(TEXTS)].format(n=n), subject=f"Заказ {n}")


def fill(dovecot: Dovecot, count: int) -> float:
    started = time.monotonic()
    imap = dovecot.connect()
    try:
        for n in range(count):
            imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), mail(n))
    finally:
        imap.logout()
    return time.monotonic() - started


async def stored(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Message))


class Stages:
    """Wall seconds and this process's CPU seconds spent in each stage of the backlog (a stage
    inside another, e.g. parsing inside the poll, is also counted in the outer one)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall[name] = self.wall.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu

    def timed(self, name: str, fn):  # noqa: ANN001, ANN201
        stages = self
        if asyncio.iscoroutinefunction(fn):
            async def timed_async(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    stages.add(name, time.perf_counter() - wall, time.process_time() - cpu)
            return timed_async

        def timed_sync(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                stages.add(name, time.perf_counter() - wall, time.thread_time() - cpu)
        return timed_sync

    def report(self, messages: int, top: int = 20) -> str:
        return "; ".join(f"{name} {self.wall[name]:.1f}s wall / {self.cpu[name] * 1000 / messages:.2f} ms CPU per message"
                         for name in sorted(self.wall, key=self.wall.get, reverse=True)[:top])


async def run(messages: int, live: int) -> None:
    dovecot = Dovecot().start()
    smtp = FakeMail()  # its SMTP server answers the connection test when the channel is saved
    data = Path(tempfile.mkdtemp(prefix="okno-bench-email-"))
    try:
        print(f"APPEND {messages} messages to Dovecot: {fill(dovecot, messages):.1f}s")
        settings = Settings(data_dir=data, secret_keys=Fernet.generate_key().decode(), embedded_workers=False,
                            log_level="warning", allow_private_urls=True, worker_poll_seconds=0.05)
        engine = create_oneoff_engine(settings.resolved_database_url())
        await upgrade_to_head(engine)
        await engine.dispose()
        app = create_app(settings, start_workers=False)
        async with app.router.lifespan_context(app):
            ctx = app.state.ctx
            config = {"address": "support@shop.example", "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
                      "smtp_host": "127.0.0.1", "smtp_port": smtp.smtp_port, "smtp_security": "none", "username": "support",
                      "password": "dovecot-test-password"}
            async with ctx.db.transaction() as session:
                await create_channel(session, ctx.box, kind="email", name="bench", config=config, team_id=None, actor_id=None, urls=ctx.urls)
            stages = Stages()
            for name, worker in (("poll", ctx.polls), ("ingest", ctx.ingest), ("events", ctx.relay), ("deliveries", ctx.delivery)):
                worker.drain_once = stages.timed(name, worker.drain_once)
            subscribers = Stages()
            for topic, handlers in ctx.bus._subscribers.items():
                for name in handlers:
                    handlers[name] = subscribers.timed(f"{topic}: {name}", handlers[name])
            for name, batch in ctx.bus._batches.items():  # batch forms take a round's events in one call
                ctx.bus._batches[name] = subscribers.timed(f"(batch form) {name}", batch)
            imap.fetch_new = stages.timed("IMAP fetch (thread)", imap.fetch_new)
            adapter.inbound_items = stages.timed("parse", adapter.inbound_items)
            started, cpu = time.monotonic(), time.process_time()
            while await stored(ctx) < messages:
                await ctx.settle()
            took, cpu = time.monotonic() - started, time.process_time() - cpu
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"backlog: {messages} messages in {took:.1f}s = {messages / took:.0f} msg/s (target: 10,000 in < 120 s); "
                  f"{cpu * 1000 / messages:.2f} ms CPU per message; peak RSS {rss:.0f} MB")
            print(f"  stages: {stages.report(messages)}")
            print(f"  event subscribers, the costliest: {subscribers.report(messages, top=8)}")
            if not live:
                return
            ctx.start_workers()
            deadline = time.monotonic() + 15
            while (watch := watchers.get(1)) is None or not watch.listening:
                if time.monotonic() > deadline:
                    raise SystemExit("the IDLE watcher never listened")
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            latencies = []
            for n in range(live):
                before = await stored(ctx)
                sent = time.monotonic()
                await asyncio.to_thread(dovecot.append, mail(messages + n))
                while await stored(ctx) == before:
                    await asyncio.sleep(0.005)
                latencies.append(time.monotonic() - sent)
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"live IDLE: {live} messages, APPEND → stored p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target p99 < 2000 ms)")
            watchers.stop_all()
    finally:
        dovecot.remove()
        smtp.close()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.live))


if __name__ == "__main__":
    main()
