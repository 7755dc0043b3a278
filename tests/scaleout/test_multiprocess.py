"""Two ``okno serve`` and two ``okno worker`` processes on one PostgreSQL and one NATS JetStream
(the test's own nats-server, so it may restart it) as one system:

- webhooks sent to both serving ports are stored and processed once each;
- an operator whose live stream is open on serve 1 sees a message that arrived through serve 2;
- a widget visitor connected to serve 2 receives the reply an operator sent through serve 1;
- during a burst, ``kill -9`` of a worker and of a serving process and a restart of nats-server
  lose no acknowledged message and duplicate none (counted through the API afterwards), every
  conversation is still routed (its events went through the bus), and every reply reaches the
  fake provider exactly once in effect (one applied delivery per reply; retries share its key).

Skipped without PostgreSQL (``OKNO_TEST_DATABASE_URL``) or nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from okno.channels.adapters.api.fake import FakeApiReceiver
from tests.conftest import TEST_KEY, LoopbackServer, _pg_admin_url, create_pg_database, drop_pg_database, free_port
from tests.factories import signed
from tests.scaleout.natsfix import OwnNatsServer, poll

pytestmark = pytest.mark.slow

ADMIN = ("boss@okno.test", "boss-password-1")
SECRET = "scale-out-test-secret-123"
SITE = "https://shop.example"


class Proc:
    """``okno serve`` or ``okno worker --port`` with its output in a file (never a full pipe)."""

    def __init__(self, kind: str, env: dict[str, str], logs: Path, name: str) -> None:
        self.kind, self.env, self.name = kind, env, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        args = ["serve", "--port", str(self.port)] if self.kind == "serve" else ["worker", "--port", str(self.port)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "okno.cli", *args], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = asyncio.get_running_loop().time() + 120  # start-up imports and migrates: slow on a loaded machine
        async with httpx.AsyncClient() as client:
            while asyncio.get_running_loop().time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Cluster:
    env: dict[str, str]
    nats: OwnNatsServer
    serves: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    admin = _pg_admin_url()
    if not admin:
        pytest.skip("PostgreSQL backend not tested: OKNO_TEST_DATABASE_URL is not set")
    nats_server = OwnNatsServer(free_port())
    url = await asyncio.to_thread(create_pg_database, admin)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    env.update(
        OKNO_DATA_DIR=str(tmp_path / "data"),
        OKNO_SECRET_KEYS=TEST_KEY,
        OKNO_DATABASE_URL=url,
        OKNO_BUS_URL=nats_server.url,
        OKNO_EMBEDDED_WORKERS="false",
        OKNO_BUS_ACK_WAIT_SECONDS="3",  # a killed worker's events go to the other after 3 s
        OKNO_OUTBOX_LEASE_SECONDS="3",
        OKNO_DELIVERY_TIMEOUT_SECONDS="1",  # a killed worker's sends are retaken after 3 s
        OKNO_EVENT_RETRY_BASE_SECONDS="0.2",
        OKNO_DELIVERY_BACKOFF_BASE_SECONDS="0.1",
        OKNO_DELIVERY_BACKOFF_MAX_SECONDS="0.5",
        OKNO_WORKER_POLL_SECONDS="0.3",
        OKNO_LOG_LEVEL="warning",
        OKNO_LOG_FORMAT="json",
        OKNO_ALLOW_PRIVATE_URLS="true",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    c = Cluster(env=env, nats=nats_server)
    c.serves = [Proc("serve", env, logs, f"serve{i}") for i in (1, 2)]
    c.workers = [Proc("worker", env, logs, f"worker{i}") for i in (1, 2)]
    try:
        created = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "okno.cli", "admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert created.returncode == 0, created.stderr
        nats_server.start()
        await nats_server.ready()
        await asyncio.gather(*(p.start() for p in c.serves + c.workers))
        yield c
    finally:
        for p in c.serves + c.workers:
            p.stop()
        nats_server.remove()
        await asyncio.to_thread(drop_pg_database, admin, url)


async def _login(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _live(url: str, auth: dict[str, str], seen: list[dict]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=None) as client, client.stream("GET", "/ui/stream", headers=auth) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: ")))


async def _post(http: httpx.AsyncClient, url: str, channel_id: int, message_id: str, phone: str, text: str) -> bool:
    body, headers = signed(SECRET, {"message_id": message_id, "from": {"phone": phone}, "text": text})
    try:
        answer = await http.post(f"{url}/webhooks/{channel_id}", content=body, headers=headers, timeout=5)
    except httpx.TransportError:
        return False
    return answer.status_code == 200


async def test_two_serve_two_worker_processes_are_one_system(cluster: Cluster) -> None:
    s1, s2 = cluster.serves
    auth = await _login(s1.url)
    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    async with LoopbackServer(fake.app) as receiver, httpx.AsyncClient(timeout=10, headers=auth) as http:
        team = (await http.post(f"{s1.url}/api/v1/teams", json={"name": "Поддержка"})).json()
        config = {"secret": SECRET, "outbound_url": f"{receiver.url}/boxes/crm/messages"}
        crm = (await http.post(f"{s1.url}/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config, "team_id": team["id"]})).json()
        widget_config = {"allowed_origins": [SITE]}
        widget = (await http.post(f"{s1.url}/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": widget_config, "team_id": team["id"]})).json()

        # --- webhooks on both ports land once each; the operator on serve 1 sees serve 2's live
        seen: list[dict] = []
        listener = asyncio.create_task(_live(s1.url, auth, seen))
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as provider:
            assert await _post(provider, s1.url, crm["id"], "first-1", "+79160000001", "через первый")
            assert await _post(provider, s2.url, crm["id"], "first-2", "+79160000002", "через второй")
            assert await _post(provider, s2.url, crm["id"], "first-2", "+79160000002", "через второй")  # the provider's redelivery

        async def customer_conversation(url: str, phone: str, kind: str = "phone") -> dict | None:
            found = (await http.get(f"{url}/api/v1/customers", params={"identity": f"{kind}:{phone}"})).json()["items"]
            if not found:
                return None
            items = (await http.get(f"{url}/api/v1/conversations", params={"customer_id": found[0]["id"]})).json()["items"]
            return items[0] if items else None

        second = await poll(lambda: customer_conversation(s1.url, "+79160000002"), lambda c: c is not None and c["team_id"] == team["id"])
        assert second is not None and second["team_id"] == team["id"], second  # routed by a worker through the bus
        got = await poll(lambda: asyncio.sleep(0, seen), lambda s: any(e["topic"] == "message.received" and e.get("conversation_id") == second["id"] for e in s))
        assert any(e["topic"] == "message.received" and e.get("conversation_id") == second["id"] for e in got), got
        listener.cancel()
        messages = (await http.get(f"{s2.url}/api/v1/conversations/{second['id']}/messages")).json()["items"]
        assert [m["text"] for m in messages] == ["через второй"]  # stored once though sent twice

        # --- a widget visitor on serve 2 gets the reply sent through serve 1
        session = (await http.post(f"{s2.url}/widget/{widget['id']}/session", json={}, headers={"Origin": SITE})).json()
        token, visitor = session["token"], session["visitor_id"]
        ws_url = f"{s2.url.replace('http://', 'ws://')}/ws/widget/{widget['id']}?token={token}&last_seq=0"
        async with connect(ws_url, origin=SITE, open_timeout=5) as ws:
            await ws.send(orjson.dumps({"type": "message", "client_id": "v1", "text": "Здравствуйте"}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ack"
            chat = await poll(lambda: customer_conversation(s1.url, visitor, "web"), lambda c: c is not None)
            assert chat is not None
            sent = await http.post(f"{s1.url}/api/v1/conversations/{chat['id']}/messages", json={"text": "Чем помочь?"})
            assert sent.status_code in (200, 201), sent.text
            frame = await _next_agent_frame(ws)
            assert frame["text"] == "Чем помочь?" and frame["from"] == "agent"
        async with connect(ws_url, origin=SITE, open_timeout=5) as ws:  # reconnect from 0: the stream replays
            replayed = [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            assert [f["from"] for f in replayed] == ["visitor", "agent"]

        # --- the burst: kill -9 a worker, kill -9 serve 2, restart nats-server, all mid-burst
        acknowledged: dict[str, str] = {}  # message id → phone, only what okno answered 200

        async def send(index: int, url: str) -> None:
            message_id, phone = f"burst-{index}", f"+7916100{index:04d}"
            async with httpx.AsyncClient() as provider:
                if await _post(provider, url, crm["id"], message_id, phone, f"сообщение {index}"):
                    acknowledged[message_id] = phone

        total = 60
        for index in range(total):
            target = s2 if index % 2 and s2.proc is not None and s2.proc.poll() is None else s1
            await send(index, target.url)
            if index == 15:
                cluster.workers[0].kill()
            if index == 25:
                s2.kill()
            if index == 35:
                cluster.nats.stop()
                await asyncio.sleep(1.0)
                cluster.nats.start()
                await cluster.nats.ready()
            await asyncio.sleep(0.02)
        assert len(acknowledged) >= total - 3, sorted(set(f"burst-{i}" for i in range(total)) - acknowledged.keys())

        async def routed_counts() -> list[int]:
            counts = []
            for phone in acknowledged.values():
                conversation = await customer_conversation(s1.url, phone)
                if conversation is None or conversation["team_id"] != team["id"]:
                    counts.append(0)
                    continue
                items = (await http.get(f"{s1.url}/api/v1/conversations/{conversation['id']}/messages")).json()["items"]
                counts.append(len([m for m in items if m["direction"] == "in"]))
            return counts

        counts = await poll(routed_counts, lambda c: all(n == 1 for n in c), timeout=40, every=0.5)
        assert all(n == 1 for n in counts), counts  # none lost, none doubled, every one routed through the bus

        # --- replies to every burst conversation while the surviving worker is killed too and restarted
        cluster.workers[0] = Proc("worker", cluster.env, cluster.workers[0].log.parent, "worker1b")
        await cluster.workers[0].start()
        replies: dict[int, str] = {}
        for n, phone in enumerate(acknowledged.values()):
            conversation = await customer_conversation(s1.url, phone)
            assert conversation is not None
            answer = await http.post(f"{s1.url}/api/v1/conversations/{conversation['id']}/messages", json={"text": f"ответ {n}"})
            replies[answer.json()["id"]] = f"ответ {n}"
            if n == len(acknowledged) // 2:
                cluster.workers[1].kill()

        async def delivered() -> int:
            return len(fake.boxes["crm"].deliveries)

        await poll(delivered, lambda n: n >= len(replies), timeout=40, every=0.3)
        await asyncio.sleep(1.0)  # room for a duplicate to show up
        box = fake.boxes["crm"]
        texts = sorted(str(d["body"].get("text")) for d in box.deliveries.values())
        assert texts == sorted(replies.values()), (len(texts), len(replies))  # each reply applied exactly once
        assert {a["idempotency_key"] for a in box.attempts} == set(box.deliveries)  # retries reused their key


async def _next_agent_frame(ws) -> dict:  # noqa: ANN001
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("type") == "message" and frame.get("from") == "agent":
            return frame
