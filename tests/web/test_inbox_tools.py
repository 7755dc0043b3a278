"""The inbox's tools over the API, on both databases: unread markers per operator, manual tags,
bulk actions (scoped like single ones), tag suggestions, saved views, and the list's new filters."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from okno.conversations.inbox import NO_ASSIGNEE, InboxFilter, SlaState, inbox_list
from okno.kit.time import utcnow
from okno.operators.time_zones import zone_of
from okno.models import Conversation, Message, TimelineEvent
from tests.access.world import World, make_world


def _unread(html: str) -> dict[int, int]:
    return {int(c): int(n) for c, n in re.findall(r'data-conversation="(\d+)"[^>]*data-unread="(\d+)"', html)}


async def _inbound(world: World, conversation_id: int, text: str = "Ещё вопрос") -> int:
    async with world.ctx.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        now = utcnow()
        message = Message(conversation_id=conversation_id, customer_id=conversation.customer_id, channel_id=world.channel["id"], direction="in",
                          text=text, status="received", created_at=now, status_updated_at=now)  # fmt: skip
        session.add(message)
        await session.flush()
        return message.id


async def _list(world: World, who: str, **params: str) -> str:
    response = await world.client.get("/ui/inbox/list", params=params, headers=world.bearer(who))
    assert response.status_code == 200, response.text
    for conversation_id, unread in _unread(response.text).items():  # a live row redraw shows the same marker
        row = await world.client.get(f"/ui/inbox/rows/{conversation_id}", params={**params, "shown": "0"}, headers=world.bearer(who))
        assert _unread(row.text) == {conversation_id: unread}, (who, conversation_id)
    return response.text


async def _timeline(world: World, conversation_id: int, kind: str) -> list[dict]:
    async with world.ctx.db.reading() as session:
        rows = await session.scalars(
            select(TimelineEvent.data).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind == kind).order_by(TimelineEvent.id)
        )
        return list(rows)


async def test_unread_markers_are_per_operator_and_cleared_by_reading(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    bundle = await world.bundle("B")
    assert _unread(await _list(world, "operator_b"))[bundle.conversation_id] == 1
    read = await client.post(f"/api/v1/conversations/{bundle.conversation_id}/read", headers=world.bearer("operator_b"))
    assert read.status_code == 200, read.text
    assert read.json() == {"conversation_id": bundle.conversation_id, "last_read_message_id": bundle.message_id}
    assert _unread(await _list(world, "operator_b"))[bundle.conversation_id] == 0
    assert _unread(await _list(world, "supervisor_b"))[bundle.conversation_id] == 1  # his colleague's reading is not his

    await _inbound(world, bundle.conversation_id)
    await _inbound(world, bundle.conversation_id, "И ещё")
    assert _unread(await _list(world, "operator_b"))[bundle.conversation_id] == 2
    assert _unread(await _list(world, "supervisor_b"))[bundle.conversation_id] == 3
    await client.post(f"/api/v1/conversations/{bundle.conversation_id}/read", headers=world.bearer("operator_b"))
    assert _unread(await _list(world, "operator_b"))[bundle.conversation_id] == 0
    html = await _list(world, "supervisor_b")
    assert re.search(rf'class="row unread[^"]*"[^>]*data-conversation="{bundle.conversation_id}"', html), "an unread row is marked"
    assert f'data-testid="unread-{bundle.conversation_id}">3<' in html


async def test_tags_added_removed_with_timeline_entries_and_listed_by_tag(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    tagged, other = await world.bundle("B"), await world.bundle("B")
    cid = tagged.conversation_id
    added = await client.post(f"/api/v1/conversations/{cid}/tags", json={"tags": ["Возврат", "vip"]}, headers=world.bearer("operator_b"))
    assert added.status_code == 200, added.text
    assert added.json()["tags"] == ["возврат", "vip"]
    removed = await client.delete(f"/api/v1/conversations/{cid}/tags/vip", headers=world.bearer("operator_b"))
    assert removed.json()["tags"] == ["возврат"]
    again = await client.delete(f"/api/v1/conversations/{cid}/tags/vip", headers=world.bearer("operator_b"))
    assert again.status_code == 200
    assert [d["added"] for d in await _timeline(world, cid, "conversation.tagged")] == [["возврат", "vip"]]
    assert [(d["removed"], d["by"]) for d in await _timeline(world, cid, "conversation.untagged")] == [(["vip"], world.operators["operator_b"])]
    too_long = await client.post(f"/api/v1/conversations/{cid}/tags", json={"tags": ["x" * 65]}, headers=world.bearer("operator_b"))
    assert too_long.status_code == 422

    async with ctx.db.reading() as session:
        page = await inbox_list(session, InboxFilter(tag="возврат"), operator_id=world.operators["admin"])
    assert [row.id for row in page.rows] == [cid] and page.total == 1
    assert page.rows[0].tags == ("возврат",)
    html = await _list(world, "operator_b", tag="возврат")
    assert f'data-conversation="{cid}"' in html and f'data-conversation="{other.conversation_id}"' not in html


async def test_tag_suggestions_come_only_from_visible_conversations(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    for team, tags in (("A", ["доставка", "возврат"]), ("B", ["возврат-b"]), ("B", ["возврат-b", "оплата"])):
        bundle = await world.bundle(team)
        await client.post(f"/api/v1/conversations/{bundle.conversation_id}/tags", json={"tags": tags}, headers=world.bearer("admin"))
    seen_by_b = await client.get("/api/v1/tags", params={"prefix": "воз"}, headers=world.bearer("operator_b"))
    assert seen_by_b.json() == {"tags": [{"tag": "возврат-b", "count": 2}]}
    seen_by_admin = await client.get("/api/v1/tags", params={"prefix": "ВОЗ"}, headers=world.bearer("admin"))
    assert seen_by_admin.json()["tags"] == [{"tag": "возврат-b", "count": 2}, {"tag": "возврат", "count": 1}]


async def test_bulk_actions_apply_to_each_and_refuse_what_the_caller_cannot_see(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    mine = [(await world.bundle("B")).conversation_id for _ in range(3)]
    theirs = (await world.bundle("A")).conversation_id
    headers = world.bearer("operator_b")

    refused = await client.post("/api/v1/conversations/bulk", json={"action": "tag", "conversation_ids": [*mine, theirs], "tags": ["x"]}, headers=headers)
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"conversation {theirs} not found"  # the same answer as an id that does not exist
    async with ctx.db.reading() as session:
        assert all(not tags for tags in await session.scalars(select(Conversation.tags).where(Conversation.id.in_(mine))))  # nothing done

    tagged = await client.post("/api/v1/conversations/bulk", json={"action": "tag", "conversation_ids": mine, "tags": ["акция"]}, headers=headers)
    assert tagged.status_code == 200, tagged.text
    assert [c["tags"] for c in tagged.json()["conversations"]] == [["акция"]] * 3

    me = world.operators["operator_b"]
    assigned = await client.post("/api/v1/conversations/bulk", json={"action": "assign", "conversation_ids": mine[:2], "operator_id": me}, headers=headers)
    assert [c["assignee_id"] for c in assigned.json()["conversations"]] == [me, me]

    transferred = await client.post(
        "/api/v1/conversations/bulk", json={"action": "transfer", "conversation_ids": mine[:1], "team_id": world.team_a, "comment": "к ним"}, headers=headers
    )
    assert transferred.json()["conversations"][0]["team_id"] == world.team_a
    assert transferred.json()["conversations"][0]["assignee_id"] is None
    no_team = await client.post("/api/v1/conversations/bulk", json={"action": "transfer", "conversation_ids": mine[1:]}, headers=headers)
    assert no_team.status_code == 422

    resolved = await client.post(
        "/api/v1/conversations/bulk", json={"action": "resolve", "conversation_ids": mine[1:], "reason": "consultation", "comment": "разом"}, headers=headers
    )
    assert resolved.status_code == 200, resolved.text
    assert {(c["status"], c["reason"]) for c in resolved.json()["conversations"]} == {("resolved", "consultation")}
    for cid in mine[1:]:
        assert [d["comment"] for d in await _timeline(world, cid, "conversation.status_changed")] == ["разом"]
    # the transferred one is team A's now: out of operator B's sight, so out of his bulk reach
    gone = await client.post("/api/v1/conversations/bulk", json={"action": "tag", "conversation_ids": mine[:1], "tags": ["y"]}, headers=headers)
    assert gone.status_code == 404


async def test_saved_views_are_the_owners_and_his_teams(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    own = await client.post("/api/v1/views", json={"name": "Мои срочные", "query": "queue=mine&priority=2&sla=breached"}, headers=world.bearer("operator_b"))
    assert own.status_code == 201, own.text
    assert own.json()["query"] == "queue=mine&priority=2&sla=breached"
    shared = await client.post(
        "/api/v1/views", json={"name": "Возвраты", "query": "?tag=возврат&sort=recent", "team_id": world.team_b}, headers=world.bearer("operator_b")
    )
    assert shared.status_code == 201, shared.text
    not_member = await client.post("/api/v1/views", json={"name": "Чужая", "query": "tag=x", "team_id": world.team_a}, headers=world.bearer("operator_b"))
    assert not_member.status_code == 422
    unknown = await client.post("/api/v1/views", json={"name": "Плохая", "query": "evil=1"}, headers=world.bearer("operator_b"))
    assert unknown.status_code == 422

    def names(response) -> list[str]:  # noqa: ANN001
        return [v["name"] for v in response.json()["views"]]

    assert names(await client.get("/api/v1/views", headers=world.bearer("operator_b"))) == ["Возвраты", "Мои срочные"]
    assert names(await client.get("/api/v1/views", headers=world.bearer("supervisor_b"))) == ["Возвраты"]  # shared with his team
    assert names(await client.get("/api/v1/views", headers=world.bearer("operator_a"))) == []
    stolen = await client.delete(f"/api/v1/views/{shared.json()['id']}", headers=world.bearer("supervisor_b"))
    assert stolen.status_code == 404  # only its owner deletes it
    deleted = await client.delete(f"/api/v1/views/{shared.json()['id']}", headers=world.bearer("operator_b"))
    assert deleted.status_code == 204
    assert names(await client.get("/api/v1/views", headers=world.bearer("supervisor_b"))) == []
    page = await client.get("/inbox", headers=world.cookie("operator_b"))
    assert 'data-testid="view-' in page.text and "Мои срочные" in page.text


async def test_filters_by_sla_state_assignee_and_day(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    breached, at_risk, on_track, none = [(await world.bundle("B")).conversation_id for _ in range(4)]
    now = utcnow()
    async with ctx.db.transaction() as session:
        for cid, due in ((breached, now - timedelta(minutes=5)), (at_risk, now + timedelta(minutes=10)), (on_track, now + timedelta(hours=3))):
            await session.execute(update(Conversation).where(Conversation.id == cid).values(sla_due_at=due))
        await session.execute(update(Conversation).where(Conversation.id == none).values(
            assignee_id=world.operators["operator_b"], created_at=now - timedelta(days=3)))  # fmt: skip
    admin = world.operators["admin"]

    async def ids(**kw) -> list[int]:  # noqa: ANN003
        async with ctx.db.reading() as session:
            return sorted(row.id for row in (await inbox_list(session, InboxFilter(**kw), operator_id=admin)).rows)

    assert await ids(sla_state=SlaState.breached) == [breached]
    assert await ids(sla_state=SlaState.at_risk) == [at_risk]
    assert await ids(sla_state=SlaState.on_track) == [on_track]
    assert await ids(sla_state=SlaState.none) == [none]
    assert await ids(assignee_id=world.operators["operator_b"]) == [none]
    assert await ids(assignee_id=NO_ASSIGNEE) == [breached, at_risk, on_track]
    assert await ids(created_before=now - timedelta(days=1)) == [none]
    day = (now - timedelta(days=3)).astimezone(zone_of(None, ctx.settings.default_time_zone)).date().isoformat()  # the admin's day
    html = await _list(world, "admin", **{"from": day, "to": day})
    assert re.findall(r'data-conversation="(\d+)"', html) == [str(none)]
    bad = await client.get("/ui/inbox/list", params={"from": "вчера"}, headers=world.bearer("admin"))
    assert bad.status_code == 422


async def test_a_note_mentions_operators_and_each_gets_an_event(app, ctx, client) -> None:  # noqa: ANN001
    from okno.models import OutboxEvent

    world = await make_world(ctx, client)
    bundle = await world.bundle("B")
    url = f"/api/v1/conversations/{bundle.conversation_id}/messages"
    me, colleague = world.operators["operator_b"], world.operators["supervisor_b"]
    note = await client.post(url, json={"text": "@supervisor_b посмотри", "internal": True, "mentions": [colleague, me]}, headers=world.bearer("operator_b"))
    assert note.status_code == 201, note.text
    async with ctx.db.reading() as session:
        stored = await session.get(Message, note.json()["id"])
        assert stored.content == {"mentions": [colleague, me]}
        events = list(await session.scalars(select(OutboxEvent.payload).where(OutboxEvent.topic == "note.mentioned")))
    assert [(e["operator_id"], e["by"], e["message_id"]) for e in events] == [(colleague, me, stored.id)]  # not himself
    public = await client.post(url, json={"text": "Здравствуйте", "mentions": [colleague]}, headers=world.bearer("operator_b"))
    assert public.status_code == 422  # a reply to the customer names no colleague
    unknown = await client.post(url, json={"text": "@кто", "internal": True, "mentions": [999_999]}, headers=world.bearer("operator_b"))
    assert unknown.status_code == 422
    async with ctx.db.reading() as session:
        texts = list(await session.scalars(select(Message.text).where(Message.conversation_id == bundle.conversation_id).order_by(Message.id)))
    assert texts == ["Где мой заказ?", "@supervisor_b посмотри"]  # the refused ones left nothing


async def test_waiting_since_is_the_first_unanswered_message_that_needs_an_answer(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    bundle = await world.bundle("B")
    cid = bundle.conversation_id
    start = utcnow() - timedelta(hours=1)

    async def add(minute: int, direction: str = "in", text: str = "", **extra) -> None:  # noqa: ANN003
        at = start + timedelta(minutes=minute)
        async with ctx.db.transaction() as session:
            session.add(Message(conversation_id=cid, customer_id=bundle.customer_id, channel_id=world.channel["id"], direction=direction, text=text,
                                status="received" if direction == "in" else "sent", created_at=at, status_updated_at=at, **extra))  # fmt: skip

    async def wait() -> object:
        async with ctx.db.reading() as session:
            row = (await inbox_list(session, InboxFilter(), operator_id=world.operators["admin"])).rows
        return next(r.waiting_since for r in row if r.id == cid)

    await add(1, "out", "Здравствуйте! Чем помочь?")  # answers the bundle's first message
    assert await wait() is None
    await add(2, text="Где заказ?")
    await add(3, text="Алло?")  # a second message does not restart the wait
    assert await wait() == start + timedelta(minutes=2)
    await add(4, "out", "Оставьте телефон")
    await add(5, attachments=[{"kind": "contact", "own": True, "phone": "+79160000000"}])  # the asked-for card: no question
    await add(6, kind="answer", text="5", content={"survey": {"request_id": 1, "role": "score", "score": 5}})  # a survey answer
    assert await wait() is None
    await add(7, attachments=[{"kind": "image", "name": "чек.jpg"}])  # a photo asks for a look
    await add(8, text="Вот чек")
    assert await wait() == start + timedelta(minutes=7)
