"""Inbound files an adapter already wrote to okno's blob store (an e-mail's attachments), recorded
in ``stored_files`` in the transaction that stores their message.

An adapter that keeps files (``Capabilities.keeps_files``) writes each file's bytes to the blob
store while it polls, before the item is queued, and marks the attachment with the file's
``blob_sha256``. Here, in the ingest transaction, each marked attachment gets a ``stored_files``
row and points at it (``stored_file_id``, which nothing from outside can set: see
okno.channels.attachments). The message and its rows commit together: a crash before that leaves
at most a blob no row names (the same bytes are reused by the next poll: the store is
content-addressed); it never leaves a message pointing at nothing. A mark from a channel whose
adapter does not keep files (an API integrator sending ``blob_sha256``) is dropped, never trusted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.blobs import BlobStore
from okno.models import Channel, StoredFile

if TYPE_CHECKING:
    from okno.channels.base import InboundMessage

BLOB_MARK = "blob_sha256"
_SHA256 = re.compile(r"[0-9a-f]{64}")


async def record_kept_files(session: AsyncSession, items: list[tuple[int, InboundMessage]]) -> int:
    """Turns the ``blob_sha256`` marks of ``(channel id, item)`` into ``stored_file_id``; the rows added."""
    marked = [(channel_id, item) for channel_id, item in items if any(BLOB_MARK in a for a in item.attachments)]
    if not marked:
        return 0
    from okno.channels.registry import ADAPTERS  # the registry names the adapters; imported late (cycle)

    kinds = dict((await session.execute(select(Channel.id, Channel.kind).where(Channel.id.in_({c for c, _ in marked})))).all())
    trusted = {c for c, kind in kinds.items() if (cls := ADAPTERS.get(kind)) is not None and cls.capabilities.keeps_files}
    rows: list[tuple[dict[str, Any], StoredFile]] = []
    for channel_id, item in marked:
        for attachment in item.attachments:
            sha256 = attachment.pop(BLOB_MARK, None)
            if channel_id not in trusted or not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
                continue
            row = StoredFile(
                sha256=sha256, size=int(attachment.get("size") or 0),
                content_type=str(attachment.get("content_type") or attachment.get("mime_type") or "application/octet-stream")[:200],
                filename=str(attachment.get("name") or "file")[:255], storage_key=BlobStore.key_for(sha256), created_by=None,
            )
            session.add(row)
            rows.append((attachment, row))
    if rows:
        await session.flush()
        for attachment, row in rows:
            attachment["stored_file_id"] = row.id
    return len(rows)
