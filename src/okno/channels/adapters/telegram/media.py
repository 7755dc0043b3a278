"""Operators' files to Telegram: ``sendPhoto`` / ``sendDocument`` as multipart uploads.

A picture Telegram can show (≤ 10 MB) goes as a photo, anything else as a document (≤ 50 MB).
The text rides as the first file's caption when it fits (1024 characters), else it goes first
as its own message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from okno.channels.base import (
    OutboundFile,
    OutboundMessage,
    PermanentFailure,
    SendResult,
)
from okno.channels.text import split_text

MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

Call = Callable[..., Awaitable[dict[str, Any]]]


async def send_with_files(
    http: httpx.AsyncClient, method_url: Callable[[str], str], call: Call, chat_id: int, message: OutboundMessage, max_text: int
) -> SendResult:
    caption = message.text if len(message.text) <= MAX_CAPTION else ""
    last: dict[str, Any] = {}
    if message.text.strip() and not caption:
        for chunk in split_text(message.text, max_text):
            last = await call(http, method_url("sendMessage"), {"chat_id": chat_id, "text": chunk})
    for index, file in enumerate(message.files):
        method, field = _method_for(file)
        form = {"chat_id": str(chat_id)}
        if index == 0 and caption.strip():
            form["caption"] = caption
        last = await call(http, method_url(method), form, files={field: (file.filename, await file.read(), file.content_type)})
    return SendResult(provider_message_id=str(last["message_id"]) if "message_id" in last else None)


def _method_for(file: OutboundFile) -> tuple[str, str]:
    if file.kind == "image" and file.content_type in PHOTO_TYPES and file.size <= MAX_PHOTO_BYTES:
        return "sendPhoto", "photo"
    if file.size > MAX_DOCUMENT_BYTES:
        raise PermanentFailure(f"{file.filename} is larger than the 50 MB Telegram bots may send")
    return "sendDocument", "document"
