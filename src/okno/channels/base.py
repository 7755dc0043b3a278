"""The contract every channel adapter implements, and the typed values it trades with the core.

Core code talks to adapters only through this module and the registry; it never imports an
adapter and never branches on an adapter's name, only on its declared capabilities.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

import httpx
import orjson
from pydantic import AfterValidator, BaseModel, Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from fastapi import APIRouter

# What an adapter declares about the identity kinds it brings: each kind with its normaliser, and
# the default proof rules for the keys it learns. Re-exported here: adapters import this module.
from okno.customers.identities import InvalidIdentity as InvalidIdentity
from okno.customers.identities import email_kind as email_kind
from okno.customers.identities import opaque_kind as opaque_kind
from okno.customers.identities import phone_kind as phone_kind
from okno.customers.identity_kinds import IdentityKindSpec as IdentityKindSpec
from okno.customers.identity_kinds import Rule as ProofRule  # noqa: F401  (re-exported for adapters)

from okno.channels.attachments import clean_attachments  # noqa: E402
from okno.channels.interactive import NO_INTERACTIVE, Answer, Interactive, InteractiveSupport  # noqa: E402
from okno.kit.blobs import BlobStore  # noqa: E402
from okno.kit.labels import Label as Label  # noqa: E402  (re-exported for adapters)
from okno.kit.labels import labelled as labelled  # noqa: E402  (re-exported for adapters)
from okno.kit.outbound_urls import CALLED_URL as CALLED_URL  # noqa: E402  (re-exported for adapters)


class Threading(StrEnum):
    """How a channel's touches group into conversations.

    ``per_customer`` (messengers): a touch continues the customer's unfinished conversation that
    no thread owns, whichever per-customer channel it comes from. ``per_thread`` (e-mail, calls,
    reviews): touches with the same ``InboundMessage.thread_key`` on the channel share one
    conversation; a message without a key starts its own thread (keyed by its message id).
    ``per_item``: every touch is a conversation of its own. On any channel a message that carries
    a ``thread_key`` is threaded by it (the API channel lets an integration thread explicitly).
    """

    per_customer = "per_customer"
    per_thread = "per_thread"
    per_item = "per_item"


@dataclass(frozen=True)
class Capabilities:
    max_text_length: int
    media_kinds: frozenset[str] = frozenset()
    read_receipts: bool = False
    delivery_statuses: bool = False
    # the adapter implements ``fetch_attachment`` (files are fetched from the provider on demand)
    attachment_download: bool = False
    # the adapter writes inbound files' bytes to okno's blob store itself and marks each attachment
    # with its ``blob_sha256``; ingest records them in ``stored_files`` (okno.channels.kept_files)
    keeps_files: bool = False
    # How long after the customer's last message a free-form reply is allowed (None: always).
    reply_window: timedelta | None = None
    # what an operator's capacity counts a conversation in: "chat", "email" or "call"
    medium: str = "chat"
    # the interactive choices (buttons, quick replies, lists) it shows natively, and their limits
    interactive: InteractiveSupport = NO_INTERACTIVE
    # how its touches group into conversations (see ``Threading``)
    threading: Threading = Threading.per_customer
    # how inbound items arrive: "webhook" (the provider calls /webhooks/{id}) and/or "poll"
    # (the poll worker calls the adapter's ``poll``, see :class:`PollsProvider`); "socket": the
    # customers connect to okno itself (the website widget)
    ingress: frozenset[str] = frozenset({"webhook"})

    @property
    def polls(self) -> bool:
        return "poll" in self.ingress
    # which kinds of operator files the adapter delivers ("image", "file"); empty: none
    outbound_media: frozenset[str] = frozenset()
    # identity kinds the adapter can address a customer by (a customer needs one to be written to)
    address_kinds: frozenset[str] = frozenset()
    # okno may write first (start a conversation) to a customer who has such an identity
    starts_conversations: bool = False
    # the adapter sends pre-approved message templates configured per channel (``OffersTemplates``)
    message_templates: bool = False
    # identity kinds it can deliver a one-time code to, proving that the person who reads the code
    # holds that identity (a messenger: its own user id; an SMS gateway: "phone"; e-mail: "email").
    # See okno.channels.code_delivery and docs/identity-proof.md.
    one_time_codes: frozenset[str] = frozenset()
    # the provider brings customers' messages; False: it only reports on okno's own (an SMS
    # gateway without inbound SMS), so conversations reach it by an operator choosing it
    inbound_messages: bool = True
    # it writes to an address that is the person's own outside any one system (a phone number
    # over the phone network): okno may use it for any customer with an identity of
    # ``address_kinds``, not only for those who wrote through it (okno.conversations.reply_channels)
    public_address: bool = False
    # operators' replies can be posted through the provider; False: read-only (a review site
    # without a reply API: the operator answers in the provider's cabinet and marks it answered)
    posts_replies: bool = True
    # the text is billed in SMS segments: the reply box shows the count (okno.channels.sms_segments)
    sms_segments: bool = False
    # the adapter asks its provider to ring an operator's extension and then the customer
    # (``PlacesCalls``): click-to-call from a conversation
    click_to_call: bool = False
    # the provider keeps one public reply per review and lets okno delete it (``DeletesReplies``)
    deletes_replies: bool = False
    # the customer opens web links straight from the message (e-mail): a survey goes out with one
    # link per score (okno.surveys.links) where the channel shows no buttons
    links: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "max_text_length": self.max_text_length,
            "media_kinds": sorted(self.media_kinds),
            "read_receipts": self.read_receipts,
            "delivery_statuses": self.delivery_statuses,
            "attachment_download": self.attachment_download,
            "reply_window_seconds": self.reply_window.total_seconds() if self.reply_window else None,
            "medium": self.medium,
            "interactive": self.interactive.as_json(),
            "threading": self.threading.value,
            "ingress": sorted(self.ingress),
            "outbound_media": sorted(self.outbound_media),
            "address_kinds": sorted(self.address_kinds),
            "starts_conversations": self.starts_conversations,
            "message_templates": self.message_templates,
            "links": self.links,
            "one_time_codes": sorted(self.one_time_codes),
            "inbound_messages": self.inbound_messages,
            "public_address": self.public_address,
            "posts_replies": self.posts_replies,
            "sms_segments": self.sms_segments,
            "click_to_call": self.click_to_call,
            "deletes_replies": self.deletes_replies,
        }


ConfigT = TypeVar("ConfigT", bound=BaseModel, contravariant=True)


# ---- channel settings ----------------------------------------------------------------------

# The validation context of a config being saved (created or changed by an admin). Checks that
# only new settings must pass (a secret's minimum length) look for it, so a channel saved before
# a check existed still opens and works until an admin changes it.
SAVING: dict[str, Any] = {"saving": True}


def secret_of_at_least(length: int) -> AfterValidator:
    """``secret: Annotated[SecretStr, secret_of_at_least(16)]``: a shorter secret is refused when
    saved (a webhook secret of a few characters is guessed by trying)."""

    def long_enough(value: SecretStr, info: ValidationInfo) -> SecretStr:
        if (info.context or {}).get("saving") and len(value.get_secret_value()) < length:
            raise PydanticCustomError(
                "secret_too_short", "must be at least {length} characters: a shorter secret can be guessed", {"length": length}
            )
        return value

    return AfterValidator(long_enough)


# an http(s) address with a host, optional port and path: the shape of a provider's base URL
PROVIDER_URL_PATTERN = r"^https?://[^\s/]+(:\d+)?(/[^\s]*)?$"
# ``api_base: ProviderUrl = provider_base_url(...)``: a setting okno calls, checked by the outbound
# URL policy when saved
ProviderUrl = Annotated[str, CALLED_URL]


def provider_base_url(default: str, help_en: str | None = None, help_ru: str | None = None, *, en: str = "API address", ru: str = "Адрес API") -> Any:
    """The field of a provider's base URL (the public API by default; a test server or a local
    API server when changed), labelled in both languages."""
    return labelled(en, ru, help_en=help_en, help_ru=help_ru, default=default, pattern=PROVIDER_URL_PATTERN)


# ---- inbound -------------------------------------------------------------------------------


class SenderIdentity(BaseModel):
    """A raw key as the provider gave it; the core normalises it."""

    kind: str
    value: str
    # how the adapter learnt the key ("telegram.own_contact", "widget.typed"…): identity rules
    # decide per (kind, source) whether it proves who the sender is. The first key of a sender
    # is the address the message came from and always does.
    source: str = ""


def without_nul(value: Any) -> Any:
    """PostgreSQL can store no NUL character in text or JSONB; a provider may still send one."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


# validation context of an item built from text that holds no NUL anywhere (a JSON body without
# ``\\u0000``: JSON can carry a NUL in no other way), so the NUL scan below is skipped
NUL_FREE: dict[str, Any] = {"nul_free": True}


class _InboundItem(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _drop_nul(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context is NUL_FREE:
            return data
        return without_nul(data) if _may_have_nul(data) and _has_nul(data) else data  # the usual item is not rebuilt


def _may_have_nul(value: Any) -> bool:
    """A quick look before :func:`_has_nul`'s walk: orjson writes a NUL in any key or string as
    ``\\u0000``, in one C call instead of a Python call per value. Never a false "no": what it
    cannot write (a non-text key, a huge integer) answers "maybe", and so does a text holding
    a backslash followed by ``u0000``; values ``_has_nul`` skips (models) are written as null."""
    try:
        return b"\\u0000" in orjson.dumps(value, default=_skipped)
    except TypeError:
        return True


def _skipped(value: Any) -> None:
    return None


def _has_nul(value: Any) -> bool:
    """Whether :func:`without_nul` would change ``value``. Models given as values are skipped,
    as ``without_nul`` skips them (repr() of a pydantic model costs more than the whole walk)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


MessageKindName = Literal["message", "call", "review", "answer", "system"]  # okno.models.MessageKind


class InboundMessage(_InboundItem):
    kind: Literal["message"] = "message"
    provider_id: str = Field(min_length=1, max_length=255)  # the dedupe key within the channel
    provider_message_id: str | None = None
    sender: list[SenderIdentity] = Field(default_factory=list)
    sender_name: str = ""
    text: str = ""
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)  # page URL, UTM tags, provider extras
    answer: Answer | None = None  # a pressed button / chosen option: stored as kind 'answer'

    # which thread of the channel the touch belongs to (an e-mail's root Message-ID, a call id, a
    # review id); see :class:`Threading`
    thread_key: str | None = Field(default=None, min_length=1, max_length=255)
    # earlier messages this one answers, most specific first (an e-mail's In-Reply-To, then its
    # References newest first; "conversation:<id>" names a conversation): the first that is a
    # message of the same customer on this channel, in a thread, gives the thread instead of
    # ``thread_key`` (see okno.channels.thread_keys.follow_thread_refs)
    thread_refs: list[str] = Field(default_factory=list, max_length=100)
    message_kind: MessageKindName = "message"
    subject: str | None = Field(default=None, max_length=998)
    # as the provider sent it: the pipeline sanitises it before storing, and derives the plain
    # text from it when ``text`` is empty
    html: str | None = None
    # Touches that describe ONE item (a call and its later events) share a key: the first stores
    # the message (``provider_message_id`` = the key), later ones merge their ``content`` into it
    # instead of adding messages (okno.channels.items). None: every touch is a message of its own.
    item_key: str | None = Field(default=None, min_length=1, max_length=255)
    # structured facts of the item (a call's direction, operator, duration…), merged per key
    content: dict[str, Any] | None = None
    # a copy of what this operator sent without okno (his own mail client, the support mailbox in
    # Cc): filed as his outbound message in the conversation it answers, never as a customer's
    # touch (okno.channels.operator_copies)
    operator_id: int | None = None
    # the sender's normalised keys, worked out once per item (the webhook checks them before
    # storing, the pipeline uses them after): (default region, result)
    _sender_keys: tuple[str, Any] | None = PrivateAttr(default=None)

    @field_validator("attachments")
    @classmethod
    def _typed_attachments(cls, attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each field coerced to its type or dropped (``okno.channels.attachments``), for every adapter."""
        return clean_attachments(attachments) if attachments else attachments


def _plain_private_defaults(model: type[BaseModel]) -> None:
    """Sets ``model``'s private attributes to their defaults with one dict copy per instance,
    where pydantic's generic ``init_private_attributes`` (its ``model_post_init`` for models with
    private attributes) walks them and copies each default (a Python call per attribute on the
    webhook's hot path). Only for defaults that are immutable values: otherwise pydantic's stays."""
    defaults: dict[str, Any] = {}
    for name, attribute in model.__private_attributes__.items():
        if attribute.default_factory is not None or not isinstance(attribute.default, (type(None), bool, int, float, str, bytes, tuple)):
            return
        defaults[name] = attribute.default

    def model_post_init(self: BaseModel, context: Any, /) -> None:
        if getattr(self, "__pydantic_private__", None) is None:
            object.__setattr__(self, "__pydantic_private__", dict(defaults))

    model.model_post_init = model_post_init  # type: ignore[method-assign]


_plain_private_defaults(InboundMessage)

DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


class InboundStatus(_InboundItem):
    """A provider's report on one of our outbound messages (applied forwards only)."""

    kind: Literal["status"] = "status"
    provider_message_id: str = Field(min_length=1, max_length=200)
    status: DeliveryStatus
    error: str | None = None
    occurred_at: datetime | None = None

    @property
    def provider_id(self) -> str:
        """The dedupe key: one row per (message, status), so a redelivered status is a no-op."""
        return status_key_prefix(self.provider_message_id) + self.status


def status_key_prefix(provider_message_id: str) -> str:
    return f"status:{provider_message_id}:"


InboundItemModel = Annotated[InboundMessage | InboundStatus, Field(discriminator="kind")]


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookReply:
    """A value (adapters share theirs between requests): frozen, so the usual one is built once."""

    status_code: int = 200
    body: bytes | None = None  # None: okno answers with its own JSON summary
    media_type: str = "application/json"


@dataclass
class WebhookResult:
    items: list[InboundMessage | InboundStatus] = field(default_factory=list)
    reply: WebhookReply = WebhookReply()  # okno's own JSON summary, 200


class WebhookRejected(Exception):
    """Verification or parsing refused the request; nothing is stored."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def json_body(body: bytes) -> Any:
    """The request body as JSON, or a 400 refusal saying why it isn't."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc}") from exc


# ---- outbound ------------------------------------------------------------------------------


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A provider's answer as a JSON object; ``{}`` when it is not one (an HTML error page from a
    proxy, an empty body…), so callers read fields without guarding every access."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Recipient:
    customer_id: int
    name: str
    identities: tuple[tuple[str, str], ...]  # (kind, normalised value)

    def first(self, kind: str) -> str | None:
        return next((v for k, v in self.identities if k == kind), None)


@dataclass(frozen=True)
class OutboundFile:
    """A file an operator sends, as the delivery worker hands it to the adapter."""

    stored_file_id: int
    kind: str  # "image" (shown inline) or "file" (a document)
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    blobs: BlobStore = field(repr=False, compare=False)
    # a signed, expiring link to the file, for channels whose receiver fetches it itself
    download_url: str | None = None

    async def read(self) -> bytes:
        return await asyncio.to_thread(self.blobs.read, self.storage_key)


@dataclass(frozen=True)
class MessageTemplate:
    """A pre-approved message (a WhatsApp template) as an admin configured it on the channel."""

    name: str
    language: str
    body_parameters: int
    preview: str  # the approved body with {{1}}, {{2}}… where the parameters go

    def render(self, parameters: tuple[str, ...] | list[str]) -> str:
        return re.sub(r"\{\{(\d+)\}\}", lambda m: _nth(parameters, int(m.group(1))) or m.group(0), self.preview)


def _nth(parameters: tuple[str, ...] | list[str], n: int) -> str | None:
    return parameters[n - 1] if 1 <= n <= len(parameters) else None


@dataclass(frozen=True)
class OutboundTemplate:
    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    message_id: int
    conversation_id: int
    text: str
    recipient: Recipient
    idempotency_key: str
    attempt: int
    attachments: tuple[dict[str, Any], ...] = ()
    # choices to show with the text, in a style the adapter declared (core sends the rest as text)
    interactive: Interactive | None = None
    # set when the conversation is a thread (e-mail: the root Message-ID to reply under)
    thread_key: str | None = None
    # operator files, sent before the text (the adapter's media helpers upload or link them)
    files: tuple[OutboundFile, ...] = ()
    # a pre-approved template instead of free text (``text`` holds its rendered body)
    template: OutboundTemplate | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None = None


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str | None = None


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(DeliveryError):
    """The provider asked us to wait (rate limit): retry after the hinted delay."""

    def __init__(self, reason: str, after_seconds: float) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class TemporaryFailure(DeliveryError):
    """Network trouble or a provider 5xx: retry with backoff."""


class PermanentFailure(DeliveryError):
    """The provider refused for good (blocked, invalid recipient…): the message fails with this reason."""


class NeedsAction(PermanentFailure):
    """Fails now, and an operator must act (reply window closed, channel token revoked…)."""


class ChannelNeedsAction(NeedsAction):
    """The channel itself needs an admin (a revoked token, a blocked account): besides failing
    this message or poll, the channel's health turns ``needs_action`` with this reason."""


# ---- polling ingress -----------------------------------------------------------------------


@dataclass(frozen=True)
class PollBatch:
    """What one poll found. ``cursor`` is where the next poll starts (an IMAP UIDVALIDITY+UID,
    a review platform's last timestamp…); it is stored in the same transaction as ``items``,
    so a crash before that commit polls the same items again (deduplicated by provider id)."""

    items: list[InboundMessage | InboundStatus]
    cursor: dict[str, Any]
    next_poll_in: float = 60.0  # seconds until the next poll (shorter when more is waiting)
    raw: bytes = b""  # the provider's answer, kept with the raw items


class PollsProvider(Protocol, Generic[ConfigT]):
    """Adapters whose capabilities' ``ingress`` includes "poll" also implement this. Raise
    ``RetryLater`` (the provider's hint is kept), ``TemporaryFailure`` (backoff) or
    ``ChannelNeedsAction`` (a 401: backoff and the channel needs an admin)."""

    async def poll(self, config: ConfigT, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch: ...


# ---- the adapter protocol ------------------------------------------------------------------


class ChannelAdapter(Protocol, Generic[ConfigT]):
    kind: ClassVar[str]
    title: ClassVar[str]
    # Optional: the title in every UI language when it is not a brand name said the same in all
    # (``Label(en="Website chat", ru="Чат на сайте")``); read with :func:`kind_titles`.
    # title_label: ClassVar[Label]
    # optional: what the admin pastes into a website to put the channel there, with {base_url} and
    # {channel_id} to fill in (the widget's <script> tag), shown instead of a webhook URL
    # embed_code: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    capabilities: ClassVar[Capabilities]
    # Optional (the registry reads them with defaults): the identity kinds this channel brings,
    # each with its normaliser, and default proof rules for the keys it learns ((kind, source)).
    # identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = ()
    # proof_rules: ClassVar[tuple[ProofRule, ...]] = ()

    def handle_webhook(self, config: ConfigT, request: WebhookRequest) -> WebhookResult:
        """Verify and parse one provider request. CPU only: runs on the hot path."""
        ...

    async def send(self, config: ConfigT, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        """Hand one message to the provider, or raise a DeliveryError subclass."""
        ...


class OwnsRoutes(Protocol):
    """An adapter that serves HTTP itself (the widget's script and socket, a provider's echo
    check) returns its router here; the registry mounts it. Handlers reach okno through
    ``okno.channels.runtime`` (``adapter_runtime``), never through the application context."""

    @classmethod
    def routes(cls) -> APIRouter: ...


class DownloadsAttachments(Protocol, Generic[ConfigT]):
    """Adapters whose capabilities say ``attachment_download`` also implement this."""

    async def fetch_attachment(self, config: ConfigT, attachment: dict[str, Any], http: httpx.AsyncClient) -> Download: ...


class AcknowledgesAnswers(Protocol, Generic[ConfigT]):
    """Adapters whose provider wants each button press answered (the client shows a spinner
    until then) implement this; core calls it after the presses are stored, off the webhook's
    answer path. Best effort: a failure is logged, the answers are kept."""

    async def acknowledge_answers(self, config: ConfigT, answers: list[InboundMessage], http: httpx.AsyncClient) -> None: ...


class OffersTemplates(Protocol, Generic[ConfigT]):
    """Adapters whose capabilities say ``message_templates`` list the templates a channel offers."""

    def templates(self, config: ConfigT) -> list[MessageTemplate]: ...


class PlacesCalls(Protocol, Generic[ConfigT]):
    """Adapters whose capabilities say ``click_to_call`` implement this: the provider rings the
    operator's ``extension`` and, once he picks up, ``phone`` (E.164). Raises a DeliveryError
    subclass with the provider's reason when it refuses."""

    async def place_call(self, config: ConfigT, *, extension: str, phone: str, http: httpx.AsyncClient) -> None: ...


class DeletesReplies(Protocol, Generic[ConfigT]):
    """Adapters whose capabilities say ``deletes_replies`` implement this: the public reply to the
    review ``thread_key`` names is deleted at the provider. Raises a DeliveryError subclass with the
    provider's reason when it refuses."""

    async def delete_reply(self, config: ConfigT, review_id: str, http: httpx.AsyncClient) -> None: ...


class AttachmentUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def kind_titles(adapter: type) -> dict[str, str]:
    """An adapter's title in every UI language: its ``title_label`` or, for a brand name, its
    ``title`` in all of them."""
    label = getattr(adapter, "title_label", None)
    return label.as_json() if isinstance(label, Label) else {"en": adapter.title, "ru": adapter.title}
