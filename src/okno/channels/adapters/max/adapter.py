"""MAX messenger Bot API: webhook updates in, ``POST /messages`` out (docs/channel-protocols.md §4)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from okno.channels.adapters.max import interactive
from okno.channels.adapters.max.media import upload_attachments
from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
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
from okno.channels.text import split_text  # the helper the Telegram adapter uses
from okno.kit.receiver_reasons import short_text, status_phrase

SECRET_HEADER = "x-max-bot-api-secret"
MAX_TEXT = 4000
SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)
MAX_MID = 200  # provider_id is "mid:<mid>" and must fit 255 characters
INT64 = 2**63
NOT_READY = "attachment.not.ready"
NOT_READY_RETRY_SECONDS = 2.0
DEFAULT_RETRY_SECONDS = 1.0
TOKEN_REJECTED = "MAX rejected the bot token"
_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{5,256}")
_OTHER_KINDS = frozenset({"sticker", "location", "share"})


class MaxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr = labelled(
        "Bot token", "Токен бота", help_en="the bot's access token (sent as `Authorization: <token>`)",
        help_ru="токен доступа бота (передаётся как `Authorization: <token>`)",
    )
    secret: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "Subscription secret", "Секрет подписки",
        help_en=f"subscription secret, {SECRET_MIN}–256 of A-Z a-z 0-9 _ -",
        help_ru=f"секрет подписки: {SECRET_MIN}–256 символов A-Z a-z 0-9 _ -",
        json_schema_extra={"minLength": SECRET_MIN},
    )
    api_base: ProviderUrl = provider_base_url("https://platform-api2.max.ru", "the MAX Bot API's address", "адрес Bot API MAX")

    @field_validator("secret")
    @classmethod
    def _max_allows(cls, value: SecretStr) -> SecretStr:
        if not _SECRET_CHARS.fullmatch(value.get_secret_value()):
            raise ValueError("secret must be 5–256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    def messages_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/messages"

    def answers_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/answers"

    def auth(self) -> dict[str, str]:
        return {"Authorization": self.token.get_secret_value()}  # no "Bearer": MAX refuses it


class MaxChannel:
    kind: ClassVar[str] = "max"
    title: ClassVar[str] = "MAX"
    config_model: ClassVar[type[BaseModel]] = MaxConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT, media_kinds=frozenset({"image", "voice", "file"}), delivery_statuses=False,
        interactive=interactive.SUPPORT,
        outbound_media=frozenset({"image", "file"}), address_kinds=frozenset({"max"}), starts_conversations=True,
        one_time_codes=frozenset({"max"}),  # a code read in the chat proves the chat's user
    )
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (IdentityKindSpec("max", opaque_kind, "a MAX user id"),)
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        # the card's TEL is vCard text the client composed; only its ``hash`` would vouch for it and
        # okno can't check that hash, so the number is evidence (docs/identity-proof.md)
        ProofRule("phone", "max.own_contact", False, "the phone of a contact card the MAX user shared about himself: evidence only (its hash can't be checked)"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: MaxConfig, request: WebhookRequest) -> WebhookResult:
        if request.method != "POST":
            raise WebhookRejected(405, "MAX delivers updates with POST")
        _verify_secret(config, request.headers)
        item = parse_update(_load(request.body))
        return WebhookResult(items=[item] if item else [])  # other update kinds: 200, nothing stored

    async def send(self, config: MaxConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        user_id = message.recipient.first("max")
        if user_id is None or not user_id.lstrip("-").isdigit():
            raise PermanentFailure("the customer has no MAX identity to write to")
        mid: str | None = None
        text, keyboard = interactive.outgoing(message)
        files = await upload_attachments(http, config, message.files) if message.files else []
        attachments = files + (keyboard or [])  # the files and the choices ride with the last part
        chunks = split_text(text, MAX_TEXT)
        for index, chunk in enumerate(chunks):
            extra = attachments if index == len(chunks) - 1 and attachments else None
            mid = _sent_mid(await _post_message(http, config, user_id, chunk, extra)) or mid
        return SendResult(provider_message_id=mid)

    async def acknowledge_answers(self, config: MaxConfig, answers: list[InboundMessage], http: httpx.AsyncClient) -> None:
        await interactive.answer_callbacks(http, config.answers_url(), config.auth(), answers)


# ---- inbound -------------------------------------------------------------------------------


def _verify_secret(config: MaxConfig, headers: Mapping[str, str]) -> None:
    given = headers.get(SECRET_HEADER)
    if given is None:
        raise WebhookRejected(401, "missing X-Max-Bot-Api-Secret")
    expected = config.secret.get_secret_value().encode()
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
        raise WebhookRejected(403, "wrong X-Max-Bot-Api-Secret")


def _load(body: bytes) -> dict[str, Any]:
    update = json_body(body)
    if not isinstance(update, dict) or not isinstance(update.get("update_type"), str):
        raise WebhookRejected(422, "not a MAX Update: update_type missing")
    return update


def parse_update(update: dict[str, Any]) -> InboundMessage | None:
    """The customer's message or Start press; None for anything okno does not store."""
    kind = update["update_type"]
    if kind == "message_created":
        return _message_created(update)
    if kind == "bot_started":
        return _bot_started(update)
    if kind == "message_callback":  # a button press: a typed answer
        return interactive.parse_callback(update)
    return None  # message_edited, bot_stopped, …: acknowledged, not stored


def _message_created(update: dict[str, Any]) -> InboundMessage | None:
    message = _required_dict(update.get("message"), "message")
    recipient = _required_dict(message.get("recipient"), "message.recipient")
    if recipient.get("chat_type") != "dialog":
        return None  # group chats and channels are not customer conversations
    sender = _required_dict(message.get("sender"), "message.sender")
    if sender.get("is_bot") is True:
        return None
    user_id = _required_int(sender, "user_id", "message.sender")
    body = _required_dict(message.get("body"), "message.body")
    mid = _text(body, "mid")
    if mid is None or len(mid) > MAX_MID:
        raise WebhookRejected(422, "message.body.mid is missing or too long")
    identities = [SenderIdentity(kind="max", value=str(user_id))]
    attachments: list[dict[str, Any]] = []
    for raw in _list(body.get("attachments")):
        phone = _own_phone(raw, user_id)
        if phone:
            identities.append(SenderIdentity(kind="phone", value=phone, source="max.own_contact"))
            attachments.append({"kind": "contact", "phone": phone, "own": True})  # shown as "shared his phone"
        elif (converted := _attachment(raw)) is not None:
            attachments.append(converted)
    return InboundMessage(
        provider_id=f"mid:{mid}",
        provider_message_id=mid,
        sender=identities,
        sender_name=_full_name(sender),
        text=_text(body, "text") or "",
        attachments=attachments,
        context={"max": {"chat_id": _int(recipient.get("chat_id")), "locale": _text(update, "user_locale")}},
    )


def _bot_started(update: dict[str, Any]) -> InboundMessage | None:
    """The customer pressed Start: a touch with no text, so the conversation opens."""
    user = _required_dict(update.get("user"), "user")
    if user.get("is_bot") is True:
        return None
    user_id = _required_int(user, "user_id", "user")
    timestamp = _required_int(update, "timestamp", "bot_started")
    context = {"event": "bot_started", "chat_id": _int(update.get("chat_id")), "payload": _text(update, "payload")}
    return InboundMessage(
        provider_id=f"bot_started:{user_id}:{timestamp}",  # timestamp in milliseconds
        sender=[SenderIdentity(kind="max", value=str(user_id))],
        sender_name=_full_name(user),
        text="",
        context={"max": context},
    )


def _own_phone(raw: Any, user_id: int) -> str | None:
    """The phone of a contact card the sender shared of himself, else None.

    The protocol says the card's ``hash`` proves the number is the user's own, but okno cannot
    verify that hash offline; our rule is that the card's ``max_info.user_id`` is the sender's.
    """
    if not isinstance(raw, dict) or raw.get("type") != "contact":
        return None
    payload = _dict(raw.get("payload"))
    if _int(_dict(payload.get("max_info")).get("user_id")) != user_id:
        return None
    return vcard_field(_text(payload, "vcf_info") or "", "TEL")


def _attachment(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or _text(raw, "type") is None:
        return None
    kind, payload = raw["type"], _dict(raw.get("payload"))
    if kind == "image":
        return {"kind": "image", "url": _text(payload, "url"), "photo_id": _int(payload.get("photo_id")), "token": _text(payload, "token")}
    if kind == "audio":
        voice = {"kind": "voice", "url": _text(payload, "url"), "token": _text(payload, "token")}
        return {**voice, "transcription": raw["transcription"]} if _text(raw, "transcription") else voice
    if kind in ("video", "file"):
        return {"kind": "file", "max_type": kind, "filename": _text(raw, "filename"), "size": _int(raw.get("size")),
                "url": _text(payload, "url"), "token": _text(payload, "token")}
    if kind == "contact":
        return _contact_card(payload)
    if kind in _OTHER_KINDS:
        return {"kind": "other", "max_type": kind}
    return None  # inline keyboards and types okno does not know


def _contact_card(payload: dict[str, Any]) -> dict[str, Any]:
    vcf = _text(payload, "vcf_info") or ""
    name = vcard_field(vcf, "FN") or _full_name(_dict(payload.get("max_info")))
    return {"kind": "contact", "phone": vcard_field(vcf, "TEL"), "name": name}


def vcard_field(vcf: str, prop: str) -> str | None:
    """The first non-empty value of ``prop`` (``TEL``, ``FN``…) in a vCard 2.1/3.0/4.0 text.

    Handles folded lines, parameters (``TEL;TYPE=cell:``), group prefixes (``item1.TEL:``), the
    vCard 4 ``tel:`` URI form and backslash escapes.
    """
    for line in _unfolded(vcf):
        name, sep, value = line.partition(":")
        if not sep or name.split(";", 1)[0].rsplit(".", 1)[-1].strip().upper() != prop:
            continue
        value = value.strip()
        if prop == "TEL" and value.lower().startswith("tel:"):
            value = value[4:].strip()
        value = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
        if value:
            return value
    return None


def _unfolded(vcf: str) -> list[str]:
    lines: list[str] = []
    for line in re.split(r"\r\n|\r|\n", vcf):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def _full_name(user: dict[str, Any]) -> str:
    parts = [p for p in (_text(user, "first_name"), _text(user, "last_name")) if p]
    return " ".join(parts) or _text(user, "name") or ""


def _required_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookRejected(422, f"{where} must be an object")
    return value


def _required_int(obj: dict[str, Any], key: str, where: str) -> int:
    value = _int(obj.get(key))
    if value is None:
        raise WebhookRejected(422, f"{where}.{key} must be an integer")
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64 else None


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ---- outbound ------------------------------------------------------------------------------


async def _post_message(
    http: httpx.AsyncClient, config: MaxConfig, user_id: str, text: str, attachments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "attachments": attachments} if attachments else {"text": text}
    try:
        response = await http.post(config.messages_url(), params={"user_id": user_id}, json=body, headers=config.auth())
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    data = json_object(response)
    if response.is_success and data.get("code") != NOT_READY:
        return data
    raise classify_error(response.status_code, response.headers, data)


def classify_error(status: int, headers: Mapping[str, str], data: dict[str, Any]) -> DeliveryError:
    code = short_text(data.get("code"), 60)
    detail = short_text(data.get("message")) or status_phrase(status) or "no message"  # never the raw body
    reason = f"MAX {status} {code}: {detail}" if code else f"MAX {status}: {detail}"
    if code == NOT_READY:
        return RetryLater(reason, NOT_READY_RETRY_SECONDS)
    if status == 429:
        return RetryLater(reason, _retry_after(headers))
    if status == 401 or code == "verify.token":
        return ChannelNeedsAction(TOKEN_REJECTED)
    if 400 <= status < 500 and status != 408:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)  # 5xx, 408 and anything unexpected


def _retry_after(headers: Mapping[str, str]) -> float:
    hint = (headers.get("retry-after") or "").strip()
    if hint.isascii() and hint.isdigit() and len(hint) <= 5:  # delta-seconds; an HTTP-date falls back
        return float(hint)
    return DEFAULT_RETRY_SECONDS


def _sent_mid(data: dict[str, Any]) -> str | None:
    return _text(_dict(_dict(data.get("message")).get("body")), "mid")
