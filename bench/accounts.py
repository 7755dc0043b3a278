"""What logins and audited reads cost the webhook path, measured from outside.

``okno serve`` (SQLite, embedded workers) on a fresh data folder with one API channel and one
customer. Four webhook senders post signed messages (closed loop, 20 ms apart) for ``--seconds``
while one kind of noise runs beside them:

* ``quiet``: nothing else;
* ``wrong-logins``: 8 senders of wrong passwords, each for its own e-mail (closed loop);
* ``reads``: 8 operators reading a conversation and its messages (closed loop; every read is
  audited on a tree that has the read log).

It prints the webhook latency (p50/p95/p99) and the noise's own latency and status counts.
``--src`` picks the source tree the server runs (compare a branch with main);
``--no-throttle`` lifts the login limits so every wrong login reaches argon2.

    .venv/bin/python bench/accounts.py --seconds 15
    .venv/bin/python bench/accounts.py --src /path/to/other/src --scenarios quiet,wrong-logins

A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
from ingest import ADMIN_EMAIL, ADMIN_PASSWORD, HOST, SECRET, free_port, okno_cli, okno_env, okno_server, run_in_workdir

WEBHOOK_SENDERS = 4
NOISE_SENDERS = 8
PACE_SECONDS = 0.02


def _percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"n={len(ordered)} p50={at(0.50):.1f} ms p95={at(0.95):.1f} ms p99={at(0.99):.1f} ms"


def _signed(body: dict) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps(body)
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-okno-signature": signature}


async def _webhooks(base: str, channel_id: int, stop: float, tag: str, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
        n = 0
        while time.monotonic() < stop:
            n += 1
            raw, headers = _signed({"message_id": f"{tag}-{n}", "from": {"phone": f"+7916{abs(hash(tag)) % 10**7:07d}"}, "text": "Где заказ?"})
            started = time.monotonic()
            response = await http.post(f"/webhooks/{channel_id}", content=raw, headers=headers)
            latencies.append(time.monotonic() - started)
            response.raise_for_status()
            await asyncio.sleep(PACE_SECONDS)


async def _wrong_logins(base: str, stop: float, index: int, latencies: list[float], statuses: Counter) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
        while time.monotonic() < stop:
            started = time.monotonic()
            response = await http.post("/api/v1/auth/login", json={"email": f"guess{index}@okno.local", "password": "wrong password"})
            latencies.append(time.monotonic() - started)
            statuses[response.status_code] += 1


async def _reads(base: str, stop: float, token: str, conversation_id: int, latencies: list[float], statuses: Counter) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False, headers={"Authorization": f"Bearer {token}"}) as http:
        while time.monotonic() < stop:
            started = time.monotonic()
            response = await http.get(f"/api/v1/conversations/{conversation_id}/messages")
            latencies.append(time.monotonic() - started)
            statuses[response.status_code] += 1


async def _setup(base: str) -> tuple[str, int, int]:
    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as http:
        login = await http.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = await http.post("/api/v1/channels", json={"kind": "api", "name": "bench", "config": {"secret": SECRET}}, headers=auth)
        created.raise_for_status()
        channel_id = int(created.json()["id"])
        raw, headers = _signed({"message_id": "setup-1", "from": {"phone": "+79160000001", "name": "Анна"}, "text": "Здравствуйте"})
        (await http.post(f"/webhooks/{channel_id}", content=raw, headers=headers)).raise_for_status()
        for _ in range(100):
            items = (await http.get("/api/v1/conversations", headers=auth)).json()["items"]
            if items:
                return token, channel_id, int(items[0]["id"])
            await asyncio.sleep(0.1)
    raise RuntimeError("the setup message never became a conversation")


async def _scenario(name: str, base: str, token: str, channel_id: int, conversation_id: int, seconds: float) -> None:
    stop = time.monotonic() + seconds
    hooks: list[float] = []
    noise: list[float] = []
    statuses: Counter = Counter()
    tasks = [_webhooks(base, channel_id, stop, f"{name}-{i}-{time.time_ns()}", hooks) for i in range(WEBHOOK_SENDERS)]
    if name == "wrong-logins":
        tasks += [_wrong_logins(base, stop, i, noise, statuses) for i in range(NOISE_SENDERS)]
    elif name == "reads":
        tasks += [_reads(base, stop, token, conversation_id, noise, statuses) for i in range(NOISE_SENDERS)]
    await asyncio.gather(*tasks)
    print(f"{name:13s} webhooks: {_percentiles(hooks)}")
    if noise:
        print(f"{'':13s} noise:    {_percentiles(noise)} statuses={dict(statuses)} ({len(noise) / seconds:.0f}/s)")


def _run(args: argparse.Namespace, workdir: Path):  # noqa: ANN202
    async def run() -> None:
        env = okno_env(workdir)
        if args.src:
            env["PYTHONPATH"] = str(Path(args.src).resolve())
        if args.no_throttle:
            env.update(OKNO_LOGIN_MAX_FAILURES_PER_ACCOUNT=str(10**9), OKNO_LOGIN_MAX_FAILURES_PER_IP=str(10**9))
        created = okno_cli(env, "admin", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--role", "admin")
        if created.returncode != 0:
            raise RuntimeError(created.stderr)
        port = free_port()
        server = okno_server(workdir, port, workdir / "okno.log")
        server.env = env
        server.start()
        try:
            await server.wait_healthy()
            base = f"http://{HOST}:{port}"
            token, channel_id, conversation_id = await _setup(base)
            print(f"source: {env.get('PYTHONPATH') or 'installed okno'}; throttle lifted: {args.no_throttle}; cores: {os.cpu_count()}")
            for name in args.scenarios.split(","):
                await _scenario(name, base, token, channel_id, conversation_id, args.seconds)
        finally:
            server.stop()

    return run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--scenarios", default="quiet,wrong-logins,reads")
    parser.add_argument("--src", default="", help="the src folder whose okno the server runs (default: the installed one)")
    parser.add_argument("--no-throttle", action="store_true", help="lift the login limits (every wrong login reaches argon2)")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    run_in_workdir(args, _run, "okno-accounts-bench-")


if __name__ == "__main__":
    sys.exit(main())
