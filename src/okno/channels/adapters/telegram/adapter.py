"""Telegram Bot API: webhook updates in, ``sendMessage`` out (docs/channel-protocols.md §1)."""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from okno.channels.adapters.telegram import interactive
from okno.channels.adapters.telegram.media import send_with_files
from okno.channels.base import (
    AttachmentUnavailable,
    Capabilities,
    ChannelNeedsAction,
    Download,
    IdentityKindSpec,
    InboundMessage,
    OutboundMessage,
    PermanentFailure,
    ProofRule,
    ProviderUrl,
    RetryLater,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    json_body,
    json_object,
    labelled,
    opaque_kind,
    provider_base_url,
    secret_of_at_least,
)
from okno.channels.text import split_text
from okno.kit.receiver_reasons import short_text, status_phrase

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_TEXT = 4096
SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_token: SecretStr = labelled("Bot token", "Токен бота", help_en="token from @BotFather", help_ru="токен от @BotFather")
    secret_token: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "Webhook secret", "Секрет вебхука",
        help_en=f"setWebhook secret_token, {SECRET_MIN}–256 of A-Z a-z 0-9 _ -",
        help_ru=f"secret_token для setWebhook: {SECRET_MIN}–256 символов A-Z a-z 0-9 _ -",
        json_schema_extra={"minLength": SECRET_MIN},
    )
    api_base: ProviderUrl = provider_base_url(
        "https://api.telegram.org", "the Bot API's address (change only for a local Bot API server)", "адрес Bot API (меняйте только для своего сервера Bot API)"
    )

    @field_validator("secret_token")
    @classmethod
    def _telegram_allows(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not (1 <= len(secret) <= 256) or any(not (c.isascii() and (c.isalnum() or c in "_-")) for c in secret):
            raise ValueError("secret_token must be 1–256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    def method_url(self, method: str) -> str:
        return f"{self.api_base.rstrip('/')}/bot{self.bot_token.get_secret_value()}/{method}"


class TelegramChannel:
    kind: ClassVar[str] = "telegram"
    title: ClassVar[str] = "Telegram"
    config_model: ClassVar[type[BaseModel]] = TelegramConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT, media_kinds=frozenset({"image", "voice", "file"}), attachment_download=True,
        interactive=interactive.SUPPORT,
        outbound_media=frozenset({"image", "file"}), address_kinds=frozenset({"telegram"}), starts_conversations=True,
        one_time_codes=frozenset({"telegram"}),  # a code read in the chat proves the chat's user
    )
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (IdentityKindSpec("telegram", opaque_kind, "a Telegram user id"),)
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        ProofRule("phone", "telegram.own_contact", True, "a contact the Telegram user shared about himself (user_id matches)"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: TelegramConfig, request: WebhookRequest) -> WebhookResult:
        if request.method != "POST":
            raise WebhookRejected(405, "Telegram delivers updates with POST")
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise WebhookRejected(401, "missing X-Telegram-Bot-Api-Secret-Token")
        if not hmac.compare_digest(given.encode(), config.secret_token.get_secret_value().encode()):
            raise WebhookRejected(403, "wrong X-Telegram-Bot-Api-Secret-Token")
        update = json_body(request.body)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise WebhookRejected(422, "not a Telegram Update: update_id missing")
        if "callback_query" in update:  # a button press: stored as an answer, acknowledged in the reply
            pressed = interactive.parse_callback_query(update["callback_query"])
            return WebhookResult(items=[pressed], reply=interactive.acknowledgement(update["callback_query"]["id"])) if pressed else WebhookResult()
        item = parse_message(update.get("message"))
        return WebhookResult(items=[item] if item else [])  # other update kinds: 200, nothing stored

    async def send(self, config: TelegramConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        chat_id = message.recipient.first("telegram")
        if chat_id is None:
            raise PermanentFailure("the customer has no Telegram identity to write to")
        if message.files and message.interactive is None:
            return await send_with_files(http, config.method_url, _call, int(chat_id), message, MAX_TEXT)
        if message.files:  # files first, then the question with its choices (a caption can't carry them)
            await send_with_files(http, config.method_url, _call, int(chat_id), replace(message, text=""), MAX_TEXT)
        last: dict[str, Any] = {}
        text, markup = interactive.outgoing(message)
        chunks = split_text(text, MAX_TEXT)
        for index, chunk in enumerate(chunks):
            payload: dict[str, Any] = {"chat_id": int(chat_id), "text": chunk}
            if markup is not None and index == len(chunks) - 1:  # the choices go with the last part
                payload["reply_markup"] = markup
            last = await _call(http, config.method_url("sendMessage"), payload)
        return SendResult(provider_message_id=str(last.get("message_id")) if "message_id" in last else None)

    async def fetch_attachment(self, config: TelegramConfig, attachment: dict[str, Any], http: httpx.AsyncClient) -> Download:
        file_id = attachment.get("file_id")
        if not file_id:
            raise AttachmentUnavailable("attachment has no file_id")
        try:
            info = await _call(http, config.method_url("getFile"), {"file_id": file_id})
        except (PermanentFailure, RetryLater, TemporaryFailure) as exc:
            raise AttachmentUnavailable(f"getFile failed: {exc.reason}") from exc
        path = info.get("file_path")
        if not path:
            raise AttachmentUnavailable("Telegram returned no file_path (file larger than 20 MB?)")
        url = f"{config.api_base.rstrip('/')}/file/bot{config.bot_token.get_secret_value()}/{path}"
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            raise AttachmentUnavailable(f"download failed: {exc}") from exc
        if response.status_code != 200:
            raise AttachmentUnavailable(f"download failed: HTTP {response.status_code}")
        return Download(
            content=response.content,
            content_type=attachment.get("mime_type") or response.headers.get("content-type", "application/octet-stream"),
            filename=attachment.get("name") or path.rsplit("/", 1)[-1],
        )


def parse_message(message: Any) -> InboundMessage | None:
    if not isinstance(message, dict):
        return None
    sender, chat = message.get("from"), message.get("chat")
    if not isinstance(sender, dict) or not isinstance(chat, dict) or sender.get("is_bot"):
        return None
    ids = (sender.get("id"), chat.get("id"), message.get("message_id"))
    if chat.get("type") != "private" or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return None
    identities = [SenderIdentity(kind="telegram", value=str(sender["id"]))]
    attachments = _attachments(message)
    contact = message.get("contact")
    if isinstance(contact, dict) and contact.get("phone_number"):
        own = contact.get("user_id") == sender["id"]  # the user's own number, shared by himself
        if own:
            identities.append(SenderIdentity(kind="phone", value=str(contact["phone_number"]), source="telegram.own_contact"))
        # shown in the conversation either way ("shared his phone" / a contact card), never as an empty message
        attachments.append({"kind": "contact", "phone": str(contact["phone_number"]), "name": contact.get("first_name", ""), **({"own": True} if own else {})})
    text = message.get("text") or message.get("caption") or ""
    name = " ".join(str(p) for p in (sender.get("first_name"), sender.get("last_name")) if p)
    context = {k: sender[k] for k in ("username", "language_code") if isinstance(sender.get(k), str) and sender[k]}  # text, as Telegram sends them
    return InboundMessage(
        provider_id=f"msg:{chat['id']}:{message['message_id']}",
        provider_message_id=str(message["message_id"]),
        sender=identities,
        sender_name=name,
        text=str(text),
        attachments=attachments,
        context={"telegram": context} if context else {},
    )


def _attachments(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], dict):
        largest = photos[-1]  # sizes come smallest first
        found.append({"kind": "image", "file_id": largest.get("file_id"), "width": largest.get("width"), "height": largest.get("height"), "size": largest.get("file_size"), "mime_type": "image/jpeg"})
    voice = message.get("voice")
    if isinstance(voice, dict):
        found.append({"kind": "voice", "file_id": voice.get("file_id"), "duration": voice.get("duration"), "mime_type": voice.get("mime_type", "audio/ogg"), "size": voice.get("file_size")})
    document = message.get("document")
    if isinstance(document, dict):
        found.append({"kind": "file", "file_id": document.get("file_id"), "name": document.get("file_name"), "mime_type": document.get("mime_type"), "size": document.get("file_size")})
    return [a for a in found if a.get("file_id")]


async def _call(http: httpx.AsyncClient, url: str, payload: dict[str, Any], *, files: dict[str, Any] | None = None) -> dict[str, Any]:
    try:  # a file goes as a multipart upload, every other call as JSON
        response = await (http.post(url, data=payload, files=files) if files else http.post(url, json=payload))
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    data = json_object(response)
    if response.status_code == 200 and data.get("ok"):
        return data.get("result") or {}
    code = data.get("error_code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else response.status_code
    reason = f"Telegram {code}: {short_text(data.get('description')) or status_phrase(response.status_code) or 'no description'}"
    if code == 429:
        raise RetryLater(reason, float((data.get("parameters") or {}).get("retry_after", 1)))
    if code == 401:
        raise ChannelNeedsAction(f"{reason} (check the bot token)")
    if code in (400, 403, 404):
        raise PermanentFailure(reason)
    raise TemporaryFailure(reason)
