"""The demo seed: runs once, writes consistent histories, and its admin can use the API."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from okno.channels.registry import ADAPTERS
from okno.channels.service import open_config, plain_config
from okno.customers.matching.reindex import reindex_profiles
from okno.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo
from okno.fakes import FAKE_KINDS, MAIL_KINDS, SMS_AND_REVIEW_KINDS, fake_class, fake_url_in
from okno.models import UNFINISHED_STATUSES, Channel, Conversation, Customer, Identity, MatchBlock, MatchProfile, Message, Operator, Team, TimelineEvent
from tests.factories import login

MESSENGERS = [k for k in FAKE_KINDS if k in ADAPTERS and fake_class(k) is not None]
SMS_AND_REVIEWS = [k for k in SMS_AND_REVIEW_KINDS if k in ADAPTERS and fake_class(k) is not None]
CHANNELS = 2 + len(MESSENGERS) + 1 + len(SMS_AND_REVIEWS)  # two API channels, the messengers on their fakes, the website chat, SMS and reviews
MAILBOXES = [k for k in MAIL_KINDS if k in ADAPTERS and fake_class(k) is not None]
CHANNELS += len(MAILBOXES)  # the support mailbox on the fake mail server


async def count(ctx, model) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_seeds_once_then_reports_it_is_already_there(ctx) -> None:
    assert await seed_demo(ctx.settings, customers=60) is True
    assert await seed_demo(ctx.settings, customers=60) is False
    assert [await count(ctx, m) for m in (Customer, Operator, Channel, Team)] == [60, 6, CHANNELS, 2]


async def test_histories_are_consistent(ctx) -> None:
    await seed_demo(ctx.settings, customers=60)
    async with ctx.db.reading() as session:
        with_identity = set(await session.scalars(select(Identity.customer_id)))
        customer_ids = set(await session.scalars(select(Customer.id)))
        unfinished = defaultdict(int)
        for customer_id in await session.scalars(select(Conversation.customer_id).where(Conversation.status.in_(UNFINISHED_STATUSES))):
            unfinished[customer_id] += 1
        owner = dict((await session.execute(select(Conversation.id, Conversation.customer_id))).all())
        messages = (
            await session.execute(select(Message.conversation_id, Message.customer_id, Message.created_at).order_by(Message.id))
        ).all()
        events = (await session.execute(select(TimelineEvent.occurred_at).order_by(TimelineEvent.id))).scalars().all()

    assert with_identity == customer_ids
    assert unfinished and max(unfinished.values()) == 1
    assert all(owner[conversation_id] == customer_id for conversation_id, customer_id, _ in messages)
    by_conversation = defaultdict(list)
    for conversation_id, _, created_at in messages:
        by_conversation[conversation_id].append(created_at)
    assert set(by_conversation) == set(owner)
    assert all(times == sorted(times) for times in by_conversation.values())
    assert events == sorted(events)


async def test_force_adds_customers_and_reuses_staff_and_channels(ctx) -> None:
    await seed_demo(ctx.settings, customers=60)
    assert await seed_demo(ctx.settings, customers=20, force=True) is True
    assert [await count(ctx, m) for m in (Customer, Operator, Channel, Team)] == [80, 6, CHANNELS, 2]


async def test_admin_logs_in_and_finds_a_seeded_customer_by_phone(client, ctx) -> None:
    await seed_demo(ctx.settings, customers=60)
    async with ctx.db.reading() as session:
        customer_id, phone = (
            await session.execute(select(Identity.customer_id, Identity.value).where(Identity.kind == "phone").limit(1))
        ).one()

    headers = await login(client, email=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD)
    response = await client.get("/api/v1/customers", params={"identity": f"phone:{phone}"}, headers=headers)
    assert response.status_code == 200, response.text
    assert [c["id"] for c in response.json()["items"]] == [customer_id]


async def test_messengers_point_at_their_fakes_and_the_widget_at_the_site(ctx) -> None:
    await seed_demo(ctx.settings, customers=5, base_url="http://127.0.0.1:8123/")
    async with ctx.db.reading() as session:
        channels = {c.kind: open_config(ctx.box, c) for c in await session.scalars(select(Channel))}
    assert {"telegram", "whatsapp"} <= set(MESSENGERS) and set(channels) == {"api", "widget", *MESSENGERS, *SMS_AND_REVIEWS, *MAILBOXES}
    assert channels["telegram"].api_base == "http://127.0.0.1:8123/fake/telegram"
    assert channels["whatsapp"].graph_base == "http://127.0.0.1:8123/fake/whatsapp"
    assert channels["widget"].allowed_origins == ["http://127.0.0.1:8123"]
    assert channels["smsru"].api_base == "http://127.0.0.1:8123/fake/smsru"
    mailbox = channels["email"]  # the fake mail server's, on loopback ports of its own, found again by the fakes registry
    assert (mailbox.address, mailbox.imap_host, mailbox.smtp_host) == ("support@shop.example", "127.0.0.1", "127.0.0.1")
    assert fake_url_in("email", plain_config(mailbox)) == f"imap://127.0.0.1:{mailbox.imap_port}"


async def test_demo_marks_a_few_customers_vip(settings) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from okno.demo import VIP_EVERY, seed_demo
    from okno.kit.db import create_database
    from okno.models import Customer

    from tests.conftest import _empty_all_tables

    await _empty_all_tables(settings.database_url)
    assert await seed_demo(settings, customers=60)
    db = create_database(settings.resolved_database_url())
    try:
        async with db.reading() as session:
            tiers = [attrs.get("vip_tier") for attrs in await session.scalars(select(Customer.attributes))]
    finally:
        await db.dispose()
    assert tiers.count("gold") == 60 // VIP_EVERY


async def test_seeded_customers_are_filed_for_the_matcher(ctx) -> None:
    """The matcher finds demo customers as it finds live ones: every seeded profile is on file
    under the keys the code derives, so a later re-index has nothing to do."""
    await seed_demo(ctx.settings, customers=60)
    async with ctx.db.reading() as session:
        customers = set(await session.scalars(select(Customer.id)))
        filed = set(await session.scalars(select(MatchProfile.customer_id)))
        blocked = set(await session.scalars(select(MatchBlock.customer_id)))
    assert len(customers) == 60 and filed == blocked == customers
    assert (await reindex_profiles(ctx.db)).refiled == 0


async def test_the_demo_desk_is_staffed_and_runs_its_service_process(client, ctx) -> None:
    """A new conversation in the demo is routed, tagged, put on an SLA clock and assigned to an
    operator who is online, and canned answers are there to use — as at a real desk."""
    from okno.models import AutomationRule, CannedAnswer, RoutingRule, SlaPolicy
    from tests.factories import post_inbound

    await seed_demo(ctx.settings, customers=5)
    async with ctx.db.reading() as session:
        crm = await session.scalar(select(Channel).where(Channel.name == "CRM (1С)"))
        config = open_config(ctx.box, crm)
        online = set(await session.scalars(select(Operator.email).where(Operator.presence == "online")))
        assert await session.scalar(select(func.count()).select_from(CannedAnswer)) >= 4
        assert await session.scalar(select(SlaPolicy.name).where(SlaPolicy.is_default.is_(True))) is not None
        assert await session.scalar(select(func.count()).select_from(RoutingRule)) >= 2
        assert await session.scalar(select(func.count()).select_from(AutomationRule)) >= 1
    assert {"ivan@okno.local", "maria@okno.local"} <= online and DEMO_ADMIN_EMAIL not in online

    channel = {"id": crm.id, "secret": config.secret.get_secret_value()}
    sent = await post_inbound(client, channel, {"message_id": "demo-new-1", "from": {"phone": "+79995550101", "name": "Новый Клиент"}, "text": "Хочу вернуть товар, он с браком"})
    assert sent.status_code == 200, sent.text
    await ctx.settle()
    headers = await login(client, email=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD)
    [customer] = (await client.get("/api/v1/customers", params={"identity": "phone:+79995550101"}, headers=headers)).json()["items"]
    [conversation] = (await client.get("/api/v1/conversations", params={"customer_id": customer["id"]}, headers=headers)).json()["items"]
    assert conversation["priority"] == 2 and "возврат" in conversation["tags"]  # the routing rule
    assert conversation["sla_due_at"] is not None  # the default policy's first-response clock
    async with ctx.db.reading() as session:
        assignee = await session.get(Operator, conversation["assignee_id"]) if conversation["assignee_id"] else None
    assert assignee is not None and assignee.email in online  # assigned to someone at work
