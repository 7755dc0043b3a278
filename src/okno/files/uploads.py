"""Operators' uploads: checked (size, real content type), kept in the blob store, recorded in
``stored_files``; a message's attachments then point at them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.files.sniffing import INLINE_IMAGES, FileType, safe_filename, sniff
from okno.kit.blobs import BlobStore
from okno.kit.errors import Invalid, NotFound, TooLarge
from okno.models import StoredFile

MAX_FILES_PER_MESSAGE = 10


@dataclass(frozen=True)
class Upload:
    """One file as it arrived: its bytes, the name and the type the uploader gave."""

    data: bytes
    filename: str
    content_type: str | None = None


def check_sizes(uploads: list[Upload], max_bytes: int) -> None:
    """Refuses (413) before anything is stored when one file is over the limit."""
    if len(uploads) > MAX_FILES_PER_MESSAGE:
        raise Invalid("at most %(num)s file per message", plural="at most %(num)s files per message", num=MAX_FILES_PER_MESSAGE)
    for upload in uploads:
        if len(upload.data) > max_bytes:
            raise TooLarge("%(filename)s is %(size)s bytes; the limit is %(limit)s bytes (OKNO_MAX_UPLOAD_BYTES)", filename=safe_filename(upload.filename), size=len(upload.data), limit=max_bytes)
        if not upload.data:
            raise Invalid("%(filename)s is empty", filename=safe_filename(upload.filename))


@dataclass(frozen=True)
class CheckedUpload:
    data: bytes
    filename: str
    type: FileType


def check_uploads(uploads: list[Upload], max_bytes: int) -> list[CheckedUpload]:
    """Sizes (413) and real content types (422) of every upload, before anything is written."""
    check_sizes(uploads, max_bytes)
    checked = []
    for upload in uploads:
        name = safe_filename(upload.filename)
        checked.append(CheckedUpload(data=upload.data, filename=name, type=sniff(upload.data, name, upload.content_type)))
    return checked


async def store_uploads(session: AsyncSession, blobs: BlobStore, uploads: list[CheckedUpload], *, created_by: int | None) -> list[StoredFile]:
    """Written (atomically, deduplicated by content) and recorded in ``stored_files``."""
    stored: list[StoredFile] = []
    for upload in uploads:
        blob = await asyncio.to_thread(blobs.put, upload.data)
        row = StoredFile(
            sha256=blob.sha256, size=blob.size, content_type=upload.type.content_type, filename=upload.filename,
            storage_key=blob.key, created_by=created_by,
        )
        session.add(row)
        stored.append(row)
    await session.flush()
    return stored


def attachment_of(stored: StoredFile) -> dict[str, Any]:
    """How a message refers to a stored file (``attachments[]`` of an outbound message)."""
    return {
        "kind": "image" if stored.content_type in INLINE_IMAGES else "file",
        "stored_file_id": stored.id,
        "name": stored.filename,
        "mime_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
    }


async def stored_file(session: AsyncSession, stored_file_id: int) -> StoredFile:
    row = await session.get(StoredFile, stored_file_id)
    if row is None:
        raise NotFound("%(what)s %(id)s not found", what="stored file", id=stored_file_id)
    return row


async def stored_files(session: AsyncSession, ids: set[int]) -> dict[int, StoredFile]:
    if not ids:
        return {}
    return {f.id: f for f in (await session.scalars(select(StoredFile).where(StoredFile.id.in_(ids)))).all()}
