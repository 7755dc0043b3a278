"""Files okno sends, fetched through a signed, expiring link (no operator token): how an
integration behind the API channel downloads what an operator attached."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Response

from okno.api.deps import Ctx, ReadSession
from okno.files.uploads import stored_file
from okno.kit.blobs import BlobMissing, BlobStore
from okno.kit.errors import Forbidden, NotFound
from okno.models import StoredFile

router = APIRouter(tags=["files"])


@router.get("/files/{file_id}", summary="Download a file okno sent, by its signed link")
async def signed_download(file_id: int, expires: int, sig: str, session: ReadSession, ctx: Ctx) -> Response:
    row = await session.get(StoredFile, file_id)
    if row is None or not ctx.files.links.verify(file_id, row.sha256, expires, sig):
        raise Forbidden("the link is invalid or has expired")
    return await file_response(ctx.files.blobs, row)


async def stored_file_response(session: ReadSession, ctx: Ctx, file_id: int) -> Response:
    return await file_response(ctx.files.blobs, await stored_file(session, file_id))


async def file_response(blobs: BlobStore, row: StoredFile) -> Response:
    try:
        content = await asyncio.to_thread(blobs.read, row.storage_key)
    except BlobMissing as exc:
        raise NotFound("the bytes of file %(row_id)s are missing from the file store", row_id=row.id) from exc
    return Response(content, media_type=row.content_type, headers={"content-disposition": content_disposition(row.filename), "x-content-type-options": "nosniff"})


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
