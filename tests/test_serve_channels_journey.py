"""Issue acceptance over HTTP against a running ``okno serve``: Telegram contact → WhatsApp from
the same phone → one customer; replies go out through WhatsApp, VK and MAX to their providers."""

from __future__ import annotations

import asyncio

import httpx

from okno.channels.adapters.max.fake import FakeMax
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from tests.conftest import LoopbackServer
from tests.test_server_process import ADMIN, OknoProcess, _poll, server_env  # noqa: F401  (fixture)


async def test_cross_channel_customer_and_replies_through_real_providers(server_env: dict[str, str]) -> None:  # noqa: F811
    okno = OknoProcess(server_env)
    assert okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]).returncode == 0
    fakes = {"telegram": FakeTelegram(), "whatsapp": FakeWhatsApp(), "vk": FakeVk(), "max": FakeMax()}
    servers = [LoopbackServer(f.app) for f in fakes.values()]
    for server in servers:
        await server.__aenter__()
    try:
        for fake, server in zip(fakes.values(), servers, strict=True):
            fake.base_url = server.url
        await okno.start()
        async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
            token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            ids = {}
            for kind, fake in fakes.items():
                created = await http.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": fake.channel_config()}, headers=auth)
                assert created.status_code == 201, created.text
                ids[kind] = created.json()["id"]
                fake.connect(http, f"/webhooks/{ids[kind]}")

            assert (await fakes["telegram"].deliver_text("555000111", "Здравствуйте, где заказ 1042?")).status_code == 200
            assert (await fakes["telegram"].deliver_contact("555000111", "+7 916 123-45-67")).status_code == 200
            assert (await fakes["whatsapp"].deliver_text("79161234567", "Пишу из WhatsApp, заказ 1042")).status_code == 200
            forged = await fakes["whatsapp"].deliver_forged_text("79161234567", "подделка")
            assert forged.status_code in (401, 403)

            async def customer() -> list[dict]:
                return (await http.get("/api/v1/customers", params={"identity": "phone:89161234567"}, headers=auth)).json()["items"]

            found = await _poll(customer, lambda items: items and len(items[0]["identities"]) == 3)
            assert len(found) == 1
            kinds = {i["kind"]: i["value"] for i in found[0]["identities"]}
            assert kinds["telegram"] == "555000111" and kinds["phone"] == "+79161234567" and kinds["whatsapp"] == "79161234567"
            [conversation] = (await http.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=auth)).json()["items"]
            messages = (await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=auth)).json()["items"]
            assert {m["channel_id"] for m in messages} == {ids["telegram"], ids["whatsapp"]}

            reply = await http.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Заказ 1042 доставят завтра"}, headers=auth)
            assert reply.json()["channel_id"] == ids["whatsapp"]  # where the customer wrote last
            assert await _sent(fakes["whatsapp"]) == ["Заказ 1042 доставят завтра"]

            for kind, user in (("vk", "500777"), ("max", "900777")):
                assert (await fakes[kind].deliver_text(user, f"Вопрос из {kind}")).status_code == 200
                items = await _poll(lambda k=kind, u=user: _customer_conversations(http, auth, k, u), lambda convs: convs)
                await http.post(f"/api/v1/conversations/{items[0]['id']}/messages", json={"text": f"Ответ в {kind}"}, headers=auth)
                assert await _sent(fakes[kind]) == [f"Ответ в {kind}"]
    finally:
        okno.stop()
        for server in servers:
            await server.__aexit__(None, None, None)


async def _sent(fake: object, timeout: float = 15.0) -> list[str]:
    """What the provider has accepted from okno, once anything has arrived."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not fake.sent_texts() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    return fake.sent_texts()


async def _customer_conversations(http: httpx.AsyncClient, auth: dict, kind: str, user: str) -> list[dict]:
    items = (await http.get("/api/v1/customers", params={"identity": f"{kind}:{user}"}, headers=auth)).json()["items"]
    if not items:
        return []
    return (await http.get("/api/v1/conversations", params={"customer_id": items[0]["id"]}, headers=auth)).json()["items"]
