"""Migration ``0010_pii`` on a database that holds plaintext personal data (both backends):
every value is sealed afterwards, keys are found through their blind index, the matcher's
blocking keys are blinded, and the stored rows read back as they were written."""

from __future__ import annotations


import orjson
from sqlalchemy import select, text

from okno.customers.identity_index import is_key
from okno.customers.matching.fields import filed_key
from okno.kit.db import create_database, create_oneoff_engine
from okno.kit.migrate import upgrade_to_head
from okno.models import Customer, Identity, IdentityConflict, InboundItem, MatchBlock, MatchProfile, TimelineEvent, WebhookCall
from tests.migration_steps import upgrade_to

PHONE, EMAIL = "+79035550101", "olga.sidorova@example.ru"
NOW = "2026-12-01 10:00:00.000000"



PLAINTEXT_ROWS = [
    "INSERT INTO channels (id, kind, name, config_sealed, is_active, health, created_at, updated_at) VALUES (1, 'api', 'CRM', 'x', true, 'ok', '{now}', '{now}')",
    "INSERT INTO customers (id, name, attributes, created_at, updated_at) VALUES (1, 'Ольга', '{attributes}', '{now}', '{now}')",
    "INSERT INTO customers (id, name, attributes, created_at, updated_at) VALUES (2, 'Olga', '{{}}', '{now}', '{now}')",
    "INSERT INTO identities (id, customer_id, kind, value, created_at) VALUES (1, 1, 'phone', '{phone}', '{now}')",
    "INSERT INTO identities (id, customer_id, kind, value, created_at) VALUES (2, 1, 'email', '{email}', '{now}')",
    "INSERT INTO identity_conflicts (id, kind, value, owner_id, claimant_id, status, created_at) VALUES (1, 'phone', '{phone}', 1, 2, 'open', '{now}')",
    "INSERT INTO inbound_items (id, channel_id, provider_id, item, raw, status, received_at) VALUES (1, 1, 'm1', '{item}', '{raw}', 'done', '{now}')",
    "INSERT INTO timeline_events (id, customer_id, kind, data, occurred_at) VALUES (1, 1, 'identity.conflict', '{conflict}', '{now}')",
    "INSERT INTO match_profiles (customer_id, fields, updated_at) VALUES (1, '{fields}', '{now}')",
    "INSERT INTO match_blocks (key, customer_id) VALUES ('p:{phone}', 1)",
    "INSERT INTO webhook_calls (id, customer_id, url, body, idempotency_key, status, attempts, next_attempt_at, created_at, updated_at)"
    " VALUES (1, 1, 'http://crm.test/hook', '{body}', 'k1', 'done', 1, '{now}', '{now}', '{now}')",
]


def _statements() -> list[str]:
    values = {
        "now": NOW, "phone": PHONE, "email": EMAIL,
        "attributes": orjson.dumps({"birth_date": "1990-04-01", "vip": True, "unverified_identities": [f"email:{EMAIL}"]}).decode(),
        "item": orjson.dumps({"sender": {"identities": [["phone", PHONE]]}}).decode(),
        "raw": orjson.dumps({"from": {"phone": PHONE, "email": EMAIL}}).decode(),
        "conflict": orjson.dumps({"identity": f"phone:{PHONE}"}).decode(),
        "fields": orjson.dumps({"phones": [PHONE], "emails": [EMAIL], "birth_date": "1990-04-01"}).decode(),
        "body": orjson.dumps({"identities": [{"kind": "email", "value": EMAIL}]}).decode(),
    }  # fmt: skip
    return [s.format(**values) for s in PLAINTEXT_ROWS]



async def test_0008_seals_existing_plaintext_rows(fresh_database_url: str) -> None:
    engine = create_oneoff_engine(fresh_database_url)
    try:
        await upgrade_to(engine, "0007")
        async with engine.begin() as conn:
            for statement in _statements():
                await conn.exec_driver_sql(statement)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            for table, column in (("identities", "value"), ("inbound_items", "raw"), ("inbound_items", "item"), ("timeline_events", "data"),
                                  ("match_profiles", "fields"), ("webhook_calls", "body"), ("identity_conflicts", "value"), ("customers", "attributes")):  # fmt: skip
                stored = [r[0] for r in await conn.execute(text(f"SELECT {column} FROM {table}"))]
                shown = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else orjson.dumps(v) for v in stored)
                assert PHONE.encode() not in shown and EMAIL.encode() not in shown, (table, column)
            assert [r[0] for r in await conn.execute(text("SELECT key FROM match_blocks"))] == [filed_key(f"p:{PHONE}")]
    finally:
        await engine.dispose()

    db = create_database(fresh_database_url)
    try:
        async with db.reading() as session:
            assert (await session.scalar(select(Identity.customer_id).where(is_key("phone", PHONE)))) == 1
            assert (await session.scalar(select(Identity.value).where(is_key("email", EMAIL)))) == EMAIL
            assert (await session.scalar(select(IdentityConflict.owner_id).where(is_key("phone", PHONE, IdentityConflict)))) == 1
            customer = await session.get(Customer, 1)
            assert customer.attributes == {"birth_date": "1990-04-01", "vip": True, "unverified_identities": [f"email:{EMAIL}"]}
            assert (await session.get(InboundItem, 1)).raw == orjson.dumps({"from": {"phone": PHONE, "email": EMAIL}}).decode()
            assert (await session.get(TimelineEvent, 1)).data == {"identity": f"phone:{PHONE}"}
            assert (await session.get(MatchProfile, 1)).fields["phones"] == [PHONE]
            assert EMAIL in (await session.get(WebhookCall, 1)).body
            assert (await session.scalars(select(MatchBlock.customer_id))).all() == [1]
            vip = await session.scalars(select(Customer.id).where(Customer.attributes["vip"].as_boolean().is_(True)))
            assert vip.all() == [1]  # the readable part of the document stays queryable
    finally:
        await db.dispose()
