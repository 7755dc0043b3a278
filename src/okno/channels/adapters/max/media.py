"""Operators' files to MAX: ``POST /uploads?type=image|file`` gives an upload URL, the file is
posted there as multipart ``data``, and the token that comes back goes into the message's
``attachments``. A message sent before MAX has processed the file is answered
``attachment.not.ready``: the delivery worker retries it (the adapter's error table says so)."""

from __future__ import annotations

from typing import Any

import httpx

from okno.channels.base import json_object, OutboundFile, PermanentFailure, TemporaryFailure
from okno.kit.receiver_reasons import short_text, status_line

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


async def upload_attachments(http: httpx.AsyncClient, config: Any, files: tuple[OutboundFile, ...]) -> list[dict[str, Any]]:
    """One ``attachments[]`` entry per file, each uploaded to MAX first."""
    return [await _attachment(http, config, file) for file in files]


async def _attachment(http: httpx.AsyncClient, config: Any, file: OutboundFile) -> dict[str, Any]:
    kind = "image" if file.kind == "image" and file.content_type in IMAGE_TYPES else "file"
    from okno.channels.adapters.max.adapter import (
        classify_error,  # one error table for every MAX call
    )

    try:
        endpoint = await http.post(f"{config.api_base.rstrip('/')}/uploads", params={"type": kind}, headers=config.auth())
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"MAX uploads: {type(exc).__name__}: {exc}") from exc
    answer = json_object(endpoint)
    if not endpoint.is_success:
        raise classify_error(endpoint.status_code, endpoint.headers, answer)
    url = answer.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TemporaryFailure("MAX gave no upload url")
    try:
        uploaded = await http.post(url, files={"data": (file.filename, await file.read(), file.content_type)})
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"MAX upload: {type(exc).__name__}: {exc}") from exc
    if uploaded.status_code >= 500:
        raise TemporaryFailure(f"MAX upload HTTP {uploaded.status_code}")
    if not uploaded.is_success:
        detail = short_text(json_object(uploaded).get("message"))
        raise PermanentFailure(f"MAX refused {file.filename}: {status_line(uploaded.status_code)}" + (f": {detail}" if detail else ""))
    token = _token(kind, json_object(uploaded)) or answer.get("token")
    if not isinstance(token, str) or not token:
        raise TemporaryFailure("MAX upload answered without a token")
    return {"type": kind, "payload": {"token": token}}


def _token(kind: str, result: dict[str, Any]) -> str | None:
    """A file upload answers ``{"token"}``; an image one ``{"photos": {<id>: {"token"}}}``."""
    if isinstance(result.get("token"), str):
        return result["token"]
    photos = result.get("photos") if kind == "image" else None
    if isinstance(photos, dict):
        for photo in photos.values():
            if isinstance(photo, dict) and isinstance(photo.get("token"), str):
                return photo["token"]
    return None
