"""The traffic simulator plays journeys through the real webhooks of a served okno, with the demo
seeded and the fake providers mounted; outcomes are checked through the API and the fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from okno.app import create_app
from okno.config import Settings
from okno.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo
from okno.demo import STAFF
from okno.customers.email_rules import canonical_mailbox
from okno.simulator import CALLS, CRM, DEMO_OPERATOR, EMAIL, MESSENGER_SWITCH, WEBSITE_CHAT, Outcome, Serials, Simulator
from tests.conftest import LoopbackServer, _empty_all_tables
from tests.factories import login


@dataclass
class Live:
    app: FastAPI
    url: str
    http: httpx.AsyncClient
    headers: dict[str, str]
    settings: Settings

    def simulator(self, *journeys: str, operator: tuple[str, str] | None = None) -> Simulator:
        return Simulator(self.settings, self.url, rate=6000, step_pause=0, only=journeys, operator=operator)

    async def get(self, path: str, **params: object) -> dict:
        response = await self.http.get(path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def customer(self, identity: str) -> dict:
        found = (await self.get("/api/v1/customers", identity=identity))["items"]
        assert len(found) == 1, f"{identity}: {found}"
        return found[0]

    async def channel_ids(self) -> dict[str, int]:
        return {c["kind"]: c["id"] for c in reversed((await self.get("/api/v1/channels"))["items"])}


@asynccontextmanager
async def _served(settings: Settings, **overrides: object) -> AsyncIterator[Live]:
    await _empty_all_tables(settings.database_url)
    server_settings = settings.model_copy(update={"fake_providers": True, **overrides})
    app = create_app(server_settings, start_workers=True)
    server = LoopbackServer(app)
    await seed_demo(server_settings, customers=5, base_url=server.url)
    server_settings.public_url = server.url  # known once the port is chosen; the lifespan reads it later
    async with app.router.lifespan_context(app), server, httpx.AsyncClient(base_url=server.url) as http:
        headers = await login(http, email=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD)
        yield Live(app, server.url, http, headers, server_settings)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    async with _served(settings) as served:
        yield served


async def _eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result is not False:
                return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _play(live: Live, journey: str, count: int = 1, operator: tuple[str, str] | None = None) -> list[Outcome]:
    outcomes = await live.simulator(journey, operator=operator).run(journeys=count)
    assert [(o.journey, o.ok, o.error) for o in outcomes] == [(journey, True, "")] * count
    return outcomes


async def test_telegram_customer_is_recognised_in_whatsapp_and_replies_reach_the_fakes(live: Live) -> None:
    [outcome] = await _play(live, MESSENGER_SWITCH)
    customer = await live.customer(outcome.identity)
    kinds = {i["kind"]: i["value"] for i in customer["identities"]}
    assert set(kinds) == {"telegram", "phone", "whatsapp"} and kinds["whatsapp"] == kinds["phone"].lstrip("+")
    [conversation] = (await live.get("/api/v1/conversations", customer_id=customer["id"]))["items"]
    messages = (await live.get(f"/api/v1/conversations/{conversation['id']}/messages"))["items"]
    channels = await live.channel_ids()
    assert [m["channel_id"] for m in messages] == [channels["telegram"], channels["telegram"], channels["whatsapp"]]

    fakes = live.app.state.fake_providers
    for text, via in (("Заказ передали курьеру, он позвонит за час.", None), ("Продублирую в Telegram: курьер позвонит.", "telegram")):
        body = {"text": text, "channel_id": channels[via] if via else None}
        reply = await live.http.post(f"/api/v1/conversations/{conversation['id']}/messages", json=body, headers=live.headers)
        assert reply.status_code == 201, reply.text
        fake = fakes[via or "whatsapp"]  # by default a reply goes where the customer last wrote
        await _eventually(lambda fake=fake, text=text: text in fake.sent_texts())
    assert fakes["whatsapp"].sent[-1]["to"] == kinds["whatsapp"]
    assert fakes["telegram"].sent[-1]["chat_id"] == int(kinds["telegram"])
    page = await live.http.get("/fake/")
    assert page.status_code == 200 and "Фейковые провайдеры" in page.text and 'http-equiv="refresh"' in page.text
    assert "Заказ передали курьеру, он позвонит за час." in page.text and "Продублирую в Telegram" in page.text


async def test_website_visitor_chats_and_leaves_an_email(live: Live) -> None:
    [outcome] = await _play(live, WEBSITE_CHAT)

    async def identified() -> None:  # a typed e-mail is evidence, not an identity (docs/identity-proof.md)
        customer = await live.customer(outcome.identity)
        assert {i["kind"] for i in customer["identities"]} == {"web"}
        assert [e.split(":", 1)[0] for e in customer["attributes"].get("unverified_identities", [])] == ["email"]

    await _eventually(identified)
    customer = await live.customer(outcome.identity)
    [conversation] = (await live.get("/api/v1/conversations", customer_id=customer["id"]))["items"]
    messages = (await live.get(f"/api/v1/conversations/{conversation['id']}/messages"))["items"]
    assert len([m for m in messages if m["direction"] == "in" and m["text"]]) == 2
    shop = await live.http.get("/demo/shop")
    assert shop.status_code == 200 and f'<script src="/widget/{(await live.channel_ids())["widget"]}.js" async></script>' in shop.text


async def test_every_run_writes_as_new_customers(live: Live) -> None:
    journeys = [MESSENGER_SWITCH, CRM, *(k for k in ("vk", "max") if k in live.app.state.fake_providers)]
    outcomes = [o for journey in journeys for _run in range(2) for o in await _play(live, journey)]  # a fresh simulator per run
    assert len({o.identity for o in outcomes}) == len(outcomes)
    customers = [await live.customer(o.identity) for o in outcomes]
    assert len({c["id"] for c in customers}) == len(outcomes)
    for customer in customers:  # nothing was taken for a redelivery of an earlier run's message
        [conversation] = (await live.get("/api/v1/conversations", customer_id=customer["id"]))["items"]
        assert (await live.get(f"/api/v1/conversations/{conversation['id']}/messages"))["items"]
    serials = Serials()
    assert len({serials.next() for _ in range(1000)}) == 1000


async def test_operator_answers_through_the_api_reach_the_fake_providers(live: Live) -> None:
    await _play(live, MESSENGER_SWITCH, operator=DEMO_OPERATOR)
    fakes = live.app.state.fake_providers
    await _eventually(lambda: len(fakes["telegram"].sent) == 1 and len(fakes["whatsapp"].sent) == 1)
    page = (await live.http.get("/fake/")).text
    assert fakes["telegram"].sent[0]["text"].split("!")[0] in page
    # the answers come from the demo's support staff (the Telegram and WhatsApp team), not the admin
    [outgoing] = [m for c in (await live.get("/api/v1/conversations"))["items"]
                  for m in (await live.get(f"/api/v1/conversations/{c['id']}/messages"))["items"] if m["direction"] == "out"][:1]
    authors = {o["id"]: o for o in (await live.get("/api/v1/operators"))["items"]}
    author = authors[outgoing["author_id"]]
    staff = {email for email, _, role, _ in STAFF if role.value != "admin"}
    assert author["email"] in staff and author["email"] != DEMO_OPERATOR[0], author  # a demo operator, never the signed-in admin


async def test_the_server_plays_journeys_itself_and_stops_with_it(settings: Settings) -> None:
    async with _served(settings, simulate_rate=600.0) as live:
        await _eventually(lambda: len(live.app.state.fake_providers["telegram"].sent) >= 1, timeout=20)


async def test_a_whatsapp_customer_calls_misses_calls_again_and_the_call_completes_the_callback(live: Live) -> None:
    [outcome] = await _play(live, CALLS)
    customer = await live.customer(outcome.identity)
    assert {i["kind"] for i in customer["identities"]} >= {"whatsapp", "phone"}  # the caller is the WhatsApp customer

    phone_channel = (await live.channel_ids())[CALLS]

    async def settled() -> None:
        conversations = (await live.get("/api/v1/conversations", customer_id=customer["id"]))["items"]
        calls = [c for c in conversations if c["channel_id"] == phone_channel]
        assert len(calls) == 2 and all(c["status"] == "resolved" for c in calls), calls  # the answered call completed the missed one

    await _eventually(settled)


async def test_a_customer_e_mail_reaches_an_operator_and_the_answer_goes_out_over_smtp(live: Live) -> None:
    """The demo's mailbox is a fake mail server speaking IMAP and SMTP on loopback: the customer's
    mail goes in over SMTP, okno reads it over IMAP (IDLE), the operator's answer leaves over SMTP,
    and the customer's reply quoting the thread joins the conversation with only its new text."""
    [outcome] = await _play(live, EMAIL, operator=DEMO_OPERATOR)
    mail = live.app.state.fake_providers["email"]
    customer = await live.customer(outcome.identity)
    assert [i["kind"] for i in customer["identities"]] == ["email"]

    async def replied() -> None:
        [conversation] = (await live.get("/api/v1/conversations", customer_id=customer["id"]))["items"]
        messages = (await live.get(f"/api/v1/conversations/{conversation['id']}/messages"))["items"]
        assert [m["direction"] for m in messages] == ["in", "out", "in"], messages
        email_channel = (await live.channel_ids())["email"]
        assert all(m["channel_id"] == email_channel for m in messages)
        question, answer, follow_up = messages
        assert answer["status"] == "sent" and answer["provider_message_id"]
        assert follow_up["text"] and ">" not in follow_up["text"] and answer["text"][:20] not in follow_up["text"]  # the quote is cut off
        assert follow_up["subject"].startswith("Re: ")

    await _eventually(replied, timeout=20)
    [sent] = mail.sent
    # to the customer's mailbox: okno writes to the address as its identity keeps it (Gmail's
    # dots dropped: the same mailbox), so compare both as the e-mail rules fold them
    assert _mailbox(sent["to"]) == _mailbox(outcome.identity.removeprefix("email:")) and sent["message"]["In-Reply-To"]
    page = (await live.http.get("/fake/")).text
    assert "email (/fake/email)" in page and sent["text"][:30] in page
    assert len(mail.mailbox.messages) == 2  # the question and the reply, both delivered into the mailbox over SMTP


def _mailbox(address: str) -> tuple[str, str]:
    local, _, domain = address.lower().partition("@")
    return canonical_mailbox(local, domain)
