"""``okno serve`` with embedded workers off and ``okno worker`` as two real processes: a webhook
accepted by the server is processed, routed and answered, the answer delivered by the worker to
a fake provider. The worker polls only every 30 s, so what happens within seconds was woken by
the serving process's commits (SQLite: the commit watcher; PostgreSQL: LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from okno.channels.adapters.api.fake import FakeApiReceiver
from tests import test_server_process
from tests.conftest import LoopbackServer
from tests.factories import signed
from tests.test_server_process import ADMIN, SECRET, OknoProcess, _poll

pytestmark = pytest.mark.slow
server_env = test_server_process.server_env  # the same SQLite / PostgreSQL environments


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "okno.cli", "worker"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def stop(self) -> str:
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.stdout.read() if self.proc.stdout else ""  # type: ignore[union-attr]


async def _listen(url: str, auth: dict[str, str], topics: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=None) as client, client.stream("GET", "/ui/stream", headers=auth) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                topics.append(json.loads(line.removeprefix("data: "))["topic"])


async def _value(topics: list[str]) -> list[str]:
    return topics


async def test_serve_without_workers_and_okno_worker_process_traffic_end_to_end(server_env: dict[str, str]) -> None:
    serve_env = {**server_env, "OKNO_EMBEDDED_WORKERS": "false"}
    worker_env = {**server_env, "OKNO_WORKER_POLL_SECONDS": "30"}
    okno = OknoProcess(serve_env)
    assert okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]).returncode == 0
    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    worker = WorkerProcess(worker_env)
    async with LoopbackServer(fake.app) as receiver:
        await okno.start()
        worker.start()
        try:
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                team = (await http.post("/api/v1/teams", json={"name": "Поддержка"}, headers=auth)).json()
                config = {"secret": SECRET, "outbound_url": f"{receiver.url}/boxes/crm/messages"}
                channel = (await http.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config, "team_id": team["id"]}, headers=auth)).json()
                topics: list[str] = []  # the operators' live feed, served by okno serve, fed by the worker's relay
                listener = asyncio.create_task(_listen(okno.url, auth, topics))
                await asyncio.sleep(1.0)  # the worker is up and idle: from here on only a wake makes it drain

                body, headers = signed(SECRET, {"message_id": "w1", "from": {"phone": "+7 916 555-00-11"}, "text": "Где заказ?"})
                accepted = await http.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
                assert accepted.status_code == 200 and accepted.json()["accepted"] == 1

                async def conversation() -> dict | None:
                    found = (await http.get("/api/v1/customers", params={"identity": "phone:+79165550011"}, headers=auth)).json()["items"]
                    if not found:
                        return None
                    items = (await http.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=auth)).json()["items"]
                    return items[0] if items else None

                routed = await _poll(conversation, lambda c: c is not None and c["team_id"] == team["id"], timeout=8)
                assert routed is not None and routed["team_id"] == team["id"], routed  # routed by the worker's relay

                reply = (await http.post(f"/api/v1/conversations/{routed['id']}/messages", json={"text": "Уже едет"}, headers=auth)).json()

                async def reply_status() -> str:
                    items = (await http.get(f"/api/v1/conversations/{routed['id']}/messages", headers=auth)).json()["items"]
                    return next(m["status"] for m in items if m["id"] == reply["id"])

                assert await _poll(reply_status, lambda s: s in ("sent", "failed"), timeout=8) == "sent"
                [delivered] = fake.boxes["crm"].deliveries.values()
                assert "Уже едет" in str(delivered["body"])
                await _poll(lambda: _value(topics), lambda seen: "message.sent" in seen, timeout=5)
                listener.cancel()
                assert {"conversation.opened", "conversation.routed", "message.queued", "message.sent"} <= set(topics), topics

            if "OKNO_DATABASE_URL" not in server_env:  # SQLite: one worker process per database file
                command = [sys.executable, "-m", "okno.cli", "worker"]
                second = await asyncio.to_thread(subprocess.run, command, env=worker_env, capture_output=True, text=True, timeout=60, check=False)
                assert second.returncode == 2 and "already run in process" in second.stderr, second.stderr
            assert worker.proc is not None and worker.proc.poll() is None
        finally:
            okno.stop()
            output = worker.stop()
    assert "okno worker stopped" in output, output
