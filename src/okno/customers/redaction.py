"""What is left of a record once the personal data in it is removed: shared by erasure (one
customer) and retention (old message bodies and raw items).

JSON documents (timeline entries, outbox payloads) keep their shape, so readers that expect a
key still find it: numbers, booleans and ``None`` stay (ids, counts, flags), strings survive only
under keys that hold a code from a fixed list (a status, a metric, a direction), every other
string becomes ``""``. A new kind of entry is scrubbed without anyone listing it: the rule fails
closed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import InboundItem, Message, StoredFile

# keys whose string values are codes okno chose, never words someone wrote or a key of a person
CODE_KEYS = frozenset(
    {
        "action", "actor_type", "by", "channel_kind", "direction", "from", "kind", "medium", "metric", "origin",
        "priority", "status", "to", "topic", "trigger", "type", "via", "team_from", "team_to", "state",
    }
)  # fmt: skip
ERASED = ""


def scrubbed(document: Any, key: str | None = None) -> Any:
    """``document`` with every string outside :data:`CODE_KEYS` replaced by ``""``."""
    if isinstance(document, dict):
        return {k: scrubbed(v, k) for k, v in document.items()}
    if isinstance(document, list):
        return [scrubbed(v, key) for v in document]
    if isinstance(document, str):
        return document if key in CODE_KEYS else ERASED
    return document


# what an emptied message keeps: who wrote it, when, through which channel, its status and kind
MESSAGE_REDACTED: dict[str, Any] = {"text": "", "html": None, "subject": None, "content": None, "attachments": [], "error": None}
RAW_REDACTED: dict[str, Any] = {"raw": "", "item": {"redacted": True}}


def redact_messages(where: ColumnElement[bool], now: datetime) -> Update:
    """``UPDATE messages`` emptying the bodies of the rows ``where`` selects."""
    return update(Message).where(where).values(**MESSAGE_REDACTED, redacted_at=now).execution_options(synchronize_session=False)


def redact_raw_items(where: ColumnElement[bool], now: datetime) -> Update:
    return update(InboundItem).where(where).values(**RAW_REDACTED, redacted_at=now).execution_options(synchronize_session=False)


async def rewrite_json(session: AsyncSession, table: Any, column: str, rows: Iterable[tuple[int, Any]]) -> int:
    """Writes back the :func:`scrubbed` ``column`` of each (id, document) that changes (one
    executemany); returns how many changed."""
    changed = [{"row_id": row_id, "doc": clean} for row_id, doc in rows if (clean := scrubbed(doc)) != doc]
    if changed:
        statement = update(table).where(table.c.id == bindparam("row_id")).values({column: bindparam("doc")})
        await session.execute(statement.execution_options(synchronize_session=False), changed)
    return len(changed)


async def drop_stored_files(session: AsyncSession, messages: ColumnElement[bool]) -> tuple[list[str], int]:
    """Deletes the ``stored_files`` rows the attachments of the ``messages`` selected point at
    (call before their attachments are emptied). Returns the blob keys no remaining row shares
    (the same bytes kept for someone else keep their file): delete them after the commit."""
    ids: set[int] = set()
    for attachments in await session.scalars(select(Message.attachments).where(messages)):
        for attachment in attachments or []:
            stored = attachment.get("stored_file_id") if isinstance(attachment, dict) else None
            if isinstance(stored, int) and not isinstance(stored, bool):
                ids.add(stored)
    if not ids:
        return [], 0
    keys = set(await session.scalars(select(StoredFile.storage_key).where(StoredFile.id.in_(ids))))
    dropped = (await session.execute(delete(StoredFile).where(StoredFile.id.in_(ids)))).rowcount
    still_used = set(await session.scalars(select(StoredFile.storage_key).where(StoredFile.storage_key.in_(keys))))
    return sorted(keys - still_used), dropped
