"""What sealing personal data costs on the webhook path, measured inside one process.

Serves a real okno app in-process (SQLite in a temporary folder, one API channel, workers off,
the pipeline inline), posts ``--messages`` signed webhooks from new senders (phone, e-mail,
name), ``--concurrency`` at a time so they group-commit as under load, and times every call
into the key ring (seal, open, blind index, blocking-key token) against the process CPU time
of the whole run. Both figures come from the same run, so the share holds up on a loaded
machine better than two throughput runs compared with each other.

    .venv/bin/python bench/pii_cost.py [--messages 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
from cryptography.fernet import Fernet

from okno.app import create_app
from okno.channels.adapters.api.signing import sign
from okno.config import Settings
from okno.kit import pii
from okno.kit.db import create_oneoff_engine
from okno.kit.migrate import upgrade_to_head

spent: Counter = Counter()
calls: Counter = Counter()


def _timed(name: str, method):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.thread_time()  # CPU time: on a loaded machine wall time counts other processes' turns
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - started
            calls[name] += 1

    return wrapper


for _name in ("seal", "open", "index", "indexes", "token"):
    setattr(pii.KeyRing, _name, _timed(_name, getattr(pii.KeyRing, _name)))


async def run(messages: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), secret_keys=Fernet.generate_key().decode(), embedded_workers=False, log_level="warning")
        engine = create_oneoff_engine(settings.resolved_database_url())
        await upgrade_to_head(engine)
        await engine.dispose()
        app = create_app(settings, start_workers=False)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
            from okno.auth.service import create_operator

            ctx = app.state.ctx
            async with ctx.db.transaction() as session:
                await create_operator(session, email="bench@okno.local", password="bench-password-1", name="b", role="admin", actor_id=None)
            token = (await http.post("/api/v1/auth/login", json={"email": "bench@okno.local", "password": "bench-password-1"})).json()["access_token"]
            secret = secrets.token_hex(16)
            channel = (await http.post("/api/v1/channels", json={"kind": "api", "name": "bench", "config": {"secret": secret}},
                                       headers={"authorization": f"Bearer {token}"})).json()  # fmt: skip
            bodies = [
                orjson.dumps({"message_id": f"m{n}", "text": "Здравствуйте, где мой заказ №123456?",
                              "from": {"phone": f"+7916{n:07d}", "email": f"person{n}@example.ru", "name": "Ольга Сидорова", "external_id": f"c{n}"}})
                for n in range(messages)
            ]  # fmt: skip

            async def post(body: bytes) -> None:
                headers = {"content-type": "application/json", "x-okno-signature": sign(secret, body)}
                response = await http.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
                assert response.status_code == 200, response.text

            spent.clear()
            calls.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            for start in range(0, messages, concurrency):
                await asyncio.gather(*(post(b) for b in bodies[start : start + concurrency]))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    crypto = sum(spent.values())
    print(f"{messages} new-sender messages, {concurrency} at a time: {cpu / messages * 1e6:,.0f} µs CPU per message (wall {wall:.1f} s)")
    for name in sorted(calls):
        print(f"  {name:8s} {calls[name] / messages:5.2f} calls/message  {spent[name] / messages * 1e6:6.1f} µs/message")
    print(f"key ring total: {crypto / messages * 1e6:.1f} µs per message = {crypto / cpu:.1%} of the process CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency))


if __name__ == "__main__":
    main()
