"""``Database.transaction``: commits and closes on success (then its callbacks run), rolls back
and closes when its body or its commit fails, and leaves the writer free either way."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from okno.kit.db_wake import call_after_commit
from okno.models import Channel


async def _names(ctx) -> list[str]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return sorted((await session.scalars(select(Channel.name).where(Channel.name.like("tx-%")))).all())


async def test_a_transaction_commits_then_closes_its_session_and_runs_its_callbacks(ctx) -> None:  # noqa: ANN001
    ran: list[bool] = []
    async with ctx.db.transaction() as session:
        channel = Channel(kind="api", name="tx-kept", config_sealed="")
        session.add(channel)
        call_after_commit(session, lambda: ran.append(session.in_transaction()))
    assert ran == [False]  # after the commit
    assert inspect(channel).detached and channel.id is not None and channel.name == "tx-kept"  # closed, values kept
    assert await _names(ctx) == ["tx-kept"]


async def test_an_error_in_the_body_rolls_back_and_closes(ctx) -> None:  # noqa: ANN001
    ran: list[bool] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with ctx.db.transaction() as session:
            session.add(Channel(kind="api", name="tx-gone", config_sealed=""))
            await session.flush()
            call_after_commit(session, lambda: ran.append(True))
            raise RuntimeError("boom")
    assert ran == [] and not session.in_transaction() and not session.identity_map
    async with ctx.db.transaction() as session:  # the writer is free again
        session.add(Channel(kind="api", name="tx-after", config_sealed=""))
    assert await _names(ctx) == ["tx-after"]


async def test_a_commit_that_fails_rolls_back_and_closes(ctx) -> None:  # noqa: ANN001
    ran: list[bool] = []
    with pytest.raises(IntegrityError):
        async with ctx.db.transaction() as session:
            session.add(Channel(kind="api", name="tx-first", config_sealed=""))
            await session.flush()
            session.add(Channel(kind="api", name=None, config_sealed=""))  # NOT NULL: the commit's own flush fails
            call_after_commit(session, lambda: ran.append(True))
    assert ran == [] and not session.in_transaction()
    async with ctx.db.reading() as reading:
        assert await reading.scalar(select(func.count()).select_from(Channel).where(Channel.name == "tx-first")) == 0
    async with ctx.db.transaction() as session:
        session.add(Channel(kind="api", name="tx-after", config_sealed=""))
    assert await _names(ctx) == ["tx-after"]
