"""Starts the real ``okno`` server process and drives it over HTTP, crash included."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from okno.channels.adapters.api.fake import FakeApiReceiver
from tests.conftest import TEST_KEY, LoopbackServer, _pg_admin_url, create_pg_database, drop_pg_database, free_port
from tests.factories import signed

pytestmark = pytest.mark.slow

ADMIN = ("boss@okno.test", "boss-password-1")
SECRET = "process-test-secret-123"


class PortTaken(RuntimeError):
    """``okno serve`` could not bind its port."""


class OknoProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "okno.cli", *args], env=self.env, capture_output=True, text=True, timeout=60)

    async def start(self) -> None:
        for _attempt in range(3):
            try:
                return await self._start()
            except PortTaken:
                # the free port was handed to another socket of the test (a fake provider's
                # server binding port 0) between choosing it and okno binding it: choose again
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError("okno serve found no free port in three tries")

    async def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "okno.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if self.proc.poll() is not None:
                    output = self.proc.stdout.read().decode()  # type: ignore[union-attr]
                    if "address already in use" in output:
                        raise PortTaken(output)
                    raise RuntimeError(f"okno serve exited: {output}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("okno serve did not come up")

    def crash(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(params=["sqlite", "postgresql"])
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    env.update(
        OKNO_DATA_DIR=str(tmp_path / "data"),
        OKNO_SECRET_KEYS=TEST_KEY,
        OKNO_DELIVERY_BACKOFF_BASE_SECONDS="0.05",
        OKNO_DELIVERY_BACKOFF_MAX_SECONDS="0.2",
        OKNO_WORKER_POLL_SECONDS="0.1",
        OKNO_LOG_LEVEL="warning",
        OKNO_ALLOW_PRIVATE_URLS="true",  # the fake providers listen on loopback
    )
    if request.param == "sqlite":
        yield env
        return
    admin = _pg_admin_url()
    if not admin:
        pytest.skip("PostgreSQL backend not tested: OKNO_TEST_DATABASE_URL is not set")
    url = create_pg_database(admin)
    yield {**env, "OKNO_DATABASE_URL": url}
    drop_pg_database(admin, url)


async def _poll(fetch, until, timeout: float = 15.0):  # noqa: ANN001, ANN202
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if until(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_real_server_end_to_end_with_crash_and_restart(server_env: dict[str, str]) -> None:
    okno = OknoProcess(server_env)
    created = okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1])
    assert created.returncode == 0, created.stderr
    assert f"created admin {ADMIN[0]}" in created.stdout
    twice = okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1])
    assert twice.returncode == 2 and "already exists" in twice.stderr

    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    async with LoopbackServer(fake.app) as receiver:
        await okno.start()
        try:
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                channel = (
                    await http.post(
                        "/api/v1/channels",
                        json={"kind": "api", "name": "CRM", "config": {"secret": SECRET, "outbound_url": f"{receiver.url}/boxes/crm/messages"}},
                        headers=auth,
                    )
                ).json()
                hook = f"/webhooks/{channel['id']}"

                async def send(payload: dict, client: httpx.AsyncClient = http) -> httpx.Response:
                    body, headers = signed(SECRET, payload)
                    return await client.post(hook, content=body, headers=headers)

                assert (await send({"message_id": "p1", "from": {"phone": "+7 916 123-45-67"}, "text": "первое"})).status_code == 200
                assert (await send({"message_id": "p2", "from": {"phone": "89161234567", "email": "ivan@example.ru"}, "text": "второе"})).status_code == 200
                assert (await send({"message_id": "p2", "from": {"phone": "89161234567", "email": "ivan@example.ru"}, "text": "второе"})).json()["duplicates"] == 1
                forged_body, forged_headers = signed("wrong-secret-wrong-secret", {"message_id": "p3", "from": {"phone": "+79160000000"}, "text": "x"})
                assert (await http.post(hook, content=forged_body, headers=forged_headers)).status_code == 401

                async def customer() -> list[dict]:
                    return (await http.get("/api/v1/customers", params={"identity": "phone:+79161234567"}, headers=auth)).json()["items"]

                found = await _poll(customer, lambda items: items and len(items[0]["identities"]) == 2)
                assert len(found) == 1
                assert {i["kind"] for i in found[0]["identities"]} == {"phone", "email"}
                conversations = (await http.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=auth)).json()["items"]
                assert len(conversations) == 1 and conversations[0]["status"] == "open"
                conversation_id = conversations[0]["id"]

                fake.fail_next("crm", 3, status=500)
                reply = (await http.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Ответ оператора"}, headers=auth)).json()

                async def reply_status() -> str:
                    items = (await http.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth)).json()["items"]
                    return next(m["status"] for m in items if m["id"] == reply["id"])

                assert await _poll(reply_status, lambda s: s in ("sent", "failed")) == "sent"
                assert len(fake.boxes["crm"].attempts) == 4 and len(fake.boxes["crm"].deliveries) == 1
                assert len({a["idempotency_key"] for a in fake.boxes["crm"].attempts}) == 1

            okno.stop()

            # Accept a burst on a server whose processor is off, so the items are certainly still
            # pending when the process is killed: everything acknowledged must survive the crash.
            okno.env = {**server_env, "OKNO_EMBEDDED_WORKERS": "false"}
            await okno.start()
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                burst = [{"message_id": f"burst-{i}", "from": {"external_id": f"u{i % 7}"}, "text": f"сообщение {i}"} for i in range(60)]
                responses = await asyncio.gather(*(send(p, http) for p in burst))
                assert all(r.status_code == 200 and r.json()["accepted"] == 1 for r in responses)
            okno.crash()

            okno.env = server_env
            await okno.start()
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                for i in range(7):
                    body, headers = signed(SECRET, {"message_id": f"burst-{i}", "from": {"external_id": f"u{i}"}, "text": "redelivered"})
                    assert (await http.post(hook, content=body, headers=headers)).json() == {"accepted": 0, "duplicates": 1}

                async def burst_texts() -> list[str]:
                    texts: list[str] = []
                    for i in range(7):
                        items = (await http.get("/api/v1/customers", params={"identity": f"external:{channel['id']}:u{i}"}, headers=auth)).json()["items"]
                        for conv in (await http.get("/api/v1/conversations", params={"customer_id": items[0]["id"]}, headers=auth)).json()["items"] if items else []:
                            msgs = (await http.get(f"/api/v1/conversations/{conv['id']}/messages", headers=auth)).json()["items"]
                            texts += [m["text"] for m in msgs]
                    return texts

                texts = await _poll(burst_texts, lambda t: len(t) >= 60)
                assert sorted(texts) == sorted(f"сообщение {i}" for i in range(60))
        finally:
            okno.stop()
