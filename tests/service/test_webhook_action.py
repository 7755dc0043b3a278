"""The automation action ``call_webhook`` against a real loopback receiver: a durable job that
is POSTed after commit, signed, retried with backoff, with one effect per idempotency key."""

from __future__ import annotations

import asyncio
import time

import orjson
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okno.automation.webhook_calls import record_webhook_call
from okno.bus.events import Event
from okno.kit.signing import sign
from okno.models import AutomationRule, OutboxEvent, WebhookCall
from tests.conftest import LoopbackServer
from tests.factories import admin_headers
from tests.service.helpers import open_conversation, outbox_of, timeline_of

SECRET = "webhook-secret-0001"


class Receiver:
    """A CRM that fails its first ``failures`` calls on /flaky, always 500s on /down, 404s on
    /gone; the effect of a call is applied once per Idempotency-Key."""

    def __init__(self, failures: int = 2) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.effects: dict[str, dict] = {}
        self.app = Starlette(routes=[Route("/{name}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        name, body = request.path_params["name"], await request.body()
        self.calls.append((name, dict(request.headers), body))
        if name == "gone":
            return JSONResponse({"error": "no such hook"}, status_code=404)
        if name == "down" or sum(1 for n, _, _ in self.calls if n == name) <= self.failures:
            return JSONResponse({"error": "busy"}, status_code=500)
        self.effects.setdefault(request.headers["idempotency-key"], orjson.loads(body))
        return JSONResponse({"ok": True})


async def rule_with(client, admin, *actions: dict, event: str = "conversation.opened") -> dict:  # noqa: ANN001
    response = await client.post("/api/v1/automation/rules", json={"name": "CRM", "event": event, "actions": list(actions)}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def until_settled(ctx, *, seconds: float = 10.0) -> list[WebhookCall]:  # noqa: ANN001
    """Drain (backoff is milliseconds in tests) until no webhook call is pending."""
    deadline = time.monotonic() + seconds
    while True:
        await ctx.settle()
        async with ctx.db.reading() as session:
            calls = list(await session.scalars(select(WebhookCall).order_by(WebhookCall.id)))
        if all(c.status != "pending" for c in calls) or time.monotonic() > deadline:
            return calls
        await asyncio.sleep(0.02)


async def test_a_webhook_is_signed_retried_on_5xx_and_has_one_effect(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    receiver = Receiver(failures=2)
    async with LoopbackServer(receiver.app) as server:
        rule = await rule_with(client, admin, {"type": "call_webhook", "url": f"{server.url}/flaky", "secret": SECRET})
        assert rule["actions"] == [{"type": "call_webhook", "url": f"{server.url}/flaky", "secret": "********"}]
        conversation = await open_conversation(client, ctx, admin, text="Хочу вернуть товар")
        [call] = await until_settled(ctx)

    assert call.status == "done" and call.attempts == 3 and call.last_error is None
    assert [name for name, _, _ in receiver.calls] == ["flaky"] * 3
    bodies = {body for _, _, body in receiver.calls}
    keys = {headers["idempotency-key"] for _, headers, _ in receiver.calls}
    assert len(bodies) == 1 and keys == {call.idempotency_key}  # every attempt the same bytes and key
    body = bodies.pop()
    assert all(headers["x-okno-signature"] == sign(SECRET, body) for _, headers, _ in receiver.calls)
    assert len(receiver.effects) == 1
    payload = receiver.effects[call.idempotency_key]
    assert payload["event"] == "conversation.opened" and payload["rule_id"] == rule["id"] and isinstance(payload["event_id"], int)
    assert payload["conversation"]["id"] == conversation["id"] and payload["conversation"]["status"] == "open"
    assert payload["customer"]["id"] == conversation["customer_id"] and payload["customer"]["identities"][0]["kind"] == "phone"
    assert await timeline_of(ctx, conversation["id"], "automation.webhook_failed") == []

    async with ctx.db.transaction() as session:  # the same event again (a redelivery) records no second call
        opened = await session.scalar(select(OutboxEvent).where(OutboxEvent.id == payload["event_id"]))
        event = Event(id=opened.id, topic=opened.topic, payload=opened.payload, created_at=opened.created_at)
        await record_webhook_call(session, conversation_id=conversation["id"], rule_id=rule["id"], action_index=0, event=event,
                                  url=call.url, secret_sealed=None)
    async with ctx.db.reading() as session:
        assert len(list(await session.scalars(select(WebhookCall.id)))) == 1


async def test_a_webhook_that_keeps_failing_or_is_refused_is_on_the_timeline(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    receiver = Receiver()
    async with LoopbackServer(receiver.app) as server:
        await rule_with(client, admin, {"type": "call_webhook", "url": f"{server.url}/down"}, {"type": "call_webhook", "url": f"{server.url}/gone"})
        conversation = await open_conversation(client, ctx, admin)
        down, gone = await until_settled(ctx)

    attempts = ctx.settings.delivery_max_attempts
    assert (down.status, down.attempts) == ("failed", attempts) and down.last_error.startswith(f"gave up after {attempts} attempts: HTTP 500")
    assert (gone.status, gone.attempts) == ("failed", 1) and gone.last_error.startswith("HTTP 404")  # refused: no retry
    assert "x-okno-signature" not in receiver.calls[0][1]  # no secret, no signature
    failures = await timeline_of(ctx, conversation["id"], "automation.webhook_failed")
    assert sorted(f.data["url"].rsplit("/", 1)[1] for f in failures) == ["down", "gone"]
    assert len(await outbox_of(ctx, "automation.webhook_failed")) == 2


async def test_a_webhook_action_needs_an_http_url_and_keeps_its_secret_when_sent_back_masked(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    for url in ("ftp://crm.example/hook", "https://", "crm.example/hook"):
        refused = await client.post("/api/v1/automation/rules", json={
            "name": "CRM", "event": "conversation.opened", "actions": [{"type": "call_webhook", "url": url}]}, headers=admin)
        assert refused.status_code == 422 and "http:// or https://" in refused.json()["detail"], url
    rule = await rule_with(client, admin, {"type": "call_webhook", "url": "https://crm.example/hook", "secret": SECRET})
    async with ctx.db.reading() as session:
        sealed = (await session.get(AutomationRule, rule["id"])).actions[0]["secret_sealed"]
    assert SECRET not in sealed and ctx.box.open_json(sealed) == SECRET
    patched = await client.patch(f"/api/v1/automation/rules/{rule['id']}", json={"actions": rule["actions"], "enabled": False}, headers=admin)
    assert patched.status_code == 200, patched.text
    async with ctx.db.reading() as session:
        assert (await session.get(AutomationRule, rule["id"])).actions[0]["secret_sealed"] == sealed
