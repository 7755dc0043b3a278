"""What okno does with calls (docs/telephony.md), driven through the fake Novofon over HTTP: the
answering operator by extension, a missed call as a callback task with its SLA clock, completed
by a later answered call, and the screen pop reaching the channel team's operators only. Both
databases (the ctx/client fixtures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from okno.access import Scope
from okno.channels.adapters.novofon.fake import RECORDING, FakeNovofon
from okno.models import Conversation, Message, TimelineEvent
from okno.realtime.operators import VisibleEvents, events_after
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, login, make_operator

CALLER = "+79161234567"


@asynccontextmanager
async def _office(client, ctx) -> AsyncIterator[dict[str, Any]]:  # noqa: ANN001
    """A team with an SLA policy, its operator on extension 100, a Novofon channel of the team."""
    headers = await admin_headers(ctx, client)
    policy = await client.post("/api/v1/sla/policies", json={"name": "Звонки", "targets": {"normal": {"first_response": 15}}}, headers=headers)
    assert policy.status_code == 201, policy.text
    team = (await client.post("/api/v1/teams", json={"name": "Телефония"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"sla_policy_id": policy.json()["id"]}, headers=headers)
    operator = await make_operator(ctx, name="Ольга")
    assert (await client.post(f"/api/v1/teams/{team['id']}/members", json={"operator_id": operator["id"]}, headers=headers)).status_code in (200, 201, 204)
    changed = await client.patch(f"/api/v1/operators/{operator['id']}", json={"extension": "100"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["extension"] == "100", changed.text
    fake = FakeNovofon()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post(
            "/api/v1/channels", json={"kind": "novofon", "name": "Телефон", "config": fake.channel_config(), "team_id": team["id"]}, headers=headers
        )
        assert created.status_code == 201, created.text
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        yield {"fake": fake, "team": team, "operator": operator, "headers": headers, "channel": created.json()}


async def _conversations(ctx) -> list[Conversation]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Conversation).order_by(Conversation.id))).all())


async def _timeline(ctx, conversation_id: int) -> list[tuple[str, dict]]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = await session.execute(select(TimelineEvent.kind, TimelineEvent.data).where(TimelineEvent.conversation_id == conversation_id).order_by(TimelineEvent.id))
        return [(kind, data) for kind, data in rows]


async def test_an_extension_is_one_operators_and_can_be_removed(client, ctx) -> None:
    async with _office(client, ctx) as office:
        headers = office["headers"]
        other = await make_operator(ctx)
        taken = await client.patch(f"/api/v1/operators/{other['id']}", json={"extension": "100"}, headers=headers)
        assert taken.status_code == 409 and "extension 100" in taken.json()["detail"]
        assert (await client.patch(f"/api/v1/operators/{other['id']}", json={"extension": "ext"}, headers=headers)).status_code == 422
        cleared = await client.patch(f"/api/v1/operators/{office['operator']['id']}", json={"extension": ""}, headers=headers)
        assert cleared.status_code == 200 and cleared.json()["extension"] is None


async def test_an_answered_call_is_the_answering_operators_and_is_resolved_with_its_outcome(client, ctx) -> None:
    async with _office(client, ctx) as office:
        await office["fake"].answered_call(CALLER, internal="100", duration=42)
        await ctx.settle()
    [conversation] = await _conversations(ctx)
    assert conversation.assignee_id == office["operator"]["id"] and conversation.status == "resolved" and conversation.medium == "call"
    kinds = dict(await _timeline(ctx, conversation.id))
    completed = kinds["call.completed"]
    assert (completed["duration"], completed["disposition"], completed["status_code"], completed["operator_id"]) == (42, "answered", "16", office["operator"]["id"])
    async with ctx.db.reading() as session:
        [call] = (await session.scalars(select(Message))).all()
    # the events came in one burst: okno saw the call already over, so nobody was popped for it
    assert call.content["telephony"] == {"answered_by": office["operator"]["id"], "ended": True}


async def test_a_missed_call_waits_as_a_callback_task_until_an_answered_call_completes_it(client, ctx) -> None:
    async with _office(client, ctx) as office:
        fake = office["fake"]
        await fake.missed_call(CALLER)
        await ctx.settle()
        [missed] = await _conversations(ctx)
        assert missed.status == "open" and missed.team_id == office["team"]["id"] and missed.queued_at is not None or missed.assignee_id
        assert missed.sla_due_at is not None  # the first-response clock runs: call him back in time
        assert [k for k, _ in await _timeline(ctx, missed.id)].count("call.missed") == 1

        await fake.answered_call(CALLER, recorded=False)  # he calls again and gets through
        await ctx.settle()
    missed_now, answered = await _conversations(ctx)
    assert missed_now.id == missed.id and missed_now.status == "resolved" and answered.status == "resolved"
    assert ("call.callback_completed", {"by_conversation_id": answered.id}) in await _timeline(ctx, missed.id)
    assert dict(await _timeline(ctx, answered.id))["call.completed"]["callbacks"] == [missed.id]


async def test_an_operators_call_back_completes_the_missed_call(client, ctx) -> None:
    async with _office(client, ctx) as office:
        await office["fake"].missed_call(CALLER)
        await ctx.settle()
        await office["fake"].outbound_call(CALLER, internal="100")
        await ctx.settle()
    missed, outbound = await _conversations(ctx)
    assert missed.status == outbound.status == "resolved" and outbound.customer_id == missed.customer_id


async def test_the_screen_pop_reaches_the_channels_team_and_not_another_team(client, ctx) -> None:
    async with _office(client, ctx) as office:
        headers = office["headers"]
        other_team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=headers)).json()
        stranger = await make_operator(ctx, name="Чужой")
        await client.post(f"/api/v1/teams/{other_team['id']}/members", json={"operator_id": stranger["id"]}, headers=headers)
        fake = office["fake"]
        pbx_call_id, start = fake.new_call_id(), "2026-01-15 10:05:00"
        await fake.ring(CALLER, pbx_call_id, start, internal="100")
        await ctx.settle()
        async with ctx.db.reading() as session:
            feed = await events_after(session, 0)
        [pop] = [e for e in feed if e["topic"] == "call.ringing"]
        [conversation] = await _conversations(ctx)
        assert pop["conversation_id"] == conversation.id and pop["team_id"] == office["team"]["id"] and pop["customer_id"] == conversation.customer_id

        def scope(operator_id: int) -> Scope:
            return Scope(operator_id=operator_id, role="operator", operators_see_unteamed=False, global_customer_directory=False)

        assert [e["topic"] for e in await VisibleEvents(ctx.db, scope(office["operator"]["id"])).only_visible([pop])] == ["call.ringing"]
        assert await VisibleEvents(ctx.db, scope(stranger["id"])).only_visible([pop]) == []

        await fake.answer(CALLER, pbx_call_id, start, "100")
        await ctx.settle()
        async with ctx.db.reading() as session:
            [answered] = [e for e in await events_after(session, 0) if e["topic"] == "call.answered"]
        assert answered["operator_id"] == office["operator"]["id"] and answered["conversation_id"] == conversation.id


def _api_signature(key: str, secret: str, method_path: str, query: str) -> str:
    """The provider's API auth, written out independently of the adapter."""
    signed = method_path + query + hashlib.md5(query.encode()).hexdigest()
    return key + ":" + base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest().encode()).decode()


async def test_a_recording_is_fetched_on_demand_with_the_signed_record_request(client, ctx) -> None:
    async with _office(client, ctx) as office:
        fake = office["fake"]
        pbx_call_id = await fake.answered_call(CALLER, recorded=True)
        await ctx.settle()
        async with ctx.db.reading() as session:
            [call] = (await session.scalars(select(Message))).all()
        assert call.attachments[0]["kind"] == "audio"
        operator_headers = await login(client, email=office["operator"]["email"])
        audio = await client.get(f"/api/v1/messages/{call.id}/attachments/0", headers=operator_headers)
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg" and audio.content == RECORDING
        [request] = [c for c in fake.calls if c["path"] == "/v1/pbx/record/request/"]
        assert request["query"] == {"call_id": f"{pbx_call_id}_rec"}
        assert request["authorization"] == _api_signature(fake.api_key, fake.api_secret, "/v1/pbx/record/request/", f"call_id={pbx_call_id}_rec")
        fake.recordings.clear()  # expired at the provider: the operator is told why
        gone = await client.get(f"/api/v1/messages/{call.id}/attachments/0", headers=operator_headers)
        assert gone.status_code == 502 and "Record not found" in gone.json()["detail"]


async def test_click_to_call_rings_the_operators_extension_then_the_customer(client, ctx) -> None:
    async with _office(client, ctx) as office:
        fake = office["fake"]
        await fake.missed_call(CALLER)
        await ctx.settle()
        [missed] = await _conversations(ctx)
        operator_headers = await login(client, email=office["operator"]["email"])
        placed = await client.post(f"/api/v1/conversations/{missed.id}/call", json={}, headers=operator_headers)
        assert placed.status_code == 202, placed.text
        assert placed.json() == {"status": "requested", "channel_id": office["channel"]["id"], "extension": "100"}
        assert fake.callbacks == [{"from": "100", "to": "79161234567"}]
        [request] = [c for c in fake.calls if c["path"] == "/v1/request/callback/"]
        assert request["authorization"] == _api_signature(fake.api_key, fake.api_secret, "/v1/request/callback/", "from=100&to=79161234567")

        stranger = await make_operator(ctx)  # no team, no extension
        hidden = await client.post(f"/api/v1/conversations/{missed.id}/call", json={}, headers=await login(client, email=stranger["email"]))
        assert hidden.status_code == 404  # another team's conversation: as if it did not exist
        admin_without_extension = await client.post(f"/api/v1/conversations/{missed.id}/call", json={}, headers=office["headers"])
        assert admin_without_extension.status_code == 422 and "extension" in admin_without_extension.json()["detail"]


async def test_the_conversation_shows_the_call_typed_and_the_pop_shows_who_calls(client, ctx) -> None:
    async with _office(client, ctx) as office:
        await office["fake"].missed_call(CALLER)
        await ctx.settle()
        [missed] = await _conversations(ctx)
        operator_headers = await login(client, email=office["operator"]["email"])
        page = await client.get(f"/ui/conversations/{missed.id}", headers=operator_headers)
        assert page.status_code == 200, page.text
        async with ctx.db.reading() as session:
            [call] = (await session.scalars(select(Message))).all()
        card = page.text.split(f'data-testid="call-{call.id}"', 1)[1].split("</div>\n</div>", 1)[0]
        assert 'data-answered="0" data-ended="1"' in page.text and "Входящий звонок" in card and "пропущен" in card and "Итог: no answer" in card
        assert 'data-testid="call-missed"' in page.text and "Пропущенный звонок: перезвоните клиенту" in page.text
        assert 'data-testid="call-customer"' in page.text  # click-to-call from a call's conversation
        pop = await client.get(f"/ui/conversations/{missed.id}/call-pop", headers=operator_headers)
        assert pop.status_code == 200 and 'data-testid="call-pop-body"' in pop.text and f'data-customer="{missed.customer_id}"' in pop.text
        stranger = await make_operator(ctx)
        hidden = await client.get(f"/ui/conversations/{missed.id}/call-pop", headers=await login(client, email=stranger["email"]))
        assert hidden.status_code == 404
