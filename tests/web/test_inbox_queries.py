"""The inbox's queues, counters, ordering and search, over data that came in through a real webhook."""

from __future__ import annotations

from sqlalchemy import update

from okno.conversations.inbox import InboxFilter, inbox_list, queue_counts
from okno.kit.errors import Invalid
from okno.models import Conversation, Team, team_members
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def _seed(client, ctx) -> dict:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    senders = [
        ("m1", {"phone": "+7 916 111-11-11", "name": "Анна Петрова"}, "Где мой заказ 1001?"),
        ("m2", {"email": "boris@example.ru", "name": "Boris Ivanov"}, "Хочу вернуть пылесос"),
        ("m3", {"phone": "+7 916 333-33-33", "name": "Вера"}, "Оплата не прошла"),
    ]
    for message_id, sender, text in senders:
        assert (await post_inbound(client, channel, {"message_id": message_id, "from": sender, "text": text})).status_code == 200
        await ctx.settle()
    async with ctx.db.reading() as session:
        from sqlalchemy import select

        conversations = {c.customer_id: c for c in await session.scalars(select(Conversation).order_by(Conversation.id))}
    ids = [c.id for c in conversations.values()]
    return {"headers": headers, "channel": channel, "ids": ids}


async def _page(ctx, operator_id: int, **kw) -> list[int]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return [row.id for row in (await inbox_list(session, InboxFilter(**kw), operator_id=operator_id)).rows]


async def test_queues_split_mine_unassigned_team_and_all(client, ctx) -> None:
    seeded = await _seed(client, ctx)
    first, second, third = seeded["ids"]
    me = await make_operator(ctx, name="Оля")
    async with ctx.db.transaction() as session:
        team = Team(name="Возвраты")
        session.add(team)
        await session.flush()
        await session.execute(team_members.insert().values(team_id=team.id, operator_id=me["id"]))
        await session.execute(update(Conversation).where(Conversation.id == first).values(assignee_id=me["id"]))
        await session.execute(update(Conversation).where(Conversation.id == second).values(team_id=team.id))

    assert await _page(ctx, me["id"], queue="mine") == [first]
    assert await _page(ctx, me["id"], queue="unassigned") == [second, third]
    assert await _page(ctx, me["id"], queue="team") == [second]
    assert await _page(ctx, me["id"], queue="all") == [first, second, third]  # longest waiting first
    async with ctx.db.reading() as session:
        counts = await queue_counts(session, operator_id=me["id"])
    channel_id = seeded["channel"]["id"]
    assert counts.as_json() == {"mine": 1, "unassigned": 2, "team": 1, "all": 3, "urgent": 0, "vip": 0, f"channel-{channel_id}": 3}


async def test_priority_sort_and_the_urgent_filter(client, ctx) -> None:
    seeded = await _seed(client, ctx)
    first, second, third = seeded["ids"]
    me = await make_operator(ctx)
    async with ctx.db.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.id == third).values(priority=3))
    assert await _page(ctx, me["id"], sort="priority") == [third, first, second]
    assert await _page(ctx, me["id"], min_priority=2) == [third]
    assert await _page(ctx, me["id"], sort="recent") == [third, second, first]


async def test_search_by_phone_email_name_and_text(client, ctx) -> None:
    seeded = await _seed(client, ctx)
    first, second, third = seeded["ids"]
    me = await make_operator(ctx)
    assert await _page(ctx, me["id"], search="8 (916) 111-11-11") == [first]  # normalised like an identity
    assert await _page(ctx, me["id"], search="BORIS@example.ru") == [second]
    assert await _page(ctx, me["id"], search="Вера") == [third]
    assert await _page(ctx, me["id"], search="пылесос") == [second]  # message text
    assert await _page(ctx, me["id"], search="вера") == [third]  # any letter case, Cyrillic too (SQLite's lower() is ASCII-only)
    assert await _page(ctx, me["id"], search="ПЫЛЕСОС") == [second]
    assert await _page(ctx, me["id"], search="boris iv") == [second]
    assert await _page(ctx, me["id"], search="100%") == []  # LIKE wildcards are literal
    assert await _page(ctx, me["id"], search="нет такого") == []


async def test_a_bad_filter_is_a_clear_error() -> None:
    try:
        InboxFilter.parse(queue="everything", channel_id=None, status=None, min_priority=None, search="", sort="waiting")
    except Invalid as exc:
        assert "everything" in exc.detail
    else:  # pragma: no cover
        raise AssertionError("an unknown queue must be refused")


async def test_vip_customers_have_their_own_queue(client, ctx) -> None:
    seeded = await _seed(client, ctx)
    first, second, third = seeded["ids"]
    me = await make_operator(ctx)
    async with ctx.db.transaction() as session:
        from sqlalchemy import select

        from okno.models import Customer

        customer_of = dict((await session.execute(select(Conversation.id, Conversation.customer_id))).all())
        await session.execute(update(Customer).where(Customer.id == customer_of[first]).values(attributes={"vip": True}))
        await session.execute(update(Customer).where(Customer.id == customer_of[third]).values(attributes={"vip_tier": "gold", "city": "Казань"}))
        await session.execute(update(Customer).where(Customer.id == customer_of[second]).values(attributes={"vip": False, "vip_tier": ""}))
    assert await _page(ctx, me["id"], vip=True) == [first, third]
    async with ctx.db.reading() as session:
        rows = (await inbox_list(session, InboxFilter(), operator_id=me["id"])).rows
        assert [r.vip for r in rows] == [True, False, True]
        assert (await queue_counts(session, operator_id=me["id"])).vip == 2
