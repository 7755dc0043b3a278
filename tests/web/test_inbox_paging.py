"""Complete lists: every queue pages by keyset with its total, and channel queues hold the
conversations that used the channel, not only the ones that began there."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from okno.conversations.inbox import InboxFilter, Sort, inbox_list, queue_counts
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.models import Conversation, Customer
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

WEB = {"X-Okno-Client": "web"}
_ids = itertools.count(1)


async def _insert_conversations(ctx, n: int, *, rng: random.Random, operator_id: int, channel_id: int | None = None) -> list[int]:  # noqa: ANN001
    """``n`` unfinished conversations with ties and NULLs in every sort column."""
    now = utcnow().replace(microsecond=0)
    async with ctx.db.transaction() as session:
        customer_id = await session.scalar(insert(Customer).values(name="Пётр", attributes={}).returning(Customer.id))
        rows = []
        for _ in range(n):
            minutes = rng.choice([None, 1, 2, 2, 3, 5, 8, 8, 13])  # repeats: rows tie on the sort value
            rows.append(
                {
                    "customer_id": customer_id,
                    "channel_id": channel_id,
                    "status": rng.choice(["open", "open", "pending", "on_hold"]),
                    "priority": rng.choice([0, 1, 1, 2, 3]),
                    "assignee_id": rng.choice([None, operator_id]),
                    "last_inbound_at": None if minutes is None else now - timedelta(minutes=minutes),
                    "last_message_at": None if minutes is None else now - timedelta(minutes=minutes - 1),
                    "sla_due_at": rng.choice([None, now + timedelta(minutes=5), now + timedelta(minutes=30)]),
                }
            )
        ids = list(await session.scalars(insert(Conversation).returning(Conversation.id), rows))
    return ids


async def _walk(ctx, flt: InboxFilter, operator_id: int, *, limit: int, between=None) -> tuple[list[int], list[int]]:  # noqa: ANN001
    """Every page of a list in order; ``between`` runs after each page (concurrent writes)."""
    seen: list[int] = []
    totals: list[int] = []
    after = None
    for _ in range(1000):
        async with ctx.db.reading() as session:
            page = await inbox_list(session, flt, operator_id=operator_id, after=after, limit=limit)
        seen += [row.id for row in page.rows]
        totals.append(page.total)
        if page.next_cursor is None:
            return seen, totals
        after = page.next_cursor
        if between is not None:
            await between()
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("sort", list(Sort))
async def test_paging_reaches_every_row_exactly_once_while_conversations_arrive(ctx, sort: Sort) -> None:
    rng = random.Random(f"paging-{sort}")
    me = await make_operator(ctx)
    existing = await _insert_conversations(ctx, 45, rng=rng, operator_id=me["id"])
    arrived: list[int] = []

    async def someone_writes() -> None:
        arrived.extend(await _insert_conversations(ctx, 3, rng=rng, operator_id=me["id"]))

    seen, totals = await _walk(ctx, InboxFilter(queue="all", sort=sort), me["id"], limit=7, between=someone_writes)
    assert len(seen) == len(set(seen)), "a row was shown twice"
    assert set(existing) <= set(seen), f"rows never reached: {sorted(set(existing) - set(seen))}"
    assert set(seen) <= set(existing) | set(arrived)
    assert totals[0] == 45 and totals[-1] == 45 + len(arrived)  # each page's total counts what is there now

    # with nothing arriving, the pages are exactly the one ordered list
    async with ctx.db.reading() as session:
        everything = await inbox_list(session, InboxFilter(queue="all", sort=sort), operator_id=me["id"], limit=500)
    again, _ = await _walk(ctx, InboxFilter(queue="all", sort=sort), me["id"], limit=6)
    assert again == [row.id for row in everything.rows] and everything.next_cursor is None
    assert everything.total == len(existing) + len(arrived)


async def test_every_queue_total_matches_its_rows(ctx) -> None:
    rng = random.Random(3)
    me = await make_operator(ctx)
    await _insert_conversations(ctx, 60, rng=rng, operator_id=me["id"])
    async with ctx.db.reading() as session:
        counts = (await queue_counts(session, operator_id=me["id"], statuses=("open", "pending", "on_hold", "resolved"))).as_json()
    for queue, extra in [("mine", {}), ("unassigned", {}), ("all", {}), ("all", {"min_priority": 2})]:
        seen, totals = await _walk(ctx, InboxFilter(queue=queue, **extra), me["id"], limit=9)
        key = "urgent" if extra else queue
        assert len(seen) == len(set(seen)) == totals[0] == counts[key], queue
    for status in ("open", "pending", "on_hold"):
        seen, totals = await _walk(ctx, InboxFilter(queue="all", status=status), me["id"], limit=9)
        assert len(seen) == totals[0] == counts[f"status-{status}"], status
    assert counts["status-resolved"] == 0


async def test_a_cursor_that_was_tampered_with_or_belongs_to_another_sort_is_refused(ctx) -> None:
    me = await make_operator(ctx)
    await _insert_conversations(ctx, 5, rng=random.Random(1), operator_id=me["id"])
    async with ctx.db.reading() as session:
        page = await inbox_list(session, InboxFilter(), operator_id=me["id"], limit=2)
        for bad, sort in [("not-a-cursor", Sort.waiting), (page.next_cursor, Sort.priority), (page.next_cursor[:-3], Sort.waiting)]:
            with pytest.raises(Invalid, match="bad page cursor"):
                await inbox_list(session, InboxFilter(sort=sort), operator_id=me["id"], after=bad)


async def test_a_customer_now_writing_in_whatsapp_is_in_that_channels_queue(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    telegram = await make_api_channel(client, headers)
    whatsapp = await make_api_channel(client, headers)
    other = await make_api_channel(client, headers)
    anna = {"phone": "+7 916 111-11-11", "name": "Анна"}
    # she wrote through the third channel once, long ago (so okno may answer her there): closed since
    assert (await post_inbound(client, other, {"message_id": "o1", "from": anna, "text": "Давний вопрос"})).status_code == 200
    await ctx.settle()
    async with ctx.db.reading() as session:
        (earlier,) = list(await session.scalars(select(Conversation.id)))
    closed = await client.post(f"/api/v1/conversations/{earlier}/status", json={"status": "closed"}, headers=headers)
    assert closed.status_code == 200, closed.text
    assert (await post_inbound(client, telegram, {"message_id": "t1", "from": anna, "text": "Здравствуйте"})).status_code == 200
    await ctx.settle()
    assert (await post_inbound(client, whatsapp, {"message_id": "w1", "from": anna, "text": "Пишу теперь сюда"})).status_code == 200
    assert (await post_inbound(client, whatsapp, {"message_id": "w2", "from": anna, "text": "И ещё раз"})).status_code == 200
    await ctx.settle()
    me = await make_operator(ctx)
    async with ctx.db.reading() as session:
        (conversation_id,) = list(await session.scalars(select(Conversation.id).where(Conversation.id != earlier)))
        in_queue = {
            ch["id"]: [r.id for r in (await inbox_list(session, InboxFilter(channel_id=ch["id"]), operator_id=me["id"])).rows]
            for ch in (telegram, whatsapp, other)
        }
        counts = (await queue_counts(session, operator_id=me["id"])).as_json()
    assert in_queue == {telegram["id"]: [conversation_id], whatsapp["id"]: [conversation_id], other["id"]: []}
    assert counts[f"channel-{telegram['id']}"] == counts[f"channel-{whatsapp['id']}"] == 1 and counts["all"] == 1
    assert f"channel-{other['id']}" not in counts

    # an operator's reply through a third channel puts the conversation in that queue too
    operator = await make_operator(ctx, role="admin")
    await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})
    reply = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Ответ", "channel_id": other["id"]}, headers=WEB)
    assert reply.status_code == 201, reply.text
    async with ctx.db.reading() as session:
        page = await inbox_list(session, InboxFilter(channel_id=other["id"]), operator_id=me["id"])
        counts = (await queue_counts(session, operator_id=me["id"])).as_json()
    assert [r.id for r in page.rows] == [conversation_id] and page.total == 1
    assert counts[f"channel-{other['id']}"] == 1


async def test_the_list_fragment_pages_with_a_total_and_load_more(client, ctx) -> None:
    me = await make_operator(ctx, name="Оля")
    assert (await client.post("/ui/session", json={"email": me["email"], "password": PASSWORD})).status_code == 200
    ids = await _insert_conversations(ctx, 61, rng=random.Random(5), operator_id=me["id"])
    first = await client.get("/ui/inbox/list?queue=all")
    assert first.status_code == 200
    assert 'data-total="61"' in first.text and "50 из 61" in first.text and first.text.count('data-conversation="') == 50
    cursor = first.text.split('data-load-more="')[1].split('"')[0]
    rest = await client.get(f"/ui/inbox/list?queue=all&after={cursor}&shown=50")
    assert rest.text.count('data-conversation="') == 11 and "61 из 61" in rest.text and "data-load-more" not in rest.text
    shown = {int(x.split('"')[0]) for x in (first.text + rest.text).split('data-conversation="')[1:]}
    assert shown == set(ids)
    refreshed = await client.get("/ui/inbox/list?queue=all&limit=61")  # a live refresh keeps what was loaded
    assert refreshed.text.count('data-conversation="') == 61
    assert (await client.get("/ui/inbox/list?queue=all&after=garbage")).status_code == 422
    page = await client.get("/inbox")
    assert 'data-testid="load-more"' in page.text and 'data-testid="count-status-open"' in page.text
    async with ctx.db.reading() as session:
        open_now = await session.scalar(select(func.count()).select_from(Conversation).where(Conversation.status == "open"))
    assert f'data-testid="count-status-open">{open_now}<' in page.text


async def test_the_profile_lists_every_conversation_of_the_customer_page_by_page(client, ctx) -> None:
    me = await make_operator(ctx, name="Оля")
    assert (await client.post("/ui/session", json={"email": me["email"], "password": PASSWORD})).status_code == 200
    async with ctx.db.transaction() as session:
        customer_id = await session.scalar(insert(Customer).values(name="Давний клиент", attributes={}).returning(Customer.id))
        ids = list(
            await session.scalars(
                insert(Conversation).returning(Conversation.id), [{"customer_id": customer_id, "status": "resolved"} for _ in range(53)]
            )
        )
    page = await client.get(f"/ui/conversations/{ids[-1]}")
    assert page.status_code == 200
    assert 'data-testid="history-total">(53)<' in page.text
    history = page.text.split('class="history-list"')[1]
    first = [int(x.split('"')[0]) for x in history.split('href="/inbox?c=')[1:]]
    assert first == sorted(ids, reverse=True)[:50]  # the newest first
    before = history.split('data-history-more="')[1].split('"')[0]
    rest = await client.get(f"/ui/customers/{customer_id}/conversations?before={before}")
    assert rest.status_code == 200 and "data-history-more" not in rest.text
    second = [int(x.split('"')[0]) for x in rest.text.split('href="/inbox?c=')[1:]]
    assert first + second == sorted(ids, reverse=True)
    assert (await client.get(f"/ui/customers/{customer_id}/conversations?before=x")).status_code == 422
    assert (await client.get(f"/ui/customers/{customer_id + 999}/conversations?before=5")).status_code == 404
