"""VK communities: Callback API events in, ``messages.send`` out (docs/channel-protocols.md §3).

VK wants the literal body ``ok`` for every event it may stop retrying, the confirmation code
(plain text) for the handshake, and finds its secret in the JSON body, not in a header.
Outbound calls are form-encoded and their errors arrive with HTTP 200.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from okno.channels.adapters.vk import interactive
from okno.channels.adapters.vk.media import call_method, send_with_files
from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    IdentityKindSpec,
    InboundMessage,
    InboundStatus,
    Label,
    OutboundMessage,
    PermanentFailure,
    ProviderUrl,
    Recipient,
    RetryLater,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
    WebhookResult,
    json_body,
    labelled,
    opaque_kind,
    provider_base_url,
    secret_of_at_least,
)
from okno.channels.int_range import INT64_MAX, INT64_MIN
from okno.channels.text import split_text  # the helper the Telegram adapter splits with
from okno.kit.receiver_reasons import short_text

MAX_TEXT = 4096
SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)
GROUP_CHATS_FROM = 2_000_000_000  # peer_id = 2000000000 + chat_id in group chats
INT32_MASK = 0x7FFFFFFF
ACK = WebhookReply(200, body=b"ok", media_type="text/plain")
RATE_LIMIT_WAIT = {6: 1.0, 9: 60.0}  # 6: per-second limit; 9: flood control, repeating soon only extends it
INTERNAL_ERROR = 10
OPERATOR_MUST_ACT = {
    5: "check the community access token",
    14: "VK asks for a captcha: the community token is sending too much",
    27: "the method is unavailable with this community token",
    28: "application authorization failed: check the token",
}
RECIPIENT_REFUSED = {
    900: "the customer has blacklisted the community",
    901: "the customer has not allowed messages from the community",
    902: "the customer's privacy settings forbid messages from the community",
}

Item = InboundMessage | InboundStatus


class VkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: int = labelled("Community ID", "ID сообщества", help_en="the community id (positive)", help_ru="идентификатор сообщества (положительное число)", gt=0)
    access_token: SecretStr = labelled(
        "Access token", "Ключ доступа", help_en="community access token with the messages right",
        help_ru="ключ доступа сообщества с правом на сообщения", min_length=1,
    )
    secret: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "Secret key", "Секретный ключ", help_en="Callback API secret key: VK puts it in every event body",
        help_ru="секретный ключ Callback API: ВКонтакте передаёт его в каждом событии", min_length=1, json_schema_extra={"minLength": SECRET_MIN},
    )
    confirmation_code: str = labelled(
        "Confirmation code", "Строка подтверждения", help_en="the string groups.getCallbackConfirmationCode returns",
        help_ru="строка, которую возвращает groups.getCallbackConfirmationCode", min_length=1, max_length=100, pattern=r"^\S+$",
    )
    api_base: ProviderUrl = provider_base_url("https://api.vk.com", "the VK API's address", "адрес API ВКонтакте")
    api_version: str = labelled(
        "API version", "Версия API", help_en="the VK API version, e.g. 5.199", help_ru="версия API ВКонтакте, например 5.199",
        default="5.199", pattern=r"^\d+\.\d+$",
    )

    def method_url(self, method: str) -> str:
        return f"{self.api_base.rstrip('/')}/method/{method}"


class VkChannel:
    kind: ClassVar[str] = "vk"
    title: ClassVar[str] = "ВКонтакте"
    title_label: ClassVar[Label] = Label(en="VK", ru="ВКонтакте")
    config_model: ClassVar[type[BaseModel]] = VkConfig
    # delivery_statuses: message_read reports our outbound message as read. read_receipts stays
    # False: okno does not mark the customer's messages read on VK (no messages.markAsRead).
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT, media_kinds=frozenset({"image", "voice", "file"}), delivery_statuses=True,
        interactive=interactive.SUPPORT,
        outbound_media=frozenset({"image", "file"}), address_kinds=frozenset({"vk"}), starts_conversations=True,
        one_time_codes=frozenset({"vk"}),  # a code read in the chat proves the chat's user
    )
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (IdentityKindSpec("vk", opaque_kind, "a VK user id"),)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: VkConfig, request: WebhookRequest) -> WebhookResult:
        if request.method != "POST":
            raise WebhookRejected(405, "VK Callback API delivers events with POST")
        event = _load(request.body)
        group_id = event.get("group_id")
        if type(group_id) is not int or group_id != config.group_id:
            raise WebhookRejected(403, "wrong group: the event is for another community")
        kind = event.get("type")
        if kind == "confirmation":
            return WebhookResult(reply=WebhookReply(200, body=config.confirmation_code.encode(), media_type="text/plain"))
        _verify_secret(config, event)
        parse = EVENT_PARSERS.get(kind) if isinstance(kind, str) else None
        items = parse(event) if parse else []  # echoes, opt-in changes, unknown types: acknowledged only
        return WebhookResult(items=items, reply=ACK)

    async def send(self, config: VkConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        peer_id = recipient_peer(message.recipient)
        text, keyboard = interactive.outgoing(message)
        chunks = split_text(text, MAX_TEXT)
        if message.files:  # uploaded first, then attached to the last part beside the choices
            return await send_with_files(http, config, message, peer_id, chunks, keyboard=keyboard)
        provider_message_id: int | None = None
        for index, chunk in enumerate(chunks):
            form = {
                "peer_id": str(peer_id), "random_id": str(random_id_for(message.idempotency_key, index)), "message": chunk,
                "v": config.api_version, "access_token": config.access_token.get_secret_value(),
            }
            if keyboard is not None and index == len(chunks) - 1:  # the choices go with the last part
                form["keyboard"] = keyboard
            provider_message_id = await _call(http, config.method_url("messages.send"), form)
        return SendResult(provider_message_id=str(provider_message_id) if provider_message_id is not None else None)


# ---- inbound -------------------------------------------------------------------------------


def _load(body: bytes) -> dict[str, Any]:
    event = json_body(body)
    if not isinstance(event, dict):
        raise WebhookRejected(400, "not a VK Callback API event: the body is not a JSON object")
    return event


def _verify_secret(config: VkConfig, event: dict[str, Any]) -> None:
    given = event.get("secret")
    if not isinstance(given, str):
        raise WebhookRejected(403, "the event carries no secret (set the secret key in the Callback API settings)")
    expected = config.secret.get_secret_value()
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        raise WebhookRejected(403, "wrong secret in the event body")


def _int(value: Any) -> int | None:
    """An integer okno can store as one (signed 64 bits: ``okno.channels.int_range``), else None."""
    return value if type(value) is int and INT64_MIN <= value <= INT64_MAX else None  # bool is an int subclass; VK never sends one for ids


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _message_new(event: dict[str, Any]) -> list[Item]:
    obj = event.get("object")
    if not isinstance(obj, dict):
        raise WebhookRejected(422, "message_new without an object")
    # API versions before 5.103 put the message itself in "object"
    message = obj.get("message") if isinstance(obj.get("message"), dict) else obj
    message_id, from_id, peer_id = _int(message.get("id")), _int(message.get("from_id")), _int(message.get("peer_id"))
    if message_id is None or message_id <= 0 or from_id is None or peer_id is None:
        raise WebhookRejected(422, "message_new without a valid message id, from_id or peer_id")
    if message.get("out") == 1 or from_id <= 0 or peer_id >= GROUP_CHATS_FROM:
        return []  # our own message, another community, or a group chat: not a customer writing to us
    context = {"event_id": event.get("event_id"), "peer_id": peer_id, "conversation_message_id": _int(message.get("conversation_message_id"))}
    return [
        InboundMessage(
            provider_id=f"vk-msg:{message_id}",  # unique in the community: a new event_id for it still dedupes
            provider_message_id=str(message_id),
            sender=[SenderIdentity(kind="vk", value=str(from_id))],
            text=message.get("text") if isinstance(message.get("text"), str) else "",
            attachments=_attachments(message.get("attachments")),
            context={"vk": {k: v for k, v in context.items() if isinstance(v, str) or _int(v) is not None}},
            answer=interactive.answer_of(message),
        )
    ]


def _message_read(event: dict[str, Any]) -> list[Item]:
    """The customer read the community's messages up to ``read_message_id`` (one of ours)."""
    obj = event.get("object")
    read_message_id = _int(obj.get("read_message_id")) if isinstance(obj, dict) else None
    if read_message_id is None or read_message_id <= 0:
        raise WebhookRejected(422, "message_read without a valid read_message_id")
    peer_id = _int(obj.get("peer_id"))
    if peer_id is not None and peer_id >= GROUP_CHATS_FROM:
        return []  # okno never writes to group chats
    return [InboundStatus(provider_message_id=str(read_message_id), status="read")]


# message_reply / message_edit echo our own messages; message_allow / message_deny (opt-in) are
# not tracked yet: like every other type they are answered "ok" and nothing is stored.
EVENT_PARSERS: dict[str, Callable[[dict[str, Any]], list[Item]]] = {"message_new": _message_new, "message_read": _message_read}


def _attachments(raw: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for attachment in raw if isinstance(raw, list) else []:
        kind = attachment.get("type") if isinstance(attachment, dict) else None
        if not isinstance(kind, str):
            continue
        parse = ATTACHMENT_PARSERS.get(kind)
        parsed = parse(attachment.get(kind)) if parse else None
        found.append(parsed or {"kind": "other", "vk_type": kind})
    return found


def _photo(photo: Any) -> dict[str, Any] | None:
    raw_sizes = photo.get("sizes") if isinstance(photo, dict) else None
    sizes = [s for s in raw_sizes if isinstance(s, dict) and _text(s.get("url"))] if isinstance(raw_sizes, list) else []
    if not sizes:
        return None
    largest = max(sizes, key=_area)  # VK lists sizes by type letter, not by size
    image = {"kind": "image", "url": largest["url"], "width": _int(largest.get("width")), "height": _int(largest.get("height")), "vk_id": _vk_id("photo", photo)}
    return _compact(image)


def _area(size: dict[str, Any]) -> int:
    return (_int(size.get("width")) or 0) * (_int(size.get("height")) or 0)


def _audio_message(voice: Any) -> dict[str, Any] | None:
    if not isinstance(voice, dict):
        return None
    ogg, mp3 = _text(voice.get("link_ogg")), _text(voice.get("link_mp3"))
    if ogg is None and mp3 is None:
        return None
    voice_note = {
        "kind": "voice", "url": ogg or mp3, "link_ogg": ogg, "link_mp3": mp3, "duration": _int(voice.get("duration")),
        "mime_type": "audio/ogg" if ogg else "audio/mpeg", "vk_id": _vk_id("doc", voice),
    }
    return _compact(voice_note)


def _doc(doc: Any) -> dict[str, Any] | None:
    if not isinstance(doc, dict) or _text(doc.get("url")) is None:
        return None
    title = _text(doc.get("title"))
    file = {"kind": "file", "url": doc["url"], "title": title, "name": title, "ext": _text(doc.get("ext")), "size": _int(doc.get("size")), "vk_id": _vk_id("doc", doc)}
    return _compact(file)


ATTACHMENT_PARSERS: dict[str, Callable[[Any], dict[str, Any] | None]] = {"photo": _photo, "audio_message": _audio_message, "doc": _doc}


def _vk_id(prefix: str, media: dict[str, Any]) -> str | None:
    owner_id, media_id = _int(media.get("owner_id")), _int(media.get("id"))
    return f"{prefix}{owner_id}_{media_id}" if owner_id is not None and media_id is not None else None


def _compact(attachment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attachment.items() if v is not None}


# ---- outbound ------------------------------------------------------------------------------


def recipient_peer(recipient: Recipient) -> int:
    user_id = recipient.first("vk")
    if user_id is None:
        raise PermanentFailure("the customer has no VK identity to write to")
    if not (user_id.isascii() and user_id.isdigit() and 0 < int(user_id) < GROUP_CHATS_FROM):
        raise PermanentFailure(f"the customer's VK identity {user_id[:40]!r} is not a VK user id")
    return int(user_id)


def random_id_for(idempotency_key: str, chunk_index: int) -> int:
    """A non-zero int32 that is the same on every retry of one chunk of one logical message:
    VK drops a repeated (peer, random_id) and answers with the first message's id."""
    digest = hashlib.sha256(f"{idempotency_key}:{chunk_index}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") & INT32_MASK) or 1


async def _call(http: httpx.AsyncClient, url: str, form: dict[str, str]) -> int:
    data = await call_method(http, url, form)
    message_id = _int(data.get("response"))
    if message_id is not None:
        return message_id
    # an answer we can't read: retrying is safe, VK drops the repeated random_id
    raise TemporaryFailure("VK: messages.send answered without a message id")


def classify_error(error: Any) -> DeliveryError:
    """VK error codes (vk-api-schema errors.json) to okno's delivery errors."""
    error = error if isinstance(error, dict) else {}
    code = _int(error.get("error_code"))
    message = short_text(error.get("error_msg")) or "unknown error"
    reason = f"VK {code}: {message}"
    if code in RATE_LIMIT_WAIT:
        return RetryLater(reason, RATE_LIMIT_WAIT[code])
    if code == INTERNAL_ERROR:
        return TemporaryFailure(reason)
    if code in OPERATOR_MUST_ACT:
        return ChannelNeedsAction(f"{reason} ({OPERATOR_MUST_ACT[code]})")
    if code in RECIPIENT_REFUSED:
        return PermanentFailure(f"{reason} ({RECIPIENT_REFUSED[code]})")
    return PermanentFailure(reason)
