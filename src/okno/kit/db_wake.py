"""Workers to wake once the current transaction commits (dropped with a rollback)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


def request_wake(session: AsyncSession, worker: str) -> None:
    session.info.setdefault("wake", set()).add(worker)


def take_wakes(session: AsyncSession) -> set[str]:
    return session.info.pop("wake", set())
