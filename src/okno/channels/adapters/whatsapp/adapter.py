"""WhatsApp Business Cloud API (Meta Graph): signed webhooks in, ``/{phone_number_id}/messages``
out (docs/channel-protocols.md §2)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from okno.channels.adapters.whatsapp import interactive
from okno.channels.adapters.whatsapp.media import WhatsAppTemplate, send_template, send_with_files
from okno.channels.base import (
    AttachmentUnavailable,
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    Download,
    IdentityKindSpec,
    InboundMessage,
    InboundStatus,
    MessageTemplate,
    NeedsAction,
    OutboundMessage,
    PermanentFailure,
    ProofRule,
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
    json_object,
    labelled,
    opaque_kind,
    provider_base_url,
    secret_of_at_least,
)
from okno.channels.text import split_text
from okno.kit.receiver_reasons import short_text, status_phrase

SIGNATURE_HEADER = "x-hub-signature-256"
MAX_TEXT = 4096
SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)
MAX_ID = 200
RATE_LIMITED = frozenset({4, 80007, 130429, 131056, 131048})
SLOW_DOWN_LONGER = frozenset({131056, 131048})  # pair rate and spam limits: back off a full minute
TRANSIENT = frozenset({1, 2, 131000, 131016})
ACCOUNT_BLOCKED = frozenset({368, 131031})
WINDOW_CLOSED = 131047
TOKEN_INVALID = 190
WINDOW_REASON = "outside the 24-hour window: the customer must write first, or send an approved template (WhatsApp 131047)"
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "read", "failed": "failed"}
ATTACHMENT_KINDS = {"image": "image", "sticker": "image", "video": "file", "document": "file", "audio": "file"}

Item = InboundMessage | InboundStatus
Content = tuple[str, list[dict[str, Any]]]


class WhatsAppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = labelled(
        "Phone number ID", "ID номера телефона", help_en="the business phone number's id in Meta (not the number)",
        help_ru="идентификатор бизнес-номера в Meta (не сам номер)", pattern=r"^\d{1,32}$",
    )
    access_token: SecretStr = labelled(
        "Access token", "Токен доступа", help_en="system-user access token with whatsapp_business_messaging",
        help_ru="токен системного пользователя с правом whatsapp_business_messaging", min_length=1,
    )
    app_secret: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "App secret", "Секрет приложения", help_en="the Meta app secret: signs X-Hub-Signature-256",
        help_ru="секрет приложения Meta: им подписан X-Hub-Signature-256", min_length=1, json_schema_extra={"minLength": SECRET_MIN},
    )
    verify_token: SecretStr = labelled(
        "Verify token", "Проверочный токен", help_en="any string; Meta echoes it in the webhook handshake",
        help_ru="любая строка; Meta повторяет её при подключении вебхука", min_length=1,
    )
    graph_base: ProviderUrl = provider_base_url("https://graph.facebook.com", "the Graph API's address", "адрес Graph API")
    api_version: str = labelled(
        "API version", "Версия API", help_en="the Graph API version, e.g. v25.0", help_ru="версия Graph API, например v25.0",
        default="v25.0", pattern=r"^v\d+\.\d+$",
    )
    templates: list[WhatsAppTemplate] = labelled(
        "Message templates", "Шаблоны сообщений",
        help_en="approved message templates operators may send (outside the 24-hour window)",
        help_ru="одобренные шаблоны, которые операторы могут отправить вне 24-часового окна",
        default_factory=list, max_length=200,
    )

    def graph_url(self, *path: str) -> str:
        return "/".join([self.graph_base.rstrip("/"), self.api_version, *(quote(p, safe="") for p in path)])

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token.get_secret_value()}"}


class WhatsAppChannel:
    kind: ClassVar[str] = "whatsapp"
    title: ClassVar[str] = "WhatsApp"
    config_model: ClassVar[type[BaseModel]] = WhatsAppConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT,
        media_kinds=frozenset({"image", "voice", "file"}),
        delivery_statuses=True,
        read_receipts=True,
        reply_window=timedelta(hours=24),
        attachment_download=True,
        interactive=interactive.SUPPORT,
        outbound_media=frozenset({"image", "file"}),
        address_kinds=frozenset({"whatsapp", "phone"}),
        starts_conversations=True,
        message_templates=True,
        # free text: reaches a user who wrote in the last 24 hours (an authentication template
        # for the others is not sent yet, docs/identity-proof.md)
        one_time_codes=frozenset({"whatsapp"}),
    )
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (
        IdentityKindSpec("whatsapp", opaque_kind, "a WhatsApp user (business-scoped id or wa_id)"),
    )
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        ProofRule("phone", "whatsapp.wa_id", True, "a WhatsApp wa_id is the sender's phone number"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: WhatsAppConfig, request: WebhookRequest) -> WebhookResult:
        if request.method == "GET":
            return _handshake(config, request.query)
        if request.method != "POST":
            raise WebhookRejected(405, "WhatsApp sends GET (handshake) or POST (updates)")
        _verify_signature(config, request)
        payload = _load(request.body)
        try:
            return WebhookResult(items=parse_payload(config.phone_number_id, payload))
        except ValidationError as exc:
            raise WebhookRejected(422, f"unexpected WhatsApp payload: {exc.errors()[0]['msg']}") from exc

    async def send(self, config: WhatsAppConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        address = recipient_address(message.recipient)
        if message.template is not None:
            return await send_template(http, config, message.template, address, _post)
        choices = interactive.interactive_body(message)
        if message.files and choices is None:
            return await send_with_files(http, config, message, address, _post, MAX_TEXT)
        if message.files:  # files first, then the question with its choices (a caption can't carry them)
            await send_with_files(http, config, replace(message, text=""), address, _post, MAX_TEXT)
        provider_message_id: str | None = None
        if choices is not None:  # core kept the text within the interactive body's limit
            body = {"messaging_product": "whatsapp", "recipient_type": "individual", **address, **choices}
            return SendResult(provider_message_id=_sent_id(await _post(http, config, body)))
        for chunk in split_text(message.text, MAX_TEXT):
            body = {"messaging_product": "whatsapp", "recipient_type": "individual", **address, "type": "text", "text": {"body": chunk}}
            provider_message_id = _sent_id(await _post(http, config, body))
        return SendResult(provider_message_id=provider_message_id)

    def templates(self, config: WhatsAppConfig) -> list[MessageTemplate]:
        return [MessageTemplate(name=t.name, language=t.language, body_parameters=t.body_parameters, preview=t.preview) for t in config.templates]

    async def fetch_attachment(self, config: WhatsAppConfig, attachment: dict[str, Any], http: httpx.AsyncClient) -> Download:
        media_id = _text(attachment, "media_id")
        if media_id is None:
            raise AttachmentUnavailable("attachment has no media_id")
        info = json_object(await _get(http, config, config.graph_url(media_id), "media lookup"))
        url = _text(info, "url")
        if url is None or not url.startswith(("https://", "http://")):
            raise AttachmentUnavailable("WhatsApp returned no media url (expired or deleted media?)")
        response = await _get(http, config, url, "media download")
        content_type = _text(attachment, "mime_type") or _text(info, "mime_type") or response.headers.get("content-type", "application/octet-stream")
        return Download(content=response.content, content_type=content_type, filename=_text(attachment, "name"))


def _handshake(config: WhatsAppConfig, query: Mapping[str, str]) -> WebhookResult:
    token = query.get("hub.verify_token", "")
    expected = config.verify_token.get_secret_value()
    if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise WebhookRejected(403, "WhatsApp handshake refused: wrong hub.mode or hub.verify_token")
    challenge = query.get("hub.challenge")
    if not challenge:
        raise WebhookRejected(400, "WhatsApp handshake without hub.challenge")
    return WebhookResult(reply=WebhookReply(200, body=challenge.encode(), media_type="text/plain"))


def signature_of(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _verify_signature(config: WhatsAppConfig, request: WebhookRequest) -> None:
    given = request.headers.get(SIGNATURE_HEADER)
    if given is None:
        raise WebhookRejected(401, "missing X-Hub-Signature-256")
    expected = signature_of(config.app_secret.get_secret_value(), request.body)
    if not hmac.compare_digest(given.strip().lower().encode("utf-8", "replace"), expected.encode()):
        raise WebhookRejected(403, "X-Hub-Signature-256 does not match the body (signed with another app secret?)")


def _load(body: bytes) -> dict[str, Any]:
    payload = json_body(body)
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookRejected(422, 'not a WhatsApp webhook: "object" must be "whatsapp_business_account"')
    return payload


def parse_payload(phone_number_id: str, payload: dict[str, Any]) -> list[Item]:
    """Every message and status in the payload addressed to ``phone_number_id``, in order."""
    items: list[Item] = []
    for value in _message_values(payload):
        if _addressee(value) != phone_number_id:
            continue  # another number on the same app: not this channel's business
        contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]
        items.extend(m for m in (_message(raw, contacts) for raw in _list(value, "messages")) if m)
        items.extend(s for s in (_status(raw) for raw in _list(value, "statuses")) if s)
    return items


def _message_values(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in _list(payload, "entry", required=True):
        for change in _list(_dict(entry, "entry[]"), "changes"):
            change = _dict(change, "entry[].changes[]")
            if change.get("field") == "messages":
                yield _dict(change.get("value"), "changes[].value")


def _addressee(value: dict[str, Any]) -> str:
    phone_number_id = _text(value.get("metadata"), "phone_number_id")
    if phone_number_id is None:
        raise WebhookRejected(422, "changes[].value.metadata.phone_number_id is missing")
    return phone_number_id


def _message(raw: Any, contacts: list[dict[str, Any]]) -> InboundMessage | None:
    raw = _dict(raw, "messages[]")
    wamid, kind = _text(raw, "id"), _text(raw, "type")
    if wamid is None or len(wamid) > MAX_ID or kind is None:
        raise WebhookRejected(422, "a message has no id or type")
    parse = CONTENT.get(kind)
    answer = interactive.answer_of(kind, raw) if kind in interactive.ANSWER_KINDS else None
    if parse is None and answer is None:
        return None  # reactions, unsupported, system notices…: acknowledged, not stored
    sender, name = _sender(raw, contacts)
    text, attachments = (answer.title, []) if answer else parse(kind, raw.get(kind))
    return InboundMessage(
        provider_id=f"wamid:{wamid}", provider_message_id=wamid, sender=sender, sender_name=name,
        text=text, attachments=attachments, context=_context(raw), answer=answer,
    )


def _sender(raw: dict[str, Any], contacts: list[dict[str, Any]]) -> tuple[list[SenderIdentity], str]:
    """``whatsapp:<BSUID or wa_id>`` first, then ``phone:+<wa_id>`` (a wa_id is a phone number)."""
    wa_id, from_user_id = _text(raw, "from"), _text(raw, "from_user_id")
    contact = _contact_for(contacts, wa_id, from_user_id)
    wa_id = wa_id or _text(contact, "wa_id")
    bsuid = _text(contact, "user_id") or from_user_id
    if wa_id is not None and not (wa_id.isascii() and wa_id.isdigit() and len(wa_id) <= 20):
        raise WebhookRejected(422, f"message sender {wa_id[:40]!r} is not a WhatsApp phone number")
    if bsuid is not None and (len(bsuid) > MAX_ID or not bsuid.isprintable() or any(c.isspace() for c in bsuid)):
        raise WebhookRejected(422, f"contact user_id {bsuid[:40]!r} is not a WhatsApp user id")
    if wa_id is None and bsuid is None:
        raise WebhookRejected(422, "a message has no sender: neither from/wa_id nor user_id")
    identities = [SenderIdentity(kind="whatsapp", value=bsuid or wa_id)]
    if wa_id is not None:
        identities.append(SenderIdentity(kind="phone", value=f"+{wa_id}", source="whatsapp.wa_id"))
    return identities, _text((contact or {}).get("profile"), "name") or ""


def _contact_for(contacts: list[dict[str, Any]], wa_id: str | None, user_id: str | None) -> dict[str, Any] | None:
    for contact in contacts:
        if (wa_id and contact.get("wa_id") == wa_id) or (user_id and contact.get("user_id") == user_id):
            return contact
    return contacts[0] if len(contacts) == 1 and wa_id is None else None


def _context(raw: dict[str, Any]) -> dict[str, Any]:
    context = raw.get("context")
    extras: dict[str, Any] = {}
    if reply_to := _text(context, "id"):
        extras["reply_to"] = reply_to
    if isinstance(context, dict) and context.get("forwarded") is True:
        extras["forwarded"] = True
    return {"whatsapp": extras} if extras else {}


def _text_body(_kind: str, text: Any) -> Content:
    return _text(text, "body") or "", []


def _media(kind: str, media: Any) -> Content:
    caption = _text(media, "caption") or ""
    media_id = _text(media, "id")
    if media_id is None:
        return caption, []
    voice = kind == "audio" and media.get("voice") is True
    attachment = {
        "kind": "voice" if voice else ATTACHMENT_KINDS[kind], "media_id": media_id, "mime_type": _text(media, "mime_type"),
        "sha256": _text(media, "sha256"), "caption": _text(media, "caption"), "name": _text(media, "filename"),
    }
    return caption, [{k: v for k, v in attachment.items() if v is not None}]


def _location(_kind: str, place: Any) -> Content:
    if not isinstance(place, dict):
        return "", []
    latitude, longitude = place.get("latitude"), place.get("longitude")
    numbers = all(isinstance(c, int | float) and not isinstance(c, bool) for c in (latitude, longitude))
    parts = [f"📍 {latitude}, {longitude}"] if numbers else []
    parts += [t for t in (_text(place, "name"), _text(place, "address"), _text(place, "url")) if t]
    return " — ".join(parts), []


CONTENT: dict[str, Callable[[str, Any], Content]] = {
    "text": _text_body, "image": _media, "audio": _media, "video": _media, "document": _media, "sticker": _media, "location": _location,
}


def _status(raw: Any) -> InboundStatus | None:
    raw = _dict(raw, "statuses[]")
    wamid = _text(raw, "id")
    if wamid is None or len(wamid) > MAX_ID:
        raise WebhookRejected(422, "a status has no message id")
    status = STATUSES.get(_text(raw, "status") or "")
    if status is None:
        return None  # e.g. "deleted", "warning": nothing to apply
    error = _failure_reason(raw.get("errors")) if status == "failed" else None
    return InboundStatus(provider_message_id=wamid, status=status, error=error, occurred_at=_unix(raw.get("timestamp")))


def _failure_reason(errors: Any) -> str:
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    title = short_text(first.get("title")) or "delivery failed"
    message, details = short_text(first.get("message")), short_text(_text(first.get("error_data"), "details"))
    explanation = details if details and message in (None, title) else message
    head = f"{code} {title}" if isinstance(code, int | str) and not isinstance(code, bool) else title
    return f"{head}: {explanation}" if explanation else head


def _unix(value: Any) -> datetime | None:
    digits = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit() and len(digits) <= 11):
        return None  # 11 digits reach year 5138, inside datetime's range
    return datetime.fromtimestamp(int(digits), tz=UTC)


def recipient_address(recipient: Recipient) -> dict[str, str]:
    """``to`` (a phone's digits) when we know one, else ``recipient`` (a BSUID)."""
    phone = recipient.first("phone")
    if phone:
        return {"to": phone.lstrip("+")}
    whatsapp = recipient.first("whatsapp")
    if whatsapp and whatsapp.isascii() and whatsapp.isdigit():
        return {"to": whatsapp}
    if whatsapp:
        return {"recipient": whatsapp}
    raise PermanentFailure("the customer has no WhatsApp identity or phone")


async def _post(http: httpx.AsyncClient, config: WhatsAppConfig, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = await http.post(config.graph_url(config.phone_number_id, "messages"), json=body, headers=config.auth())
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    data = json_object(response)
    if response.is_success and "error" not in data:
        return data
    raise classify_error(response.status_code, response.headers, data.get("error"))


def classify_error(http_status: int, headers: Mapping[str, str], error: Any) -> DeliveryError:
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    message = short_text(error.get("message")) or status_phrase(http_status) or "no message"  # never the raw body
    reason = f"WhatsApp {code if code is not None else http_status}: {message}"
    if code in RATE_LIMITED or (code is None and http_status == 429):
        return RetryLater(reason, _retry_after(headers, code))
    if code == WINDOW_CLOSED:
        return NeedsAction(WINDOW_REASON)
    if code == TOKEN_INVALID or (code is None and http_status == 401):
        return ChannelNeedsAction(f"access token expired or invalid ({TOKEN_INVALID})")
    if code in ACCOUNT_BLOCKED:
        return ChannelNeedsAction(f"WhatsApp account blocked or locked ({code}): {message}")
    if http_status >= 500 or code in TRANSIENT:
        return TemporaryFailure(reason)
    return PermanentFailure(reason) if 400 <= http_status < 500 else TemporaryFailure(reason)


def _retry_after(headers: Mapping[str, str], code: int | None) -> float:
    hint = headers.get("retry-after", "").strip()
    if hint.isascii() and hint.isdigit() and len(hint) <= 5:  # delta-seconds; an HTTP-date falls back
        return float(hint)
    return 60.0 if code in SLOW_DOWN_LONGER else 30.0


def _sent_id(data: dict[str, Any]) -> str | None:
    messages = data.get("messages")
    return _text(messages[0], "id") if isinstance(messages, list) and messages else None


async def _get(http: httpx.AsyncClient, config: WhatsAppConfig, url: str, what: str) -> httpx.Response:
    try:
        response = await http.get(url, headers=config.auth())
    except httpx.HTTPError as exc:
        raise AttachmentUnavailable(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise AttachmentUnavailable(f"{what} failed: HTTP {response.status_code}")
    return response


def _list(obj: dict[str, Any], key: str, *, required: bool = False) -> list[Any]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise WebhookRejected(422, f'"{key}" must be a list')
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookRejected(422, f"{where} must be an object")
    return value


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None
