"""Data-subject requests through the real API: export, erase (and what an erase leaves), on both
databases; on SQLite the database file and its WAL are scanned byte by byte."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import make_url

from okno.customers.identity_index import is_key
from okno.customers.merge import merge_customers
from okno.kit.db import checkpoint_wal
from okno.models import (
    AuditEntry,
    Conversation,
    Customer,
    Identity,
    InboundItem,
    MatchBlock,
    MatchProfile,
    MatchTerm,
    Message,
    OutboxEvent,
    StoredFile,
    TimelineEvent,
)
from tests.channels.test_widget import widget  # noqa: F401  (a widget channel served on loopback)
from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound
from tests.files.helpers import send_files, tiny_png

PHONE = "+7 903 555-01-01"
PHONE_KEY = "+79035550101"
NAME = "Зинаида Стирательная"
SECRET = "мой заказ номер Щ-77-секрет"
EMAIL = "zinaida.erase@example.org"


async def _customer_writes(client, ctx, channel, *, message_id: str, text_: str, sender: dict) -> dict:  # noqa: ANN001
    response = await post_inbound(client, channel, {"message_id": message_id, "from": sender, "text": text_})
    assert response.status_code == 200, response.text
    await ctx.settle()


async def _setup(client, ctx) -> tuple[dict, dict, int, int]:  # noqa: ANN001
    """A customer who wrote twice, got a reply with a file, and has attributes; returns
    (admin headers, channel, customer id, conversation id)."""
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await _customer_writes(client, ctx, channel, message_id="m1", text_=SECRET, sender={"phone": PHONE, "name": NAME})
    await _customer_writes(client, ctx, channel, message_id="m2", text_="и ещё: " + SECRET, sender={"phone": PHONE, "email": EMAIL})
    customer = (await client.get("/api/v1/customers", params={"identity": f"phone:{PHONE}"}, headers=headers)).json()["items"][0]
    patched = await client.patch(f"/api/v1/customers/{customer['id']}/attributes", json={"city": "Стирск", "birth_date": "1980-02-03"}, headers=headers)
    assert patched.status_code == 200, patched.text
    conversation = (await client.get("/api/v1/conversations", params={"customer_id": customer["id"]}, headers=headers)).json()["items"][0]
    sent = await send_files(client, headers, conversation["id"], [("счёт-зинаиды.png", tiny_png(3, 5), "image/png")], text="Зинаида, ваш счёт")
    assert sent.status_code in (200, 201), sent.text
    await ctx.settle()
    return headers, channel, customer["id"], conversation["id"]


async def test_export_holds_profile_identities_messages_timeline_and_attachments(client, ctx) -> None:
    headers, _, customer_id, conversation_id = await _setup(client, ctx)

    response = await client.get(f"/api/v1/customers/{customer_id}/export", headers=headers)

    assert response.status_code == 200, response.text
    document = response.json()
    assert document["customer"]["id"] == customer_id and document["customer"]["name"] == NAME
    assert document["customer"]["attributes"]["city"] == "Стирск"
    assert {(i["kind"], i["value"]) for i in document["identities"]} >= {("phone", PHONE_KEY), ("email", EMAIL)}
    assert [c["id"] for c in document["conversations"]] == [conversation_id]
    texts = [m["text"] for m in document["messages"]]
    assert texts[:2] == [SECRET, "и ещё: " + SECRET] and "Зинаида, ваш счёт" in texts
    assert sum(e["kind"] == "message.received" for e in document["timeline"]) == 2
    [attachment] = document["attachments"]
    assert attachment["name"] == "счёт-зинаиды.png" and attachment["stored_by_okno"] is True
    download = await client.get(attachment["download"], headers=headers)
    assert download.status_code == 200 and download.content == tiny_png(3, 5)
    async with ctx.db.reading() as session:
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.exported"))).all()
    assert [(a.subject_id, a.data["counts"]["messages"]) for a in audits] == [(str(customer_id), 3)]


async def test_only_admins_erase_and_supervisors_may_export(client, ctx) -> None:
    headers, _, customer_id, _ = await _setup(client, ctx)
    operator = await login(client, email=(await make_operator(ctx, role="operator"))["email"])
    supervisor = await login(client, email=(await make_operator(ctx, role="supervisor"))["email"])
    assert (await client.get(f"/api/v1/customers/{customer_id}/export", headers=operator)).status_code == 403
    assert (await client.get(f"/api/v1/customers/{customer_id}/export", headers=supervisor)).status_code == 200
    for who in (operator, supervisor):
        refused = await client.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "просьба"}, headers=who)
        assert refused.status_code == 403
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        bad = await client.post(f"/api/v1/customers/{customer_id}/erase", json=body, headers=headers)
        assert bad.status_code == 422, (body, bad.text)
    missing = await client.post("/api/v1/customers/987654/erase", json={"reason": "x"}, headers=headers)
    assert missing.status_code == 404
    for bad_id, status in ((0, 422), (-1, 422), (2**63, 404)):  # past 64 bits no row can have that id (the input guard)
        assert (await client.post(f"/api/v1/customers/{bad_id}/erase", json={"reason": "x"}, headers=headers)).status_code == status
        assert (await client.get(f"/api/v1/customers/{bad_id}/export", headers=headers)).status_code == status
    async with ctx.db.reading() as session:
        assert (await session.get(Customer, customer_id)).name == NAME  # nothing was erased by the refusals


async def test_erase_leaves_no_trace_but_reports_still_count_and_the_phone_is_a_stranger_again(client, ctx, settings) -> None:
    headers, channel, customer_id, conversation_id = await _setup(client, ctx)
    async with ctx.db.reading() as session:
        conversations_before = await session.scalar(select(func.count()).select_from(Conversation))
        files = (await session.scalars(select(StoredFile))).all()
    [stored] = files
    blob = ctx.files.blobs.root / stored.storage_key
    assert blob.exists()
    if settings.is_sqlite:  # the scan below finds what is there (names and texts are never encrypted)
        await checkpoint_wal(ctx.db)  # older data sits in the database file itself, not only in the WAL
        assert _in_files(settings.resolved_database_url(), [NAME, SECRET, "Зинаида, ваш счёт"]) == {NAME, SECRET, "Зинаида, ваш счёт"}
    figures_before = _figures((await client.get("/ui/supervisor/data", headers=headers)).json())
    assert figures_before["queues"]["unassigned"] + figures_before["queues"]["assigned"] == 1 and sum(figures_before["volume"]["api"]) == 2

    response = await client.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "запрос №17 по 152-ФЗ"}, headers=headers)

    assert response.status_code == 200, response.text
    erased = response.json()
    assert erased["customer_id"] == customer_id and erased["counts"]["messages"] == 3 and erased["counts"]["raw_items"] == 2
    assert not blob.exists()
    await _assert_no_trace(ctx, customer_id)
    if settings.is_sqlite:  # no copy in the database file or its WAL (before the phone writes again)
        assert _in_files(settings.resolved_database_url(), [PHONE_KEY, NAME, SECRET, EMAIL, "Стирск", "Зинаида, ваш счёт"]) == set()

    # reports still count his conversation: the supervisor's figures and a plain count
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == conversations_before
        tombstone = await session.get(Customer, customer_id)
        assert tombstone.erased_at is not None and tombstone.name == "" and tombstone.attributes == {}
        last = await session.scalar(select(TimelineEvent).where(TimelineEvent.customer_id == customer_id).order_by(TimelineEvent.id.desc()).limit(1))
        assert last.kind == "customer.erased" and last.actor_type == "operator" and last.data == {"customers": [customer_id]}
    figures_after = _figures((await client.get("/ui/supervisor/data", headers=headers)).json())
    assert figures_after["volume"] == figures_before["volume"]
    # nobody is left to answer: the open conversation is closed, out of every queue, by the eraser
    assert figures_after["queues"]["unassigned"] + figures_after["queues"]["assigned"] == 0
    async with ctx.db.reading() as session:
        closed = await session.get(Conversation, conversation_id)
        change = await session.scalar(
            select(TimelineEvent).where(TimelineEvent.kind == "conversation.status_changed", TimelineEvent.customer_id == customer_id)
            .order_by(TimelineEvent.id.desc()).limit(1)
        )
    assert closed.status == "closed" and erased["counts"]["conversations_closed"] == 1
    assert change is not None and change.actor_id is not None and change.data["comment"] == "customer erased"
    page = await client.get(f"/ui/conversations/{conversation_id}", headers=headers)  # the operator's view of the blank conversation
    assert page.status_code == 200 and NAME not in page.text and SECRET not in page.text and "счёт-зинаиды" not in page.text

    # the same phone writing again is a stranger: a new customer, a new conversation
    await _customer_writes(client, ctx, channel, message_id="m3", text_="снова я", sender={"phone": PHONE})
    found = (await client.get("/api/v1/customers", params={"identity": f"phone:{PHONE}"}, headers=headers)).json()["items"]
    assert len(found) == 1 and found[0]["id"] != customer_id
    conversations = (await client.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=headers)).json()["items"]
    assert [c["id"] for c in conversations] != [conversation_id] and len(conversations) == 1

    async with ctx.db.reading() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == str(customer_id)).order_by(AuditEntry.id)))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.erased"))
    assert "customer.erased" in actions and entry.data["reason"] == "запрос №17 по 152-ФЗ" and entry.data["again"] is False

    # erasing again is allowed, finds nothing new and leaves the tombstone's erase time alone
    again = await client.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "ещё раз"}, headers=headers)
    assert again.status_code == 200 and again.json()["counts"]["messages"] == 0 and again.json()["counts"]["identities"] == 0
    async with ctx.db.reading() as session:
        assert (await session.get(Customer, customer_id)).erased_at == tombstone.erased_at



async def test_erasing_a_survivor_erases_the_profiles_merged_into_it(client, ctx) -> None:
    headers, channel, customer_id, _ = await _setup(client, ctx)
    await _customer_writes(client, ctx, channel, message_id="other-1", text_="второй профиль: " + SECRET, sender={"email": "zina.second@example.org", "name": "Зина С."})
    second = (await client.get("/api/v1/customers", params={"identity": "email:zina.second@example.org"}, headers=headers)).json()["items"][0]
    async with ctx.db.transaction() as session:
        await merge_customers(session, survivor_id=customer_id, merged_id=second["id"], actor_id=None, reason="одна и та же Зинаида")

    # asking by the merged-away id exports and erases the whole person
    exported = (await client.get(f"/api/v1/customers/{second['id']}/export", headers=headers)).json()
    assert exported["customer"]["id"] == customer_id and [p["name"] for p in exported["merged_profiles"]] == ["Зина С."]
    response = await client.post(f"/api/v1/customers/{second['id']}/erase", json={"reason": "запрос"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["customers"] == sorted([customer_id, second["id"]])
    await _assert_no_trace(ctx, customer_id)
    async with ctx.db.reading() as session:
        merged = await session.get(Customer, second["id"])
    assert merged.name == "" and merged.erased_at is not None and merged.merged_into_id == customer_id
    assert (await client.get(f"/api/v1/customers/{customer_id}/merges", headers=headers)).json()["items"] == []


async def _assert_no_trace(ctx, customer_id: int) -> None:  # noqa: ANN001
    words = [PHONE_KEY, NAME, "Зинаида", SECRET, "Щ-77", EMAIL, "Стирск", "1980-02-03"]
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(Identity).where(or_(is_key("phone", PHONE_KEY), is_key("email", EMAIL))))).all() == []
        for column in (Message.text, Message.html):
            for word in words:
                assert (await session.scalars(select(Message.id).where(column.contains(word)))).all() == [], (column, word)
        raws = (await session.scalars(select(InboundItem.raw))).all()  # sealed at rest: compared once opened
        assert not [word for word in words for raw in raws if word in (raw or "")]
        messages = (await session.scalars(select(Message))).all()
        old = [m for m in messages if m.customer_id == customer_id]
        assert old and all(m.text == "" and m.attachments == [] and m.redacted_at is not None for m in old)
        documents = [
            *(await session.scalars(select(TimelineEvent.data))).all(),
            *(await session.scalars(select(InboundItem.item))).all(),
            *(await session.scalars(select(OutboxEvent.payload))).all(),
            *(await session.scalars(select(MatchProfile.fields))).all(),
            *(await session.scalars(select(MatchTerm.value))).all(),
            *(await session.scalars(select(MatchBlock.key))).all(),
            *(await session.scalars(select(Customer.attributes))).all(),
            *(await session.scalars(select(Customer.name))).all(),
            *(await session.scalars(select(StoredFile.filename))).all(),
        ]
        text_of_all = repr(documents).lower()
        for word in [*words, "zinaida", "стирательная", "stiratelnaia"]:
            assert word.lower() not in text_of_all, word


def _in_files(url: str, words: list[str]) -> set[str]:
    """Which of ``words`` (UTF-8) occur anywhere in the SQLite database file or its WAL."""
    database = Path(make_url(url).database)
    content = b"".join(p.read_bytes() for p in (database, database.with_name(database.name + "-wal")) if p.exists())
    return {word for word in words if word.encode() in content}


def _figures(data: dict) -> dict:
    return {"queues": data["queues"], "volume": data["volume"]}


async def test_sqlite_connections_zero_freed_space(ctx, settings) -> None:
    if not settings.is_sqlite:
        return
    async with ctx.db.reading() as session:
        assert await session.scalar(text("PRAGMA secure_delete")) == 1
    async with ctx.db.transaction() as session:
        assert await session.scalar(text("PRAGMA secure_delete")) == 1


async def test_erasing_a_widget_visitor_empties_his_stream_and_raw_items(widget, ctx) -> None:  # noqa: F811
    import httpx
    import orjson

    from okno.models import VisitorEvent
    from tests.channels.test_widget import _frame, _session, _socket

    session = await _session(widget)
    words = "Виджет-Зинаида пишет про адрес Ленина 5"
    async with _socket(widget, session["token"]) as ws:
        await ws.send(orjson.dumps({"type": "message", "client_id": "c-1", "text": words}).decode())
        await _frame(ws, "ack")
    await ctx.settle()
    async with httpx.AsyncClient(base_url=widget["base"]) as http:
        customer = (await http.get("/api/v1/customers", params={"identity": f"web:{session['visitor_id']}"}, headers=widget["headers"])).json()["items"][0]
        erased = await http.post(f"/api/v1/customers/{customer['id']}/erase", json={"reason": "запрос с сайта"}, headers=widget["headers"])
    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["visitor_events"] == 1 and erased.json()["counts"]["raw_items"] == 1
    async with ctx.db.reading() as db:
        events = (await db.scalars(select(VisitorEvent))).all()
        raws = (await db.scalars(select(InboundItem))).all()
    assert [e.seq for e in events] == [1] and words not in repr([e.payload for e in events])
    assert all(r.raw == "" and r.item == {"redacted": True} for r in raws)


async def test_a_file_someone_else_was_sent_too_keeps_its_bytes(client, ctx) -> None:
    headers, channel, customer_id, _ = await _setup(client, ctx)
    await _customer_writes(client, ctx, channel, message_id="other-2", text_="мне тоже счёт", sender={"phone": "+79035550202"})
    other = (await client.get("/api/v1/customers", params={"identity": "phone:+79035550202"}, headers=headers)).json()["items"][0]
    conversation = (await client.get("/api/v1/conversations", params={"customer_id": other["id"]}, headers=headers)).json()["items"][0]
    sent = await send_files(client, headers, conversation["id"], [("тот-же-счёт.png", tiny_png(3, 5), "image/png")])  # the same bytes
    assert sent.status_code in (200, 201), sent.text
    await ctx.settle()

    erased = await client.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "запрос"}, headers=headers)

    assert erased.status_code == 200 and erased.json()["counts"]["files"] == 1
    async with ctx.db.reading() as session:
        [kept] = (await session.scalars(select(StoredFile))).all()
    assert kept.filename == "тот-же-счёт.png" and (ctx.files.blobs.root / kept.storage_key).exists()
    message = next(m for m in (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"] if m["attachments"])
    assert (await client.get(f"/api/v1/messages/{message['id']}/attachments/0", headers=headers)).content == tiny_png(3, 5)
