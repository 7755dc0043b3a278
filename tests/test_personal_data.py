"""Personal data at rest: phones and e-mails that came in through the real webhook path are in
no database file or column in plaintext, lookups by key still find their customer, a key
rotation re-seals everything, and the files are owner-only."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from okno.customers.identities import normalize_identity
from okno.customers.identity_index import is_key
from okno.customers.key_rotation import old_values, rotate
from okno.demo import _raw_email, _raw_phone, _Person
from okno.kit import pii
from okno.kit.db import Base, create_database
from okno.kit.time import utcnow
from okno.models import Customer, Identity, InboundItem, MatchProfile, ReportSurvey
from tests.conftest import TEST_KEY
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by, touch

PEOPLE = [_Person("Ольга", "Сидорова", True), _Person("Иван", "Петров", False), _Person("Anna", "Smith", True)]


def _demo_like(seed: int) -> list[dict]:
    """Senders as the demo invents them: its phone formats and e-mail addresses."""
    rng = random.Random(seed)
    return [
        {"phone": _raw_phone(rng), "email": _raw_email(rng, person), "name": f"{person.first} {person.last}", "external_id": f"crm-{seed}-{i}"}
        for i, person in enumerate(PEOPLE)
    ]


def _needles(senders: list[dict]) -> list[str]:
    """Every way a sender's phone or e-mail could be written down: as sent and normalised."""
    found = []
    for sender in senders:
        phone, email = normalize_identity("phone", sender["phone"]).value, normalize_identity("email", sender["email"]).value
        found += [sender["phone"], phone, phone.lstrip("+"), phone[2:], sender["email"], email]
    return found


async def _ingest(client, ctx, senders: list[dict]) -> dict:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for sender in senders:  # the demo's texts carry no phone or e-mail
        await touch(client, ctx, channel, sender, text="Здравствуйте, где мой заказ №123456?")
    first = await customer_by(client, headers, f"phone:{senders[0]['phone']}")
    patch = {"birth_date": "1990-04-01", "address": "Невский проспект, 1", "id_number": "123-456-789 01", "vip_tier": "gold"}
    response = await client.patch(f"/api/v1/customers/{first['id']}/attributes", json=patch, headers=headers)
    assert response.status_code == 200, response.text
    await ctx.settle()
    return headers


async def _plaintext_columns(ctx, needles: list[str]) -> list[str]:  # noqa: ANN001
    """``table.column`` of every stored value (cast to text) that contains one of ``needles``."""
    hits = []
    async with ctx.db.reading() as session:
        quote = session.bind.dialect.identifier_preparer.quote
        for table in Base.metadata.sorted_tables:
            for column in table.columns:  # as stored: no column type opens anything
                name = quote(column.name)
                stored = f"CAST({name} AS TEXT)" if session.bind.dialect.name == "postgresql" else name
                for value in (await session.execute(text(f"SELECT {stored} FROM {table.name} WHERE {name} IS NOT NULL"))).scalars():
                    shown = value.decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else str(value)
                    if any(n in shown for n in needles):
                        hits.append(f"{table.name}.{column.name}")
    return sorted(set(hits))


async def test_demo_like_customers_leave_no_phone_or_email_in_any_column(client, ctx) -> None:  # noqa: ANN001
    senders = _demo_like(1)
    await _ingest(client, ctx, senders)
    assert await _plaintext_columns(ctx, _needles(senders)) == []
    async with ctx.db.reading() as session:  # it was all stored: sealed, and read back in plain
        assert len((await session.scalars(select(Identity))).all()) == 3 * len(senders)
        assert len((await session.scalars(select(InboundItem.raw))).all()) == len(senders)
        first = (await session.scalars(select(Customer).join(Identity).where(is_key("email", normalize_identity("email", senders[0]["email"]).value)))).one()
        assert first.attributes["birth_date"] == "1990-04-01" and first.attributes["vip_tier"] == "gold"
        assert (await session.get(MatchProfile, first.id)).fields["phones"] == [normalize_identity("phone", senders[0]["phone"]).value]


async def test_no_phone_or_email_in_the_sqlite_file_or_its_wal(client, ctx, settings) -> None:  # noqa: ANN001
    if not settings.is_sqlite:
        pytest.skip("the file scan is SQLite's (PostgreSQL: the column scan above)")
    senders = _demo_like(2)
    await _ingest(client, ctx, senders)
    database = Path(make_url(settings.database_url).database)
    files = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    assert len(files) == 2  # the WAL holds this test's pages (no checkpoint ran)
    stored = b"".join(p.read_bytes() for p in files)
    found = [n for n in _needles(senders) if n.encode() in stored]
    assert found == []
    assert "Здравствуйте, где мой заказ".encode() in stored  # the scan does see plaintext that is there


async def test_lookup_by_a_key_finds_the_same_customer_in_any_format(client, ctx) -> None:  # noqa: ANN001
    senders = _demo_like(3)
    headers = await _ingest(client, ctx, senders)
    phone = normalize_identity("phone", senders[1]["phone"]).value
    by_phone = await customer_by(client, headers, f"phone:8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}")
    by_email = await customer_by(client, headers, f"email:{senders[1]['email'].upper()}")
    assert by_phone["id"] == by_email["id"] and by_phone["name"] == senders[1]["name"]
    assert {(i["kind"], i["value"]) for i in by_phone["identities"]} >= {("phone", phone)}
    # a second touch from the same phone in another format lands on the same customer
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": f"+7 {phone[2:5]} {phone[5:8]} {phone[8:]}", "name": ""})
    assert (await customer_by(client, headers, f"phone:{phone}"))["id"] == by_phone["id"]
    async with ctx.db.reading() as session:
        assert len((await session.scalars(select(Customer.id))).all()) == len(senders)


async def test_rotation_reseals_everything_and_the_old_key_is_no_longer_needed(client, ctx) -> None:  # noqa: ANN001
    senders = _demo_like(4)
    headers = await _ingest(client, ctx, senders)
    before = (await customer_by(client, headers, f"email:{senders[2]['email']}"))
    async with ctx.db.transaction() as session:  # a table keyed by two columns (survey answers in the reports)
        session.add_all([
            ReportSurvey(survey_id=1, conversation_id=n, kind="csat", customer_id=before["id"], score=5, comment=f"спасибо {n}", period_at=utcnow()) for n in range(5)
        ])
    new_key = Fernet.generate_key().decode()
    try:
        pii.use_keys([new_key, TEST_KEY])
        async with ctx.db.reading() as session:
            left = await old_values(session)
        assert left["identities.value"] == 3 * len(senders) and left["inbound_items.raw"] == len(senders)
        assert left["customers.attributes"] == 1 and left["report_surveys.comment"] == 5
        # mid-rotation (nothing re-sealed yet) a lookup still finds the key under the old index
        assert (await customer_by(client, headers, f"email:{senders[2]['email']}"))["id"] == before["id"]

        report = await rotate(ctx.db, batch=2)
        assert report.resealed["identities.value"] == 3 * len(senders) and report.refiled == len(senders)
        assert report.resealed["report_surveys.comment"] == 5  # paged by its two-column key, batch 2
        again = await rotate(ctx.db, batch=2)  # re-running finds nothing left to do
        assert again.resealed == {} and again.refiled == 0

        pii.use_keys([new_key])  # the old key removed
        async with ctx.db.reading() as session:
            assert await old_values(session) == {}
            for table in Base.metadata.sorted_tables:  # every row opens with the new key alone
                (await session.execute(select(table))).all()
        after = await customer_by(client, headers, f"email:{senders[2]['email']}")
        assert after["id"] == before["id"] and after["identities"] == before["identities"]
        async with ctx.db.reading() as session:  # the matcher finds candidates under the re-filed keys
            from okno.customers.matching.realtime import candidates_for

            profile = await session.get(MatchProfile, before["id"])
            assert await candidates_for(session, profile.fields) == [before["id"]]
        pii.use_keys([TEST_KEY])
        async with ctx.db.reading() as session:
            with pytest.raises(pii.UnreadablePersonalData):
                (await session.scalars(select(Identity.value))).all()
    finally:
        pii.use_keys([TEST_KEY])


def test_a_sealed_column_refuses_a_comparison_with_a_value() -> None:
    with pytest.raises(TypeError, match="blind index"):
        Identity.value == "+79161234567"  # noqa: B015


async def test_data_folder_database_and_files_are_owner_only(tmp_path: Path) -> None:
    from okno.config import Settings
    from okno.kit.blobs import BlobStore

    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    settings.fernet_keys()  # creates the folder and secret.key
    db = create_database(settings.resolved_database_url())
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x)"))
        async with db.reading() as session:
            await session.execute(text("SELECT * FROM t"))
            companions = [data / "okno.db-wal", data / "okno.db-shm"]
            assert all(p.exists() for p in companions) and [mode(p) for p in companions] == [0o600, 0o600]
        stored = BlobStore(settings.resolved_files_dir()).put(b"a file")
    finally:
        await db.dispose()
    assert mode(data) == 0o700 and mode(data / "secret.key") == 0o600 and mode(data / "okno.db") == 0o600
    files = settings.resolved_files_dir()
    blob = files / stored.key
    assert mode(blob) == 0o600 and [mode(p) for p in (files, blob.parent.parent, blob.parent)] == [0o700] * 3


async def test_plain_updates_and_deletes_keep_the_blind_index_true(client, ctx) -> None:  # noqa: ANN001
    """What erase and anonymisation do with ordinary ORM writes: a changed value is found under
    its new index only, a deleted row under none."""
    senders = _demo_like(5)
    headers = await _ingest(client, ctx, senders)
    phone = normalize_identity("phone", senders[0]["phone"]).value
    customer = await customer_by(client, headers, f"phone:{phone}")
    async with ctx.db.transaction() as session:
        row = (await session.scalars(select(Identity).where(is_key("phone", phone)))).one()
        row.value = "+70000000000"
    async with ctx.db.transaction() as session:
        assert (await session.scalar(select(Identity.customer_id).where(is_key("phone", "+70000000000")))) == customer["id"]
        assert (await session.scalar(select(Identity.id).where(is_key("phone", phone)))) is None
        await session.delete((await session.scalars(select(Identity).where(is_key("phone", "+70000000000")))).one())
    async with ctx.db.reading() as session:
        assert (await session.scalar(select(Identity.id).where(is_key("phone", "+70000000000")))) is None
