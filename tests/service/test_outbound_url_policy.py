"""The outbound URL policy through the API, on both databases: URL settings refused when saved,
calls refused when made (a channel saved before the policy, a name that rebinds after the check),
and everything allowed with OKNO_ALLOW_PRIVATE_URLS=true. Operators read the receiver's status
and a short reason, never its body."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.service import create_channel
from okno.kit.outbound_urls import OutboundUrls
from okno.models import Channel, WebhookCall
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.fake_dns import fake_dns
from tests.plugins.guestbook import guestbook_kind  # noqa: F401  (fixture)
from tests.service.helpers import open_conversation, timeline_of
from tests.service.test_webhook_action import until_settled
from tests.test_delivery import _wait_for_status

SECRET = "policy-test-secret-0123456789"
PUBLIC = "93.184.216.34"


@pytest.fixture
def settings(settings, request):  # noqa: ANN001, ANN201
    """As in production (the policy on) unless a test is parametrized with ``settings=True``."""
    return settings.model_copy(update={"allow_private_urls": getattr(request, "param", False)})


@pytest.fixture
async def receiver():  # noqa: ANN201
    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    async with LoopbackServer(fake.app) as server:
        fake.url = f"{server.url}/boxes/crm/messages"  # type: ignore[attr-defined]
        yield fake


async def _api_channel_saved_before_the_policy(ctx, outbound_url: str) -> int:  # noqa: ANN001
    """A channel stored by an okno that allowed private URLs (or before the policy existed)."""
    async with ctx.db.transaction() as session:
        channel, _ = await create_channel(
            session, ctx.box, kind="api", name="CRM", config={"secret": SECRET, "outbound_url": outbound_url},
            team_id=None, actor_id=None, urls=OutboundUrls(allow_private=True),
        )
    return channel.id


async def _reply(client, ctx, headers, channel: dict, text: str = "Ваш заказ в пути") -> tuple[int, dict]:  # noqa: ANN001
    await post_inbound(client, channel, {"message_id": "in-1", "from": {"external_id": "c-1", "name": "Пётр"}, "text": "Где заказ?"})
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    posted = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": text}, headers=headers)
    assert posted.status_code == 201, posted.text
    return conversation["id"], posted.json()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.1.2.3/crm", "10.1.2.3 is a private address"),
        ("http://[::1]:8000/hook", "::1 is a loopback address"),
        ("https://crm.lan.example/hook", "crm.lan.example resolves to 127.0.0.1, a loopback address"),
    ],
)
async def test_an_outbound_url_pointing_inside_is_refused_when_saved(client, ctx, monkeypatch, url: str, said: str) -> None:
    fake_dns(monkeypatch, {"crm.lan.example": [["127.0.0.1"]]})
    headers = await admin_headers(ctx, client)
    refused = await client.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": {"secret": SECRET, "outbound_url": url}}, headers=headers)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("invalid api channel config: outbound_url: ") and said in detail and "OKNO_ALLOW_PRIVATE_URLS=true" in detail
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(Channel))).all() == []  # nothing half-written


async def test_an_adapters_api_base_pointing_at_cloud_metadata_is_refused_when_changed(client, ctx, monkeypatch) -> None:
    fake_dns(monkeypatch, {"api.telegram.org": [[PUBLIC]]})
    headers = await admin_headers(ctx, client)
    config = {"bot_token": "123:abc", "secret_token": "telegram-secret-0123"}
    created = await client.post("/api/v1/channels", json={"kind": "telegram", "name": "TG", "config": config}, headers=headers)
    assert created.status_code == 201, created.text
    changed = await client.patch(f"/api/v1/channels/{created.json()['id']}", json={"config": {"api_base": "http://169.254.169.254"}}, headers=headers)
    assert changed.status_code == 422 and "api_base: 169.254.169.254 is a link-local address" in changed.json()["detail"]
    shown = (await client.get(f"/api/v1/channels/{created.json()['id']}", headers=headers)).json()
    assert shown["config"]["api_base"] == "https://api.telegram.org"  # unchanged


async def test_a_reply_to_an_api_channel_pointing_at_loopback_is_refused(client, ctx, receiver) -> None:
    headers = await admin_headers(ctx, client)
    channel_id = await _api_channel_saved_before_the_policy(ctx, receiver.url)
    conversation_id, reply = await _reply(client, ctx, headers, {"id": channel_id, "secret": SECRET})
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["status"] == "failed"
    assert final["error"].startswith("refused: 127.0.0.1 is a loopback address; okno calls only public addresses unless OKNO_ALLOW_PRIVATE_URLS=true")
    assert receiver.boxes["crm"].attempts == []  # nothing reached the loopback receiver
    channel = (await client.get(f"/api/v1/channels/{channel_id}", headers=headers)).json()
    assert channel["health"] == "needs_action" and channel["health_reason"].startswith("refused: 127.0.0.1")


@pytest.mark.parametrize("settings", [True], indirect=True)
async def test_with_private_urls_allowed_the_same_reply_is_delivered(client, ctx, receiver) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=receiver.url)  # accepted when saved too
    conversation_id, reply = await _reply(client, ctx, headers, channel)
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"sent", "failed"})
    assert final["status"] == "sent" and len(receiver.boxes["crm"].attempts) == 1


async def test_a_name_that_rebinds_to_loopback_after_it_was_saved_is_refused_at_connect(client, ctx, monkeypatch) -> None:
    lookups = fake_dns(monkeypatch, {"crm.rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers, secret=SECRET, outbound_url="https://crm.rebind.example/okno")
    conversation_id, reply = await _reply(client, ctx, headers, channel)
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["error"].startswith("refused: crm.rebind.example resolves to 127.0.0.1, a loopback address")
    assert lookups["crm.rebind.example"] == 2  # once when saved, once when connecting


async def test_a_webhook_action_pointing_inside_is_refused_when_saved_and_when_called(client, ctx, monkeypatch) -> None:
    fake_dns(monkeypatch, {"hooks.rebind.example": [[PUBLIC], ["169.254.169.254"]]})
    admin = await admin_headers(ctx, client)
    body = {"name": "CRM", "event": "conversation.opened", "actions": [{"type": "call_webhook", "url": "http://10.0.0.5/hook"}]}
    refused = await client.post("/api/v1/automation/rules", json=body, headers=admin)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("actions[0].url: 10.0.0.5 is a private address")
    body["actions"] = [{"type": "call_webhook", "url": "https://hooks.rebind.example/okno"}]
    assert (await client.post("/api/v1/automation/rules", json=body, headers=admin)).status_code == 201
    conversation = await open_conversation(client, ctx, admin)
    [call] = await until_settled(ctx)
    assert (call.status, call.attempts) == ("failed", 1)  # not retried: the policy would refuse again
    assert call.last_error.startswith("refused: hooks.rebind.example resolves to 169.254.169.254, a link-local address")
    [failure] = await timeline_of(ctx, conversation["id"], "automation.webhook_failed")
    assert failure.data["reason"] == call.last_error


@pytest.mark.parametrize("settings", [True], indirect=True)
async def test_operators_see_the_status_and_a_short_reason_never_the_receivers_body(client, ctx) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    page = "<html><body>Internal error. db=postgres://admin:hunter2@10.0.0.9/crm token=internal-XYZ</body></html>"

    async def html_error(request) -> HTMLResponse:  # noqa: ANN001
        return HTMLResponse(page, status_code=400)

    async def json_error(request) -> JSONResponse:  # noqa: ANN001
        return JSONResponse({"error": {"message": "customer is locked " + "x" * 1000}, "debug": "internal-XYZ"}, status_code=409)

    app = Starlette(routes=[Route("/html", html_error, methods=["POST"]), Route("/json", json_error, methods=["POST"])])
    headers = await admin_headers(ctx, client)
    async with LoopbackServer(app) as server:
        channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=f"{server.url}/html")
        conversation_id, reply = await _reply(client, ctx, headers, channel)
        html_failed = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
        await client.patch(f"/api/v1/channels/{channel['id']}", json={"config": {"outbound_url": f"{server.url}/json"}}, headers=headers)
        ctx.channels.invalidate()
        again = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "ещё раз"}, headers=headers)).json()
        json_failed = await _wait_for_status(client, headers, conversation_id, again["id"], {"failed"})
        rule = {"name": "hook", "event": "message.received", "actions": [{"type": "call_webhook", "url": f"{server.url}/html"}]}
        assert (await client.post("/api/v1/automation/rules", json=rule, headers=headers)).status_code == 201
        await post_inbound(client, channel, {"message_id": "in-2", "from": {"external_id": "c-1"}, "text": "и ещё"})
        calls = await until_settled(ctx)

    assert html_failed["error"] == "HTTP 400 Bad Request"
    assert json_failed["error"].startswith("HTTP 409 Conflict: customer is locked xxx") and len(json_failed["error"]) <= len("HTTP 409 Conflict: ") + 200
    assert [c.last_error for c in calls] == ["HTTP 400 Bad Request"]
    shown = [html_failed["error"], json_failed["error"], calls[0].last_error]
    assert not any("internal-XYZ" in s or "hunter2" in s or "<html" in s for s in shown)
    async with ctx.db.reading() as session:
        assert all("internal-XYZ" not in (c.last_error or "") for c in await session.scalars(select(WebhookCall)))


async def test_an_attachment_download_from_a_provider_on_loopback_is_refused(client, ctx) -> None:
    from okno.channels.adapters.telegram.fake import FakeTelegram
    from okno.models import Message

    headers = await admin_headers(ctx, client)
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        async with ctx.db.transaction() as session:  # saved by an okno that allowed private URLs
            channel, _ = await create_channel(
                session, ctx.box, kind="telegram", name="Бот", config=fake.channel_config(), team_id=None, actor_id=None,
                urls=OutboundUrls(allow_private=True),
            )
        fake.connect(client, f"/webhooks/{channel.id}")
        photo = {"update_id": 1, "message": {"message_id": 5, "from": {"id": 42, "is_bot": False, "first_name": "Иван"},
                                             "chat": {"id": 42, "type": "private"}, "photo": [{"file_id": "AgAC-1", "file_size": 10, "width": 1, "height": 1}]}}
        assert (await fake.deliver_update(photo)).status_code == 200
        await ctx.settle()
        async with ctx.db.reading() as session:
            message_id = await session.scalar(select(Message.id))
        download = await client.get(f"/api/v1/messages/{message_id}/attachments/0", headers=headers)
    assert download.status_code == 502 and download.json()["detail"].startswith("refused: 127.0.0.1 is a loopback address")


async def test_a_plugin_polling_an_address_inside_is_refused_at_connect_and_needs_action(client, ctx, guestbook_kind) -> None:  # noqa: ANN001, F811
    """The example plugin does not mark its ``base_url`` as called: the connect-time check still holds."""
    from okno_example_channel.fake import FakeGuestbook

    from tests.plugins.guestbook import API_KEY

    fake = FakeGuestbook(api_key=API_KEY)
    headers = await admin_headers(ctx, client)
    async with LoopbackServer(fake.app) as server:
        config = {"base_url": server.url, "api_key": API_KEY, "poll_seconds": 60}
        created = await client.post("/api/v1/channels", json={"kind": "guestbook", "name": "Гостевая", "config": config}, headers=headers)
        assert created.status_code == 201, created.text
        fake.add_entry("anna_k", "здравствуйте")
        assert await ctx.polls.drain_once() == 1
    shown = (await client.get(f"/api/v1/channels/{created.json()['id']}", headers=headers)).json()
    assert shown["health"] == "needs_action" and shown["health_reason"].startswith("refused: 127.0.0.1 is a loopback address")
    assert shown["polling"]["failures"] == 1
