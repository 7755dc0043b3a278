"""The generic API channel: how CRMs and custom apps plug into okno.

Inbound: ``POST /webhooks/{channel_id}`` with a signed JSON body. Outbound: okno POSTs each reply,
signed the same way and carrying an ``Idempotency-Key`` that stays the same across retries.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from okno.channels.adapters.api.media import outbound_attachments
from okno.channels.adapters.api.quick_body import plain_fields
from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign, signature_matches
from okno.channels.base import (
    CALLED_URL,
    Capabilities,
    IdentityKindSpec,
    InboundMessage,
    Label,
    NUL_FREE,
    MessageKindName,
    OutboundMessage,
    PermanentFailure,
    ProofRule,
    RetryLater,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    json_object,
    labelled,
    opaque_kind,
    secret_of_at_least,
)
from okno.kit.receiver_reasons import error_field, receiver_reason

MAX_TEXT = 65_536
MAX_HTML = 512 * 1024
DEFAULT_RETRY_AFTER = 5.0
SECRET_MIN = 16  # characters; refused shorter when saved (base.secret_of_at_least)


class ApiChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Annotated[SecretStr, secret_of_at_least(SECRET_MIN)] = labelled(
        "Secret", "Секрет", help_en="HMAC-SHA256 key for both directions", help_ru="ключ HMAC-SHA256 для обоих направлений",
        min_length=1, json_schema_extra={"minLength": SECRET_MIN},
    )
    outbound_url: Annotated[HttpUrl | None, CALLED_URL] = labelled(
        "Reply URL", "Адрес для ответов", help_en="Where okno POSTs operator replies", help_ru="куда okno отправляет (POST) ответы операторов",
        default=None,
    )


class _From(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    external_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=300)


class _InboundBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(min_length=1, max_length=255)
    from_: _From = Field(alias="from")
    text: str = Field(default="", max_length=MAX_TEXT)
    attachments: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    # optional: the integration's thread (a ticket, an order, a call): messages with the same
    # thread_id share one conversation of their own; without it the customer's chat continues
    thread_id: str | None = Field(default=None, min_length=1, max_length=255)
    kind: MessageKindName = "message"
    subject: str | None = Field(default=None, max_length=998)
    html: str | None = Field(default=None, max_length=MAX_HTML)  # sanitised by okno before it is stored


# :class:`_InboundBody` validated into a plain dict (no models built; its fields, aliases, defaults
# and limits are the model's): a body it refuses is validated by the model, whose error is the answer
_BODY_FIELDS = plain_fields(_InboundBody)


class ApiChannel:
    kind: ClassVar[str] = "api"
    title: ClassVar[str] = "API / CRM"
    title_label: ClassVar[Label] = Label(en="API / CRM", ru="API / CRM-система")
    config_model: ClassVar[type[BaseModel]] = ApiChannelConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT, media_kinds=frozenset({"image", "file"}),
        outbound_media=frozenset({"image", "file"}), address_kinds=frozenset({"external", "phone", "email"}), starts_conversations=True,
    )
    # an integrator's own id, scoped by the API channel it came through: ``<channel_id>:<id>``
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (
        IdentityKindSpec("external", opaque_kind, "an integrator's own id, as <channel_id>:<id>"),
    )
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        ProofRule("phone", "api", True, "keys an integrator asserts through the signed API channel"),
        ProofRule("email", "api", True, "keys an integrator asserts through the signed API channel"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: ApiChannelConfig, request: WebhookRequest) -> WebhookResult:
        if request.method != "POST":
            raise WebhookRejected(405, "the API channel accepts POST only")
        if not signature_matches(config.secret.get_secret_value(), request.body, request.headers.get(SIGNATURE_HEADER)):
            raise WebhookRejected(401, "missing or invalid X-Okno-Signature")
        # JSON carries a NUL only as ``\\u0000``: without one, no string of the body holds a NUL
        # (``find``, not ``in``: ``bytes.__contains__`` first tries its operand as an integer, a
        # TypeError made and dropped on every request)
        if request.body.find(b"\\u0000") < 0:
            try:
                fields = _BODY_FIELDS.validator.validate_json(request.body)  # TypeAdapter.validate_json without its Python wrapper
            except ValidationError:
                pass  # refused: answered with the model's own error below
            else:
                return WebhookResult(items=[self._quick_item(fields)])
        try:
            body = _InboundBody.model_validate_json(request.body)
        except ValidationError as exc:
            raise WebhookRejected(422, _first_error(exc)) from exc
        return WebhookResult(items=[self._item(body)])

    def _identities(self, phone: str | None, email: str | None, external_id: str | None) -> list[dict[str, str]]:
        """The sender's keys as ``SenderIdentity`` fields: the integrator's own id first, then phone, e-mail."""
        keys = []
        if external_id:
            keys.append({"kind": "external", "value": f"{self.channel_id}:{external_id}", "source": "api"})
        if phone:
            keys.append({"kind": "phone", "value": phone, "source": "api"})
        if email:
            keys.append({"kind": "email", "value": email, "source": "api"})
        if not keys:
            raise WebhookRejected(422, "from needs at least one of phone, email, external_id")
        return keys

    def _item(self, body: _InboundBody) -> InboundMessage:
        sender = body.from_
        return InboundMessage(
            provider_id=body.message_id,
            provider_message_id=body.message_id,
            sender=[SenderIdentity(**key) for key in self._identities(sender.phone, sender.email, sender.external_id)],
            sender_name=sender.name or "",
            text=body.text,
            attachments=body.attachments,
            thread_key=body.thread_id,
            message_kind=body.kind,
            subject=body.subject,
            html=body.html,
        )

    def _quick_item(self, body: dict[str, Any]) -> InboundMessage:
        """:meth:`_item` of a body that holds no NUL, validated as a plain dict (every field of
        :class:`_InboundBody` by name, defaults filled in): no body models, one validation of the
        item (the identities as dicts) and no NUL scan. The same item
        (tests/channels/test_api_adapter_items.py)."""
        sender = body["from_"]
        message_id = body["message_id"]
        return InboundMessage.__pydantic_validator__.validate_python(  # model_validate without its Python wrapper
            {
                "provider_id": message_id,
                "provider_message_id": message_id,
                "sender": self._identities(sender["phone"], sender["email"], sender["external_id"]),
                "sender_name": sender["name"] or "",
                "text": body["text"],
                "attachments": body["attachments"],
                "thread_key": body["thread_id"],
                "message_kind": body["kind"],
                "subject": body["subject"],
                "html": body["html"],
            },
            context=NUL_FREE,
        )

    async def send(self, config: ApiChannelConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        if config.outbound_url is None:
            raise PermanentFailure("channel has no outbound_url configured")
        external = message.recipient.first("external")
        prefix = f"{self.channel_id}:"
        body = orjson.dumps(
            {
                "message_id": str(message.message_id),
                "conversation_id": str(message.conversation_id),
                "customer_id": str(message.recipient.customer_id),
                "to": {
                    "external_id": external[len(prefix) :] if external and external.startswith(prefix) else None,
                    "phone": message.recipient.first("phone"),
                    "email": message.recipient.first("email"),
                    "name": message.recipient.name or None,
                },
                "text": message.text,
                "attachments": outbound_attachments(message),
                "thread_id": message.thread_key,
            }
        )
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(config.secret.get_secret_value(), body),
            "idempotency-key": message.idempotency_key,
        }
        try:
            response = await http.post(str(config.outbound_url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        return _interpret(response)


def _interpret(response: httpx.Response) -> SendResult:
    code = response.status_code
    answer = json_object(response)
    if 200 <= code < 300:
        provider_id = answer.get("id")
        return SendResult(provider_message_id=str(provider_id) if provider_id is not None else None)
    reason = receiver_reason(code, error_field(answer))  # never the body itself: any URL may answer anything
    if code == 429:
        raise RetryLater(reason, _retry_after(response))
    if code in (408, 425) or code >= 500:
        raise TemporaryFailure(reason)
    raise PermanentFailure(reason)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", DEFAULT_RETRY_AFTER)))
    except ValueError:
        return DEFAULT_RETRY_AFTER


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"invalid payload at {where}: {err.get('msg', 'invalid')}"
