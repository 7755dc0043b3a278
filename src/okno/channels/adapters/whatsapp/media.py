"""Operators' files and message templates to WhatsApp Cloud API.

Files: each is uploaded first (``POST /{phone-number-id}/media``, multipart with
``messaging_product``, ``type`` and ``file``), then sent by the media id it got as an ``image``
(JPEG/PNG up to 5 MB) or a ``document`` (with its filename, up to 100 MB). Templates go as
``type: template`` with ``language.code`` and the body parameters as ``components``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from okno.channels.base import (
    labelled,
    json_object,
    OutboundFile,
    OutboundMessage,
    OutboundTemplate,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from okno.channels.text import split_text

MAX_CAPTION = 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024

Post = Callable[[httpx.AsyncClient, Any, dict[str, Any]], Awaitable[dict[str, Any]]]


class WhatsAppTemplate(BaseModel):
    """One approved template as it is registered in WhatsApp Manager."""

    model_config = ConfigDict(extra="forbid")

    name: str = labelled(
        "Name", "Название", help_en="the template's name in WhatsApp Manager", help_ru="название шаблона в WhatsApp Manager",
        pattern=r"^[a-z0-9_]{1,512}$",
    )
    language: str = labelled(
        "Language", "Язык", help_en="its language code, e.g. ru or en_US", help_ru="код языка, например ru или en_US",
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
    )
    body_parameters: int = labelled(
        "Parameters", "Параметры", help_en="how many {{n}} parameters its body has", help_ru="сколько параметров {{n}} в тексте",
        default=0, ge=0, le=20,
    )
    preview: str = labelled(
        "Text", "Текст", help_en="the approved body text, with {{1}}, {{2}}… as placeholders",
        help_ru="одобренный текст с {{1}}, {{2}}… на местах параметров", min_length=1, max_length=1024,
    )


async def send_with_files(
    http: httpx.AsyncClient, config: Any, message: OutboundMessage, address: dict[str, str], post: Post, max_text: int
) -> SendResult:
    caption = message.text if len(message.text) <= MAX_CAPTION else ""
    provider_message_id: str | None = None
    if message.text.strip() and not caption:
        for chunk in split_text(message.text, max_text):
            provider_message_id = _sent_id(await post(http, config, _envelope(address, "text", {"body": chunk})))
    for index, file in enumerate(message.files):
        kind, media = await _media_object(http, config, file)
        if index == 0 and caption.strip():
            media["caption"] = caption
        provider_message_id = _sent_id(await post(http, config, _envelope(address, kind, media))) or provider_message_id
    return SendResult(provider_message_id=provider_message_id)


async def send_template(http: httpx.AsyncClient, config: Any, template: OutboundTemplate, address: dict[str, str], post: Post) -> SendResult:
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        body["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in template.parameters]}]
    return SendResult(provider_message_id=_sent_id(await post(http, config, _envelope(address, "template", body))))


async def _media_object(http: httpx.AsyncClient, config: Any, file: OutboundFile) -> tuple[str, dict[str, Any]]:
    if file.kind == "image" and file.content_type in IMAGE_TYPES and file.size <= MAX_IMAGE_BYTES:
        return "image", {"id": await upload(http, config, file)}
    if file.size > MAX_DOCUMENT_BYTES:
        raise PermanentFailure(f"{file.filename} is larger than the 100 MB WhatsApp accepts")
    return "document", {"id": await upload(http, config, file), "filename": file.filename}


async def upload(http: httpx.AsyncClient, config: Any, file: OutboundFile) -> str:
    """The media id WhatsApp gives the uploaded file."""
    from okno.channels.adapters.whatsapp.adapter import (
        classify_error,  # one error table for every Graph call
    )

    form = {"messaging_product": "whatsapp", "type": file.content_type}
    try:
        response = await http.post(
            config.graph_url(config.phone_number_id, "media"), data=form,
            files={"file": (file.filename, await file.read(), file.content_type)}, headers=config.auth(),
        )
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"media upload: {type(exc).__name__}: {exc}") from exc
    data = json_object(response)
    if response.is_success and isinstance(data.get("id"), str):
        return data["id"]
    raise classify_error(response.status_code, response.headers, data.get("error"))


def _envelope(address: dict[str, str], kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", **address, "type": kind, kind: content}


def _sent_id(data: dict[str, Any]) -> str | None:
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    return first.get("id") if isinstance(first.get("id"), str) else None
