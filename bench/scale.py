"""Ingest across 1, 2 and 4 ``okno serve`` processes (+ ``okno worker`` processes) on PostgreSQL and
NATS JetStream: messages/s, p99, relay and consumer lag, per-process efficiency, and where the CPU
went (a coarse profile: CPU seconds of each kind of process during the run, from /proc).

For each configuration: a fresh PostgreSQL database, a fresh bus prefix, an admin and one API
channel; then ``--messages`` signed webhooks (unique message ids and senders) are sent by
``--concurrency`` async clients round-robin over the serve ports. Reported:

* accepted msgs/s and the p50/p99 of the webhook answer (stored and committed);
* drained: from the first request until every event is published and every subscriber group
  has acknowledged it (outbox empty, consumer pending 0, read from the workers' /metrics);
* relay lag (commit → published) and consumer lag (commit → handled) p99 from the workers'
  histograms;
* efficiency: msgs/s per serve process relative to the 1-process figure.

    OKNO_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/scale.py [--serves 1,2,4] [--workers 2] [--messages 3000] [--concurrency 32]

The load generator is Python in this process and takes CPU from the same cores as okno: on a
2-core machine the absolute scaling is bounded by the cores, which the CPU table makes visible.
A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import orjson
from cryptography.fernet import Fernet

from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign

ADMIN = ("bench@okno.test", "bench-password-1")
SECRET = "scale-bench-secret-0123456789"
CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    return 0.0


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


async def start(kind: str, env: dict[str, str], logs: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = ["serve", "--port", str(port)] if kind == "serve" else ["worker", "--port", str(port)]
    out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
    proc = subprocess.Popen([sys.executable, "-m", "okno.cli", *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {(logs / f'{name}.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return proc, url
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready")


def metric(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + (("{" + labels) if labels else "")) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram_p99(texts: list[str], name: str) -> float | None:
    buckets: dict[float, float] = {}
    for text in texts:
        for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets[le] = buckets.get(le, 0.0) + float(m.group(2))
    if not buckets or buckets.get(float("inf"), 0) == 0:
        return None
    total = buckets[float("inf")]
    for le in sorted(buckets):
        if buckets[le] >= 0.99 * total:
            return le
    return None


async def run_config(admin_url: str, nats_url: str, serves: int, workers: int, messages: int, concurrency: int) -> dict:
    raw = admin_url.replace("+asyncpg", "")
    name = f"okno_scale_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(raw)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    db_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    logs = Path(tempfile.mkdtemp(prefix="okno-scale-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    env.update(OKNO_DATABASE_URL=db_url, OKNO_BUS_URL=nats_url, OKNO_BUS_PREFIX=f"b{secrets.token_hex(4)}",
               OKNO_EMBEDDED_WORKERS="false", OKNO_SECRET_KEYS=Fernet.generate_key().decode(), OKNO_DATA_DIR=str(logs / "data"),
               OKNO_LOG_LEVEL="warning", OKNO_ALLOW_PRIVATE_URLS="true")  # fmt: skip
    procs: list[tuple[str, subprocess.Popen, str]] = []
    try:
        subprocess.run([sys.executable, "-m", "okno.cli", "admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]],
                       env=env, check=True, capture_output=True)  # fmt: skip
        started = await asyncio.gather(*[start("serve", env, logs, f"serve{i}") for i in range(serves)],
                                       *[start("worker", env, logs, f"worker{i}") for i in range(workers)])  # fmt: skip
        procs = [("serve" if i < serves else "worker", p, u) for i, (p, u) in enumerate(started)]
        serve_urls = [u for k, _, u in procs if k == "serve"]
        worker_urls = [u for k, _, u in procs if k == "worker"]
        async with httpx.AsyncClient(base_url=serve_urls[0], timeout=30) as http:
            token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            team = (await http.post("/api/v1/teams", json={"name": "Bench"}, headers=auth)).json()
            channel = (await http.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": {"secret": SECRET}, "team_id": team["id"]}, headers=auth)).json()
        bodies = []
        for i in range(messages):
            body = orjson.dumps({"message_id": f"m{i}", "from": {"phone": f"+7916{i:07d}"}, "text": f"сообщение {i}"})
            bodies.append((body, {"content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}))
        others = {kind: pids_named(kind) for kind in ("postgres", "nats-server")}
        before = {pid: cpu_seconds(pid) for pids in others.values() for pid in pids} | {p.pid: cpu_seconds(p.pid) for _, p, _ in procs}
        me_before = time.process_time()
        latencies: list[float] = []
        failed = 0
        queue = iter(range(messages))

        async def client(k: int) -> None:
            nonlocal failed
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            async with httpx.AsyncClient(timeout=30, limits=limits) as c:
                url = f"{serve_urls[k % len(serve_urls)]}/webhooks/{channel['id']}"
                for i in queue:
                    body, headers = bodies[i]
                    t = time.perf_counter()
                    answer = await c.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - t)
                    failed += answer.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(concurrency)))
        accepted_in = time.perf_counter() - t0
        drained_in = None
        async with httpx.AsyncClient(timeout=30) as c:
            while time.perf_counter() - t0 < 300:
                texts = [(await c.get(f"{u}/metrics")).text for u in worker_urls]
                outbox = metric(texts[0], "okno_queue_depth", 'queue="outbox_unpublished"')
                pending = metric(texts[0], "okno_consumer_pending")
                if outbox == 0 and pending == 0:
                    drained_in = time.perf_counter() - t0
                    break
                await asyncio.sleep(0.2)
            texts = [(await c.get(f"{u}/metrics")).text for u in worker_urls]
        cpu = {"serve": 0.0, "worker": 0.0, "postgres": 0.0, "nats-server": 0.0}
        for kind, p, _ in procs:
            cpu[kind] += cpu_seconds(p.pid) - before[p.pid]
        for kind, pids in others.items():
            cpu[kind] += sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids)
        cpu["load generator"] = time.process_time() - me_before
        latencies.sort()
        return {
            "serves": serves, "workers": workers, "rate": messages / accepted_in, "failed": failed,
            "p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "drained_s": drained_in, "relay_p99": histogram_p99(texts, "okno_relay_lag_seconds"),
            "consumer_p99": histogram_p99(texts, "okno_consumer_lag_seconds"), "cpu": cpu, "wall": drained_in or accepted_in,
        }
    finally:
        for _, p, _ in procs:
            p.terminate()
        for _, p, _ in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(20)
        conn = await asyncpg.connect(raw)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serves", default="1,2,4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--nats", default=os.environ.get("OKNO_BENCH_NATS_URL", "nats://127.0.0.1:4222"))
    args = parser.parse_args()
    admin = os.environ.get("OKNO_BENCH_DATABASE_URL") or os.environ.get("OKNO_TEST_DATABASE_URL")
    if not admin:
        sys.exit("set OKNO_BENCH_DATABASE_URL (a PostgreSQL server's admin URL)")
    print(f"machine: {os.cpu_count()} cores, 1-min load {os.getloadavg()[0]:.1f} at start (shared machine: figures are noisy)")
    results = []
    for n in (int(x) for x in args.serves.split(",")):
        r = await run_config(admin, args.nats, n, args.workers, args.messages, args.concurrency)
        results.append(r)
        print(f"{n} serve + {r['workers']} worker: {r['rate']:.0f} msgs/s accepted, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"failed {r['failed']}, drained in {r['drained_s'] if r['drained_s'] is None else round(r['drained_s'], 1)} s, "
              f"relay lag p99 ≤ {r['relay_p99']} s, consumer lag p99 ≤ {r['consumer_p99']} s, load {os.getloadavg()[0]:.1f}", flush=True)
    base = results[0]["rate"] / results[0]["serves"]
    print("\nconfig        msgs/s   per-serve efficiency   CPU seconds: serve / worker / postgres / nats / load generator (wall s)")
    for r in results:
        c = r["cpu"]
        print(f"{r['serves']} serve {r['workers']} wrk  {r['rate']:7.0f}   {r['rate'] / r['serves'] / base:6.0%}                 "
              f"{c['serve']:.1f} / {c['worker']:.1f} / {c['postgres']:.1f} / {c['nats-server']:.1f} / {c['load generator']:.1f} ({r['wall']:.1f})")


if __name__ == "__main__":
    asyncio.run(main())
