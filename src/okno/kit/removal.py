"""Deleting what an admin created, but never what history still names.

An object conversations, messages, SLA results or other settings refer to is refused with 409
and a reason in English and Russian that says what to do instead (disable it, deactivate him,
pick another calendar first). Each check is one ``EXISTS``-style query stopping at the first row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.errors import Conflict


@dataclass(frozen=True)
class Use:
    """One way an object is still in use: the rows that name it, and the reason in both languages."""

    rows: Select[Any]
    en: str
    ru: str


async def refuse_if_used(session: AsyncSession, uses: list[Use]) -> None:
    for use in uses:
        if await session.scalar(use.rows.limit(1)) is not None:
            raise Conflict(use.en, ru=use.ru)
