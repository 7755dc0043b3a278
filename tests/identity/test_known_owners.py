"""The intake's remembered identity owners (okno.customers.known_owners) never route a message by
a stale owner: a change made through another engine (as another process would: its own
connections, its own memory) is seen by the next batch, and what a rolled-back batch read is
never remembered."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select, text

from okno.customers import known_owners as known_module
from okno.customers.identities import IdentityKey
from okno.customers.resolution import Sender, _remembered_owners_of, owners_of, resolve_senders
from okno.kit.db import create_oneoff_engine
from okno.models import Customer, Message
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by, touch

PHONE = "+79161110077"
KEY = IdentityKey("phone", PHONE)


def _remembered(ctx) -> dict:  # noqa: ANN001
    known = known_module._KNOWN.get(ctx.db.writer.sync_engine)  # noqa: SLF001
    return known.owners if known is not None else {}


async def _last_message_customer(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(Message.customer_id).order_by(Message.id.desc()).limit(1))


async def _elsewhere(settings, *statements: str) -> None:  # noqa: ANN001
    """Runs ``statements`` in one transaction of an engine of their own (another process's)."""
    engine = create_oneoff_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _remembered_anna(client, ctx):  # noqa: ANN001, ANN202
    """A customer whose phone the intake remembers (looked up by a committed batch)."""
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": PHONE, "name": "Анна"}, "first")
    await touch(client, ctx, channel, {"phone": PHONE}, "second")  # looks the phone up: remembered at commit
    anna = (await customer_by(client, headers, f"phone:{PHONE}"))["id"]
    assert _remembered(ctx).get(KEY) == (anna, "Анна")
    await touch(client, ctx, channel, {"phone": PHONE}, "third")  # taken from memory
    assert await _last_message_customer(ctx) == anna
    return headers, channel, anna


async def test_the_keys_a_batch_files_are_remembered_once_it_commits(client, ctx, settings) -> None:
    """A new named customer's key and a returning customer's new key are remembered with the owner
    the batch filed them under; an unnamed customer's key is not, nor the keys of a customer whose
    empty name the batch filled. A change by another process still routes the next message."""
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": PHONE, "name": "Анна"}, "first")
    anna = (await customer_by(client, headers, f"phone:{PHONE}"))["id"]
    assert _remembered(ctx).get(KEY) == (anna, "Анна")
    await touch(client, ctx, channel, {"phone": PHONE, "email": "anna@example.ru"}, "a new key")
    assert _remembered(ctx).get(IdentityKey("email", "anna@example.ru")) == (anna, "Анна")

    unnamed = IdentityKey("phone", "+79161110079")
    await touch(client, ctx, channel, {"phone": unnamed.value}, "no name")
    assert unnamed not in _remembered(ctx)
    await touch(client, ctx, channel, {"phone": unnamed.value, "email": "named@example.ru", "name": "Вера"}, "named now")
    assert unnamed not in _remembered(ctx) and IdentityKey("email", "named@example.ru") not in _remembered(ctx)
    vera = (await customer_by(client, headers, f"phone:{unnamed.value}"))["id"]
    await touch(client, ctx, channel, {"phone": unnamed.value}, "looked up again")
    assert _remembered(ctx).get(unnamed) == (vera, "Вера")

    await touch(client, ctx, channel, {"email": "boris@example.ru", "name": "Борис"}, "boris")
    boris = (await customer_by(client, headers, "email:boris@example.ru"))["id"]
    await _elsewhere(settings, f"UPDATE identities SET customer_id = {boris} WHERE customer_id = {anna} AND kind = 'phone'")
    await touch(client, ctx, channel, {"phone": PHONE}, "after the move")
    assert await _last_message_customer(ctx) == boris


async def test_an_identity_moved_by_another_process_routes_the_next_message_to_its_new_owner(client, ctx, settings) -> None:
    headers, channel, anna = await _remembered_anna(client, ctx)
    await touch(client, ctx, channel, {"email": "boris@example.ru", "name": "Борис"}, "boris")
    boris = (await customer_by(client, headers, "email:boris@example.ru"))["id"]

    await _elsewhere(settings, f"UPDATE identities SET customer_id = {boris} WHERE customer_id = {anna} AND kind = 'phone'")
    await touch(client, ctx, channel, {"phone": PHONE}, "after the move")

    assert await _last_message_customer(ctx) == boris
    assert _remembered(ctx).get(KEY) == (boris, "Борис")


async def test_a_customer_erased_by_another_process_is_not_found_again(client, ctx, settings) -> None:
    _, channel, anna = await _remembered_anna(client, ctx)

    await _elsewhere(settings, f"DELETE FROM identities WHERE customer_id = {anna}", f"DELETE FROM customers WHERE id = {anna}")
    await touch(client, ctx, channel, {"phone": PHONE, "name": "Анна"}, "after the erasure")

    newcomer = await _last_message_customer(ctx)
    assert newcomer is not None and newcomer != anna
    async with ctx.db.reading() as session:
        assert await session.scalar(select(Customer.name).where(Customer.id == newcomer)) == "Анна"


async def test_a_name_emptied_by_another_process_is_filled_by_the_next_named_message(client, ctx, settings) -> None:
    _, channel, anna = await _remembered_anna(client, ctx)

    await _elsewhere(settings, f"UPDATE customers SET name = '' WHERE id = {anna}")
    await touch(client, ctx, channel, {"phone": PHONE, "name": "Анна Петрова"}, "named again")

    async with ctx.db.reading() as session:
        assert await session.scalar(select(Customer.name).where(Customer.id == anna)) == "Анна Петрова"
    assert await _last_message_customer(ctx) == anna


async def test_what_a_rolled_back_batch_read_is_not_remembered(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    await make_api_channel(client, headers)
    channel_id = 1
    async with ctx.db.reading() as session:
        channel_id = await session.scalar(text("SELECT id FROM channels ORDER BY id LIMIT 1"))
    sender = Sender(keys=(KEY,), name="Анна", channel_id=channel_id)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with ctx.db.transaction() as session:
            first = await resolve_senders(session, [sender], remembered=True)
            assert first.customers[0].is_new
            again = await resolve_senders(session, [sender], remembered=True)  # reads the uncommitted customer
            assert again.customers[0].id == first.customers[0].id
            raise Abandoned
    assert KEY not in _remembered(ctx)
    async with ctx.db.transaction() as session:
        assert (await resolve_senders(session, [sender], remembered=True)).customers[0].is_new


async def test_the_counter_moves_with_every_change_of_an_owner_and_only_then(client, ctx, settings) -> None:
    _, channel, anna = await _remembered_anna(client, ctx)
    engine = create_oneoff_engine(settings.database_url)

    async def epoch() -> int:
        async with engine.connect() as conn:
            return await conn.scalar(text("SELECT value FROM identity_epoch"))

    try:
        start = await epoch()
        await touch(client, ctx, channel, {"phone": "+79161110078", "name": "Новый"}, "an insert moves nothing")
        await _elsewhere(settings, f"UPDATE customers SET name = 'Анна' WHERE id = {anna}")  # unchanged
        assert await epoch() == start
        await _elsewhere(settings, f"UPDATE customers SET name = 'Анна П.' WHERE id = {anna}")
        renamed = await epoch()
        assert renamed != start
        await _elsewhere(settings, f"UPDATE identities SET value_index = value_index WHERE customer_id = {anna}")
        assert await epoch() != renamed
    finally:
        await engine.dispose()


async def test_remembered_owners_are_what_the_lookup_finds(client, ctx) -> None:
    """Batches of random senders over a few keys (conflicts, new customers, returning ones): before
    each batch's writes, the remembered path's owners are exactly the lookup's, one ref per customer."""
    headers = await admin_headers(ctx, client)
    await make_api_channel(client, headers)
    async with ctx.db.reading() as session:
        channel_id = await session.scalar(text("SELECT id FROM channels ORDER BY id LIMIT 1"))
    rng = random.Random(7)
    pool = [IdentityKey("phone", f"+7916222{i:04d}") for i in range(12)] + [IdentityKey("email", f"c{i}@example.ru") for i in range(8)]
    for _ in range(25):
        senders = [
            Sender(keys=tuple(dict.fromkeys(rng.sample(pool, rng.choice((1, 1, 2))))), name=rng.choice(("", "Анна", "Борис")), channel_id=channel_id)
            for _ in range(rng.randint(1, 6))
        ]
        keys = {k for s in senders for k in s.keys}
        async with ctx.db.transaction() as session:
            plain = await owners_of(session, keys)
            remembered = await _remembered_owners_of(session, keys)
            assert {k: (r.id, r.name) for k, r in remembered.items()} == {k: (r.id, r.name) for k, r in plain.items()}
            by_customer = {}
            for ref in remembered.values():
                assert by_customer.setdefault(ref.id, ref) is ref
            await resolve_senders(session, senders, remembered=True)
    assert _remembered(ctx), "the batches' owners were remembered"


@pytest.mark.parametrize("epoch", [False, True])
def test_the_sqlite_lookup_is_what_sqlalchemy_renders(epoch: bool) -> None:
    """The driver-level lookup is ``_OWNERS`` itself, expanded as SQLAlchemy's post-compile does."""
    from sqlalchemy.dialects import sqlite

    from okno.customers import resolution

    statement = resolution._OWNERS_AND_EPOCH if epoch else resolution._OWNERS  # noqa: SLF001
    for kinds, indexes in ((1, 1), (2, 5), (3, 40)):
        rendered = statement.params(kinds=["k"] * kinds, indexes=[b"i"] * indexes).compile(
            dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}
        )
        assert resolution._owners_sqlite(kinds, indexes, epoch) == rendered.string  # noqa: SLF001
