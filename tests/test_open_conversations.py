"""A conversation the touch path opens (``threading._open``: driver tuples on SQLite, SQLAlchemy's
insert on PostgreSQL) is the row the ORM's insert of the same values stores: every column, the
defaults of those it does not name included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from okno.conversations.threading import Touch, thread_touches
from okno.models import Conversation, Customer


async def test_an_opened_conversation_is_the_orms_row(ctx) -> None:  # noqa: ANN001
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    async with ctx.db.transaction() as session:
        customers = [Customer(name="a"), Customer(name="b")]
        session.add_all(customers)
        await session.flush()
        first, second = (c.id for c in customers)
        refs = await thread_touches(
            session,
            [
                Touch(customer_id=first, channel_id=None, at=at),  # type: ignore[arg-type]
                Touch(customer_id=second, channel_id=None, at=at, thread_key="<root@mail>"),  # type: ignore[arg-type]
                Touch(customer_id=first, channel_id=None, at=at + timedelta(seconds=5)),  # type: ignore[arg-type]
            ],
        )
        assert refs[0] is refs[2] and refs[0].is_new and refs[1].is_new
        model = Conversation(customer_id=first, channel_id=None, created_at=at, updated_at=at, last_message_at=at, last_inbound_at=at)
        session.add(model)
        await session.flush()
        reference = model.id
    columns = [c for c in Conversation.__table__.c if c.name not in {"id", "customer_id", "thread_key", "updated_at", "last_message_at", "last_inbound_at"}]
    async with ctx.db.reading() as session:
        rows = {row.id: row for row in (await session.execute(select(Conversation.__table__))).all()}
    opened, threaded, orm = rows[refs[0].id], rows[refs[1].id], rows[reference]
    assert [opened._mapping[c.name] for c in columns] == [orm._mapping[c.name] for c in columns]
    assert (opened.customer_id, opened.thread_key, threaded.customer_id, threaded.thread_key) == (first, None, second, "<root@mail>")
    later = at + timedelta(seconds=5)  # the batch's last touch of each
    assert (opened.updated_at, opened.last_message_at, opened.last_inbound_at, opened.created_at) == (later, later, later, at)
    assert (threaded.updated_at, threaded.last_message_at, threaded.created_at) == (at, at, at)
    assert (opened.tags, opened.required_skills, opened.medium, opened.status, opened.priority) == ([], [], "chat", "open", 1)
