"""``okno serve`` and ``okno worker`` as real processes with ``OKNO_INGEST_BY_WORKER=true``: the
serving process verifies and parses webhooks and the worker stores them (okno.channels.handoff).
Webhooks are answered 200 only once the worker has stored them; with the worker killed they get
503 and nothing is stored; the worker restarted, the provider's retry is stored once. The
worker polls its queues only every 30 s: an operator's reply is delivered within seconds because
the serving process sends its commits' wakes over the same socket."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from okno.channels.adapters.api.fake import FakeApiReceiver
from tests import test_server_process
from tests.conftest import LoopbackServer
from tests.factories import signed
from tests.test_server_process import ADMIN, SECRET, OknoProcess, _poll
from tests.test_worker_process import WorkerProcess

pytestmark = pytest.mark.slow
server_env = test_server_process.server_env


async def test_a_serving_process_hands_its_webhooks_to_the_worker(server_env: dict[str, str]) -> None:
    env = {**server_env, "OKNO_EMBEDDED_WORKERS": "false", "OKNO_INGEST_BY_WORKER": "true"}
    okno = OknoProcess(env)
    assert okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]).returncode == 0
    worker = WorkerProcess({**env, "OKNO_WORKER_POLL_SECONDS": "30"})
    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    async with LoopbackServer(fake.app) as receiver:
        await okno.start()
        worker.start()
        try:
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                config = {"secret": SECRET, "outbound_url": f"{receiver.url}/boxes/crm/messages"}
                channel = (await http.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config}, headers=auth)).json()

                async def send(message_id: str, phone: str, text: str) -> httpx.Response:
                    body, headers = signed(SECRET, {"message_id": message_id, "from": {"phone": phone}, "text": text})
                    return await http.post(f"/webhooks/{channel['id']}", content=body, headers=headers)

                async def first_answer() -> int:
                    return (await send("h0", "+7 916 555-01-00", "первое")).status_code

                listening = await _poll(first_answer, lambda status: status == 200, timeout=20)
                assert listening == 200 or worker.proc.poll() is None, worker.stop()  # type: ignore[union-attr]
                assert listening == 200  # the worker is listening
                answers = await asyncio.gather(*(send(f"h{i}", f"+7 916 555-01-{i % 5:02d}", f"сообщение {i}") for i in range(1, 41)))
                assert [a.status_code for a in answers] == [200] * 40 and sum(a.json()["accepted"] for a in answers) == 40

                async def conversations() -> list[dict]:
                    return (await http.get("/api/v1/conversations", params={"limit": 50}, headers=auth)).json()["items"]

                found = await _poll(conversations, lambda items: len(items) == 5)
                assert len(found) == 5  # stored and processed by the worker

                reply = (await http.post(f"/api/v1/conversations/{found[0]['id']}/messages", json={"text": "Уже едет"}, headers=auth)).json()

                async def reply_status() -> str:
                    items = (await http.get(f"/api/v1/conversations/{found[0]['id']}/messages", headers=auth)).json()["items"]
                    return next(m["status"] for m in items if m["id"] == reply["id"])

                assert await _poll(reply_status, lambda status: status in ("sent", "failed"), timeout=8) == "sent"  # woken, not polled
                assert "Уже едет" in str(next(iter(fake.boxes["crm"].deliveries.values()))["body"])

                worker.proc.kill()  # type: ignore[union-attr]
                worker.proc.wait(10)  # type: ignore[union-attr]
                refused = await send("after-crash", "+7 916 555-02-00", "пока воркер лежит")
                assert refused.status_code == 503 and "retry" in refused.json()["detail"]

                worker.start()

                async def retried() -> httpx.Response:
                    return await send("after-crash", "+7 916 555-02-00", "пока воркер лежит")

                again = await _poll(retried, lambda answer: answer.status_code == 200, timeout=20)
                assert again.json() == {"accepted": 1, "duplicates": 0}  # the 503 stored nothing
                assert (await retried()).json() == {"accepted": 0, "duplicates": 1}
        finally:
            okno.stop()
            output = worker.stop()
        assert "okno worker stopped" in output, output
