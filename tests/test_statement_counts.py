"""Statement counts pinned on the hot paths: the ingest batch (the same number of statements for 1
or 100 messages), an operator's reply, an assignment and the inbox page (the same for 1 or 30
conversations).

A change that adds a statement to one of these paths fails here with the list of statements it
sent. If the new statement is worth it, raise the pin in the same commit and say why there.
"""

from __future__ import annotations

import itertools

import httpx
import pytest

from okno.channels.base import InboundMessage, SenderIdentity
from okno.context import AppContext
from okno.kit.db import Database
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound
from tests.statements import assert_statement_count, count_statements

_phones = itertools.count(1)


def _dialect(db: Database) -> str:
    return db.writer.dialect.name


def _touches(senders: list[str], *, tag: str) -> list[InboundMessage]:
    return [
        InboundMessage(
            provider_id=f"{tag}-{n}",
            provider_message_id=f"{tag}-{n}",
            sender=[SenderIdentity(kind="phone", value=phone)],
            sender_name=f"Клиент {n}",
            text=f"Сообщение {n}",
        )
        for n, phone in enumerate(senders)
    ]


def _new_phones(count: int) -> list[str]:
    return [f"+7916{next(_phones):07d}" for _ in range(count)]


@pytest.fixture
async def channel_id(client, ctx) -> int:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await ctx.intake.submit(channel["id"], _touches(_new_phones(1), tag="warm-up"), b"")  # fills the per-process caches
    return channel["id"]


# ---- ingest ----------------------------------------------------------------------------------

# The webhook's group commit, each step one statement for the whole batch: raw items; id
# reservation (SQLite: one read of sqlite_sequence; PostgreSQL: one nextval query for the new
# customers); identity lookup; new customers; their identities; conversation lookup; new
# conversations (their activity set in the insert; PostgreSQL: ids returned by it);
# conversation touch-up of the ones that existed (none here); messages (PostgreSQL: ids returned
# by the insert); timeline; outbox; the matcher's profiles, blocking keys and term counts. A
# returning customer skips the creations; on SQLite his ongoing chat, remembered by the process,
# is touched by an UPDATE that checks it is still what the lookup would find, instead of the
# lookup and the touch (okno.conversations.threading: 8 -> 7).
INGEST_NEW_CUSTOMERS = {"sqlite": 13, "postgresql": 13}
INGEST_RETURNING_CUSTOMERS = {"sqlite": 7, "postgresql": 7}
# The processor draining pending items (a failed group commit, the widget): claim, the same
# pipeline (SQLite reads each id counter on its own here), mark done.
PROCESSOR_NEW_CUSTOMERS = {"sqlite": 16, "postgresql": 14}
# One message from a known phone whose customer has no open conversation, through the
# processor's pipeline (what bench/identity.py times as the exact-key attach): identity lookup,
# conversation lookup, new conversation, message, timeline, outbox; SQLite also reads the
# conversations' and messages' id counters (the webhook's group commit reads them once for all).
ATTACH_KNOWN_CUSTOMER = {"sqlite": 8, "postgresql": 6}
# One fuzzy score of a record against the stored base (what bench/identity.py times as fuzzy
# scoring): one statement ranks the candidates and reads their profiles and the record's term
# counts; the model and the base size are cached per process. On PostgreSQL the statement's text
# is the same whatever keys the record has (its keys travel as one array), so each connection
# prepares and plans it once; SQLite gets one text per shape of keys.
FUZZY_SCORE = {"sqlite": 1, "postgresql": 1}


@pytest.mark.parametrize("size", [1, 10, 100])
async def test_an_ingest_batch_of_new_customers_costs_the_same_statements_at_any_size(ctx: AppContext, channel_id: int, size: int) -> None:
    touches = _touches(_new_phones(size), tag=f"new-{size}")
    with assert_statement_count(ctx.db, INGEST_NEW_CUSTOMERS[_dialect(ctx.db)]):
        accepted = await ctx.intake.submit(channel_id, touches, b"{}")
    assert accepted.stored == size


@pytest.mark.parametrize("size", [1, 10, 100])
async def test_an_ingest_batch_of_returning_customers_costs_the_same_statements_at_any_size(ctx: AppContext, channel_id: int, size: int) -> None:
    senders = _new_phones(size)
    await ctx.intake.submit(channel_id, _touches(senders, tag=f"first-{size}"), b"{}")  # customers and open conversations
    with assert_statement_count(ctx.db, INGEST_RETURNING_CUSTOMERS[_dialect(ctx.db)]):
        accepted = await ctx.intake.submit(channel_id, _touches(senders, tag=f"again-{size}"), b"{}")
    assert accepted.stored == size


@pytest.mark.parametrize("size", [1, 10, 100])
async def test_the_processor_drains_a_batch_in_the_same_statements_at_any_size(ctx: AppContext, channel_id: int, size: int) -> None:
    from okno.channels.inbound import stage_items

    async with ctx.db.transaction() as session:
        await stage_items(session, channel_id, _touches(_new_phones(size), tag=f"pending-{size}"), b"{}")
    with assert_statement_count(ctx.db, PROCESSOR_NEW_CUSTOMERS[_dialect(ctx.db)]):
        assert await ctx.ingest.drain_once() == size


async def test_an_exact_key_attach_of_a_known_customer(ctx: AppContext, channel_id: int) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from okno.models import Conversation, Message

    phone = _new_phones(1)[0]
    await ctx.intake.submit(channel_id, _touches([phone], tag="known"), b"{}")
    async with ctx.db.transaction() as session:  # the customer's conversation ends: the next touch opens one
        await session.execute(Conversation.__table__.update().values(status="closed"))
    national = f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    item = InboundMessage(provider_id="again", sender=[SenderIdentity(kind="phone", value=national, source="api")], text="Снова я")
    prepared = ctx.ingest.prepare(10**9, channel_id, item, datetime.now(UTC))
    with assert_statement_count(ctx.db, ATTACH_KNOWN_CUSTOMER[_dialect(ctx.db)]):
        async with ctx.db.transaction() as session:
            await ctx.ingest.apply(session, [prepared])
    async with ctx.db.reading() as session:
        message = (await session.execute(select(Message.conversation_id, Message.customer_id, Message.text).order_by(Message.id.desc()).limit(1))).one()
        conversations = (
            await session.execute(
                select(Conversation.id, Conversation.customer_id, Conversation.status, Conversation.last_inbound_at)
                .where(Conversation.customer_id == message.customer_id)
                .order_by(Conversation.id)
            )
        ).all()
    assert len(conversations) == 2  # attached to the known customer: his closed conversation and the new one
    assert conversations[1].status == "open" and conversations[1].last_inbound_at is not None
    assert tuple(message) == (conversations[1].id, conversations[1].customer_id, "Снова я")


async def test_a_fuzzy_score_is_one_statement_with_one_text_on_postgresql(ctx: AppContext) -> None:
    from okno.customers.matching.fields import RawPerson, block_cap, comparison_fields, filed_keys
    from okno.customers.matching.realtime import score_record
    from okno.customers.matching.synthetic import generate_records
    from tests.identity.helpers import ATTRIBUTES, store_people

    rows = generate_records(400, duplicate_share=0.3, seed=17)
    await store_people(ctx, rows[:300])
    people = [RawPerson(**{k: r[k] for k in ATTRIBUTES}, phones=[r["phone"]] if n % 2 else []) for n, r in enumerate(rows[300:])]
    records = [comparison_fields(person) for person in people]
    shapes = {tuple(sorted(block_cap(key) for key in filed_keys(fields))) for fields in records}
    assert len(shapes) > 3  # records with different numbers of keys of each kind
    texts: set[str] = set()
    scored = 0
    async with ctx.db.reading() as session:
        await score_record(session, records[0])  # the model and the base size are now cached
        for fields in records:
            with assert_statement_count(ctx.db, FUZZY_SCORE[_dialect(ctx.db)]) as log:
                scored += bool(await score_record(session, fields))
            texts.update(log.statements)
    assert scored > len(records) // 2
    assert len(texts) == (1 if _dialect(ctx.db) == "postgresql" else len(shapes))


async def test_a_batch_gets_its_ids_in_order_whichever_way_they_are_taken(ctx: AppContext, channel_id: int) -> None:
    """100 new customers in one group commit: message n is customer n's, in conversation n's,
    and the timeline's ``message.received`` n names message n (ids returned by the inserts on
    PostgreSQL must come back in the rows' order)."""
    from sqlalchemy import select

    from okno.models import Conversation, Identity, Message, TimelineEvent

    phones = _new_phones(100)
    await ctx.intake.submit(channel_id, _touches(phones, tag="order"), b"{}")
    async with ctx.db.reading() as session:
        owner = {value: cid for value, cid in (await session.execute(select(Identity.value, Identity.customer_id).where(Identity.kind == "phone"))).all()}
        messages = (await session.execute(select(Message.id, Message.text, Message.customer_id, Message.conversation_id).where(Message.text.like("Сообщение %")))).all()
        conv_owner = dict((await session.execute(select(Conversation.id, Conversation.customer_id))).all())
        received = dict((await session.execute(select(TimelineEvent.message_id, TimelineEvent.customer_id).where(TimelineEvent.kind == "message.received"))).all())
    by_text = {m.text: m for m in messages}
    assert len(by_text) >= 100
    for n, phone in enumerate(phones):
        m = by_text[f"Сообщение {n}"]
        assert m.customer_id == owner[phone] and conv_owner[m.conversation_id] == owner[phone] and received[m.id] == owner[phone]
    ordered = [by_text[f"Сообщение {n}"].id for n in range(100)]
    assert ordered == sorted(ordered)  # ids follow the batch's order


# ---- operator actions --------------------------------------------------------------------------


async def _conversations(client: httpx.AsyncClient, ctx: AppContext, headers: dict[str, str], count: int) -> list[int]:
    channel = await make_api_channel(client, headers)
    for n in range(count):
        response = await post_inbound(client, channel, {"message_id": f"m{n}", "from": {"phone": _new_phones(1)[0], "name": f"Клиент {n}"}, "text": "Здравствуйте"})
        assert response.status_code == 200, response.text
    await ctx.settle()
    listed = (await client.get("/api/v1/conversations", params={"limit": count}, headers=headers)).json()["items"]
    return sorted(c["id"] for c in listed)


REPLY = {"sqlite": 9, "postgresql": 9}
# 7: the access check (okno.access) reads the conversation with the operator's scope; the
# assignment then locks it with its own SELECT … FOR UPDATE (a locking read never comes from the
# session's identity map)
ASSIGN = {"sqlite": 7, "postgresql": 7}


async def test_an_operator_reply(client: httpx.AsyncClient, ctx: AppContext) -> None:
    headers = await admin_headers(ctx, client)
    first, second = await _conversations(client, ctx, headers, 2)
    assert (await client.post(f"/api/v1/conversations/{first}/messages", json={"text": "Здравствуйте!"}, headers=headers)).status_code == 201
    await ctx.read_log.flush()  # the audited reads so far: written now, not by their timer inside the measured reply
    with assert_statement_count(ctx.db, REPLY[_dialect(ctx.db)]):
        response = await client.post(f"/api/v1/conversations/{second}/messages", json={"text": "Заказ в пути"}, headers=headers)
    assert response.status_code == 201, response.text


async def test_an_assignment(client: httpx.AsyncClient, ctx: AppContext) -> None:
    headers = await admin_headers(ctx, client)
    operator = await make_operator(ctx)
    first, second = await _conversations(client, ctx, headers, 2)
    body = {"operator_id": operator["id"]}
    assert (await client.post(f"/api/v1/conversations/{first}/assign", json=body, headers=headers)).status_code == 200
    await ctx.read_log.flush()  # as above
    with assert_statement_count(ctx.db, ASSIGN[_dialect(ctx.db)]):
        response = await client.post(f"/api/v1/conversations/{second}/assign", json=body, headers=headers)
    assert response.status_code == 200 and response.json()["assignee_id"] == operator["id"]


# ---- the inbox page ----------------------------------------------------------------------------

# the six counters are one statement; the total and statuses one each; channels two; each row's
# wait and unread count one each; the tools (people, teams, my teams, saved views) four
INBOX_PAGE = {"sqlite": 19, "postgresql": 19}


@pytest.mark.parametrize("conversations", [1, 30])
async def test_the_inbox_page_costs_the_same_statements_for_1_or_30_conversations(client: httpx.AsyncClient, ctx: AppContext, conversations: int) -> None:
    headers = await admin_headers(ctx, client)
    await _conversations(client, ctx, headers, conversations)
    supervisor = await make_operator(ctx, role="supervisor")
    assert (await client.post("/ui/session", json={"email": supervisor["email"], "password": PASSWORD})).status_code == 200
    assert (await client.get("/inbox")).status_code == 200  # the first page fills the status catalog cache
    await ctx.read_log.flush()  # the audited reads so far: written now, not by their timer inside the measured page
    with count_statements(ctx.db) as log:
        page = await client.get("/inbox")
    assert page.status_code == 200 and page.text.count("Клиент ") >= conversations
    assert log.count == INBOX_PAGE[_dialect(ctx.db)], f"got {log.count}:\n{log.listing()}"


# ---- the live row ------------------------------------------------------------------------------

# One conversation's row, as every operator's page asks for it after an event
# (okno.conversations.inbox_row): the operator (1); the status and reason catalog (2); one
# statement that places it — whether the principal sees it, whether the list holds it, whether it
# falls past the loaded rows, the list's total, the operator's unread count (1); its row: the
# conversation with its customer, channel and assignee, its latest message, its wait (3); the row
# before it (1, not asked for a row past the loaded ones). A row the filter leaves out, or another team's
# (404), costs the first four only. 20 operators ask after every message: each statement here is
# 20 in the serve process.
LIVE_ROW = {"sqlite": 8, "postgresql": 8}
LIVE_ROW_BEYOND = {"sqlite": 7, "postgresql": 7}
LIVE_ROW_LEFT_OUT = {"sqlite": 4, "postgresql": 4}
LIVE_ROW_HIDDEN = {"sqlite": 4, "postgresql": 4}


async def _live_row(client: httpx.AsyncClient, ctx: AppContext, url: str, headers: dict[str, str], expected: int) -> httpx.Response:
    await ctx.read_log.flush()  # the list's audited reads: written now, not by their timer inside the measured row
    with assert_statement_count(ctx.db, expected):
        answer = await client.get(url, headers=headers)
    return answer


@pytest.mark.parametrize("conversations", [3, 30])
async def test_the_live_row_costs_the_same_statements_whatever_the_list_holds(client: httpx.AsyncClient, ctx: AppContext, conversations: int) -> None:
    from tests.access.world import make_world

    world = await make_world(ctx, client)
    ids = [(await world.bundle("B")).conversation_id for _ in range(conversations)]
    hidden = (await world.bundle("A")).conversation_id
    me = world.bearer("operator_b")  # an operator: his scope's rule (his teams, his own, unteamed) is in every statement
    listed = await client.get(f"/ui/inbox/list?queue=all&sort=recent&limit={conversations - 1}", headers=me)
    until = listed.text.split('data-load-more="')[1].split('"')[0]
    order = [int(part.split('"')[0]) for part in listed.text.split('data-conversation="')[1:]]
    second, last = order[1], next(i for i in ids if i not in order)  # the row past the loaded ones
    row = await _live_row(client, ctx, f"/ui/inbox/rows/{second}?queue=all&sort=recent&shown={len(order)}&present=1&until={until}", me, LIVE_ROW[_dialect(ctx.db)])
    assert row.status_code == 200 and f'data-after="{order[0]}"' in row.text and f'data-total="{conversations}"' in row.text
    beyond = await _live_row(client, ctx, f"/ui/inbox/rows/{last}?queue=all&sort=recent&shown={len(order)}&until={until}", me, LIVE_ROW_BEYOND[_dialect(ctx.db)])
    assert beyond.status_code == 200 and 'data-beyond="1"' in beyond.text
    left_out = await _live_row(client, ctx, f"/ui/inbox/rows/{second}?queue=all&status=resolved&shown=0", me, LIVE_ROW_LEFT_OUT[_dialect(ctx.db)])
    assert left_out.status_code == 200 and 'data-member="0"' in left_out.text
    refused = await _live_row(client, ctx, f"/ui/inbox/rows/{hidden}?queue=all&shown=0", me, LIVE_ROW_HIDDEN[_dialect(ctx.db)])
    assert refused.status_code == 404


async def test_the_live_row_and_the_list_compile_their_statements_once(client: httpx.AsyncClient, ctx: AppContext) -> None:
    """Every statement of the row and of the list has a cache key: SQLAlchemy compiles it once,
    not on every request (an element of our own that hid its state from the cache key made every
    inbox statement compile again each time: milliseconds of CPU, 20 times over per live update)."""
    from tests.access.world import make_world

    world = await make_world(ctx, client)
    ids = [(await world.bundle("B")).conversation_id for _ in range(3)]
    me = world.bearer("operator_b")
    urls = [f"/ui/inbox/rows/{ids[1]}?queue=all&sort={sort}&shown=3&present=1" for sort in ("waiting", "priority", "sla", "recent")]
    urls += [f"/ui/inbox/list?queue={queue}" for queue in ("all", "mine", "unassigned", "team")] + ["/ui/inbox/list?queue=all&status=pending&channel=1"]
    for url in urls:
        assert (await client.get(url, headers=me)).status_code == 200
        with count_statements(ctx.db) as log:
            assert (await client.get(url, headers=me)).status_code == 200
        assert log.count > 0 and not log.uncached, f"{url}: compiled on every request:\n" + "\n".join(log.uncached)
