"""Novofon telephony (the Zadarma-compatible protocol): signed call events in, the provider's API
for recordings and click-to-call out (docs/channel-protocols.md §6, docs/telephony.md).

A call is ONE conversation item. Every event of a call (``NOTIFY_START``, ``NOTIFY_ANSWER``,
``NOTIFY_END``…) is its own inbound item, deduplicated by ``<event>:<pbx_call_id>``, threaded by
``pbx_call_id`` and carrying ``item_key = pbx_call_id``: the first one stores the call message,
later ones merge their facts into its ``content["call"]`` (okno.channels.items).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from okno.channels.adapters.novofon.signing import SIGNED_FIELDS, api_authorization, sorted_query, webhook_signature
from okno.channels.base import (
    AttachmentUnavailable,
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    Download,
    InboundMessage,
    Label,
    OutboundMessage,
    PermanentFailure,
    ProviderUrl,
    RetryLater,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    Threading,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
    WebhookResult,
    json_object,
    provider_base_url,
    secret_of_at_least,
)
from okno.kit.labels import labelled
from okno.kit.receiver_reasons import short_text, status_phrase

SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)
SIGNATURE_HEADER = "signature"
RECORD_PATH = "/v1/pbx/record/request/"
CALLBACK_PATH = "/v1/request/callback/"
SOURCE = "caller_id"  # the core's rule (customers/identities.py): a caller id proves, see docs/telephony.md
MAX_FIELD = 128
PHONE_LIKE = re.compile(r"^\+?[0-9]{3,20}$")
INBOUND_EVENTS = frozenset({"NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END"})
OUTBOUND_EVENTS = frozenset({"NOTIFY_OUT_START", "NOTIFY_OUT_END"})
# the facts each event adds to the call (renamed from the provider's fields). The customer's own
# number is not among them: it is his identity (sealed at rest), not a fact of the call.
FACTS: dict[str, dict[str, str]] = {
    "NOTIFY_START": {"called_did": "to", "call_start": "started_at"},
    "NOTIFY_INTERNAL": {"called_did": "to", "call_start": "started_at", "internal": "ringing"},
    "NOTIFY_ANSWER": {"call_start": "started_at", "internal": "answered_by"},
    "NOTIFY_END": {
        "called_did": "to", "call_start": "started_at", "internal": "extension", "duration": "duration",
        "disposition": "disposition", "status_code": "status_code", "is_recorded": "is_recorded", "call_id_with_rec": "recording",
    },
    "NOTIFY_OUT_START": {"internal": "extension", "call_start": "started_at"},
    "NOTIFY_OUT_END": {
        "internal": "extension", "call_start": "started_at", "duration": "duration", "disposition": "disposition",
        "status_code": "status_code", "is_recorded": "is_recorded", "call_id_with_rec": "recording",
    },
}  # fmt: skip


class NovofonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Novofon")

    api_key: str = labelled(
        "API key", "Ключ API", help_en="the key from the provider's cabinet (Settings → API)",
        help_ru="ключ из кабинета провайдера (Настройки → API)", min_length=1, max_length=200,
    )
    api_secret: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "API secret", "Секрет API", help_en="signs the call events and okno's API requests",
        help_ru="подписывает события звонков и запросы okno к API", min_length=1, json_schema_extra={"minLength": SECRET_MIN},
    )
    api_base: ProviderUrl = provider_base_url("https://api.novofon.com", "the provider's public API", "публичный API провайдера")
    numbers: list[str] = labelled(
        "Numbers", "Номера", help_en="the numbers (DIDs) this channel covers; empty: every number of the account",
        help_ru="номера (DID), которые обслуживает канал; пусто — все номера аккаунта", default_factory=list, max_length=100,
    )

    @field_validator("numbers")
    @classmethod
    def _digits(cls, numbers: list[str]) -> list[str]:
        cleaned = [n.strip().lstrip("+") for n in numbers]
        for number in cleaned:
            if not (number.isascii() and number.isdigit() and 3 <= len(number) <= 20):
                raise PydanticCustomError("not_a_phone_number", "{number} is not a phone number (digits, optionally with +)", {"number": repr(number[:30])})
        return cleaned

    def url(self, method_path: str, params: Mapping[str, str]) -> str:
        return f"{self.api_base.rstrip('/')}{method_path}?{sorted_query(params)}"

    def auth(self, method_path: str, params: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": api_authorization(self.api_key, self.api_secret.get_secret_value(), method_path, params)}


class NovofonChannel:
    kind: ClassVar[str] = "novofon"
    title: ClassVar[str] = "Novofon"
    title_label: ClassVar[Label] = Label(en="Novofon (telephony)", ru="Novofon (телефония)")
    config_model: ClassVar[type[BaseModel]] = NovofonConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=0,  # a call channel carries no text: operators answer by calling back
        media_kinds=frozenset({"audio"}),
        attachment_download=True,  # call recordings, fetched from the provider on demand
        medium="call",
        threading=Threading.per_thread,
        address_kinds=frozenset({"phone"}),
        click_to_call=True,
    )
    # No proof rules of its own: a caller id is the first key of a call and proves as the address
    # it came from (the core's ("phone", "caller_id") rule; why, and the spoofing caveat:
    # docs/telephony.md "Who is calling"). The caller lands on the customer who owns the number.

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: NovofonConfig, request: WebhookRequest) -> WebhookResult:
        if request.method == "GET":
            return _echo(request.query)
        fields = _form(request.body)
        event = fields.get("event", "")
        if event not in SIGNED_FIELDS:
            if event:
                return WebhookResult()  # an event okno does not follow (SMS, speech…): acknowledged, not stored
            raise WebhookRejected(422, 'not a call event: the form has no "event" field')
        _verify(config, request.headers.get(SIGNATURE_HEADER), fields)
        message = call_event(fields, config.numbers)
        return WebhookResult(items=[message] if message else [])

    async def send(self, config: NovofonConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        raise PermanentFailure("a call channel carries no text: call the customer back, or answer in a messenger")

    async def place_call(self, config: NovofonConfig, *, extension: str, phone: str, http: httpx.AsyncClient) -> None:
        """Click-to-call: the provider rings ``extension``, then ``phone``; the call's own events follow."""
        await _api_get(http, config, CALLBACK_PATH, {"from": extension, "to": phone.lstrip("+")})

    async def fetch_attachment(self, config: NovofonConfig, attachment: dict[str, Any], http: httpx.AsyncClient) -> Download:
        call_id = attachment.get("file_id")
        if not isinstance(call_id, str) or not call_id:
            raise AttachmentUnavailable("the recording names no call")
        params = {"call_id": call_id}
        try:
            data = await _api_get(http, config, RECORD_PATH, params)
        except DeliveryError as exc:
            raise AttachmentUnavailable(f"recording request failed: {exc.reason}") from exc
        link = data.get("link")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise AttachmentUnavailable("the provider returned no recording link (not ready yet?)")
        try:
            audio = await http.get(link)
        except httpx.HTTPError as exc:
            raise AttachmentUnavailable(f"recording download failed: {type(exc).__name__}") from exc
        if audio.status_code != 200:
            raise AttachmentUnavailable(f"recording download failed: HTTP {audio.status_code}")
        content_type = audio.headers.get("content-type", "audio/mpeg").split(";")[0] or "audio/mpeg"
        return Download(content=audio.content, content_type=content_type, filename=f"{call_id}.mp3")


def _echo(query: Mapping[str, str]) -> WebhookResult:
    echo = query.get("zd_echo")
    if not echo:
        raise WebhookRejected(400, "a GET must carry zd_echo (the provider's URL check)")
    if len(echo) > MAX_FIELD or not echo.isprintable():
        raise WebhookRejected(400, "zd_echo is not a short printable string")
    return WebhookResult(reply=WebhookReply(200, body=echo.encode(), media_type="text/plain"))


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"body is not a form: {type(exc).__name__}") from exc
    return {k: v for k, v in pairs}


def _verify(config: NovofonConfig, given: str | None, fields: Mapping[str, str]) -> None:
    if not given:
        raise WebhookRejected(401, "missing Signature header")
    expected = webhook_signature(config.api_secret.get_secret_value(), fields)
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode()):
        raise WebhookRejected(401, "Signature does not match the event (signed with another API secret?)")


def call_event(fields: Mapping[str, str], numbers: list[str]) -> InboundMessage | None:
    """One event of a call as an item of its call; None for an event okno keeps nothing of."""
    event = fields["event"]
    pbx_call_id = _field(fields, "pbx_call_id", required=True)
    if event == "NOTIFY_RECORD":
        return None  # NOTIFY_END already named the recording (call_id_with_rec); it is fetched on demand
    outbound = event in OUTBOUND_EVENTS
    did = _field(fields, "called_did")
    if numbers and did is not None and did.lstrip("+") not in numbers:
        return None  # a number of the account that another channel covers
    customer = _field(fields, "destination" if outbound else "caller_id", required=True)
    if not PHONE_LIKE.match(customer):
        raise WebhookRejected(422, f"{'destination' if outbound else 'caller_id'} {customer[:30]!r} is not a phone number")
    facts: dict[str, Any] = {"direction": "out" if outbound else "in", "events": [event]}
    for name, fact in FACTS[event].items():
        value = _field(fields, name)
        if value is not None:
            facts[fact] = _number(value) if fact in ("duration", "is_recorded") else value
    if event == "NOTIFY_ANSWER":
        facts["answered"] = True
    if event in ("NOTIFY_END", "NOTIFY_OUT_END"):
        facts["ended"] = True
        facts["answered"] = facts.get("disposition") == "answered"
    attachments = []
    if facts.get("recording") and facts.get("is_recorded") == 1:
        attachments.append({"kind": "audio", "file_id": facts["recording"], "name": f"{facts['recording']}.mp3", "mime_type": "audio/mpeg"})
    suffix = f":{facts['ringing']}" if event == "NOTIFY_INTERNAL" and "ringing" in facts else ""
    return InboundMessage(
        provider_id=f"{event}:{pbx_call_id}{suffix}"[:255], provider_message_id=pbx_call_id, item_key=pbx_call_id, thread_key=pbx_call_id,
        sender=[SenderIdentity(kind="phone", value=customer if customer.startswith("+") else f"+{customer}", source=SOURCE)],
        text="📞", attachments=attachments, message_kind="call",
        content={"call": facts},
    )


def _field(fields: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    value = fields.get(name, "").strip()
    if not value:
        if required:
            raise WebhookRejected(422, f"the event has no {name}")
        return None
    if len(value) > MAX_FIELD or not value.isprintable():
        raise WebhookRejected(422, f"{name} is not a short printable value")
    return value


def _number(value: str) -> int | str:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else value


async def _api_get(http: httpx.AsyncClient, config: NovofonConfig, method_path: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        response = await http.get(config.url(method_path, params), headers=config.auth(method_path, params))
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    data = json_object(response)
    if response.is_success and data.get("status") == "success":
        return data
    reason = f"Novofon {response.status_code}: {short_text(data.get('message')) or status_phrase(response.status_code) or 'error'}"
    if response.status_code == 429:
        return _raise(RetryLater(reason, _retry_after(response.headers)))
    if response.status_code == 401:
        return _raise(ChannelNeedsAction(f"{reason}: check the API key and secret"))
    if response.status_code >= 500:
        return _raise(TemporaryFailure(reason))
    return _raise(PermanentFailure(reason))


def _raise(error: DeliveryError) -> dict[str, Any]:
    raise error


def _retry_after(headers: Mapping[str, str]) -> float:
    reset = headers.get("x-ratelimit-reset", "").strip()
    return float(reset) if reset.isascii() and reset.isdigit() and len(reset) <= 5 else 60.0
