"""Workers to wake, and in-process caches to refresh, once the current transaction commits
(both dropped with a rollback)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession


def request_wake(session: AsyncSession, worker: str) -> None:
    session.info.setdefault("wake", set()).add(worker)


def take_wakes(session: AsyncSession) -> set[str]:
    return session.info.pop("wake", set())


def call_after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """``callback`` runs once the transaction has committed (e.g. dropping a cached channel)."""
    session.info.setdefault("after_commit", []).append(callback)


def take_after_commit(session: AsyncSession) -> list[Callable[[], None]]:
    return session.info.pop("after_commit", [])
