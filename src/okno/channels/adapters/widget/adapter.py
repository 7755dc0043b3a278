"""The website chat widget: okno is its own provider. Visitors connect over a WebSocket
(``/ws/widget/{channel_id}``); operator replies are appended to the visitor's durable stream and
pushed to every open tab."""

from __future__ import annotations

import secrets
from typing import ClassVar, Literal

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from okno.channels.adapters.widget import interactive
from okno.channels.adapters.widget.streams import VisitorHub, append_event, event_by_client_id, wire_event
from okno.channels.base import (
    Capabilities,
    IdentityKindSpec,
    Label,
    OutboundMessage,
    PermanentFailure,
    ProofRule,
    SendResult,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    labelled,
    opaque_kind,
)
from okno.channels.runtime import AdapterRuntime

MAX_TEXT = 4096


class WidgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[str] = labelled(
        "Allowed sites", "Разрешённые сайты",
        help_en='sites allowed to embed the chat, e.g. https://shop.example; "*" allows any',
        help_ru='сайты, на которых можно разместить чат, например https://shop.example; "*" — любые',
        min_length=1,
    )
    title: str = labelled("Chat title", "Заголовок чата", help_en="shown at the top of the chat", help_ru="виден вверху окна чата", default="Чат с поддержкой", max_length=80)
    greeting: str = labelled(
        "Greeting", "Приветствие", help_en="the first message a visitor sees", help_ru="первое сообщение, которое видит посетитель",
        default="Здравствуйте! Чем можем помочь?", max_length=500,
    )
    language: Literal["auto", "ru", "en"] = labelled(
        "Chat language", "Язык чата",
        help_en="the chat's buttons and hints: auto follows the site page's lang, then the visitor's browser",
        help_ru="язык кнопок и подсказок чата: auto — по атрибуту lang страницы сайта, затем по браузеру посетителя",
        default="auto",
    )
    token_secret: SecretStr = labelled(
        "Token secret", "Секрет токенов", help_en="signs visitor tokens (generated)", help_ru="подписывает токены посетителей (создаётся сам)",
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            origin = origin.strip().rstrip("/")
            if origin != "*" and (not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]):
                raise PydanticCustomError("not_an_origin", "{origin} is not an origin like https://shop.example", {"origin": repr(origin)})
            cleaned.append(origin)
        return cleaned

    def allows(self, origin: str | None) -> bool:
        return "*" in self.allowed_origins or (origin or "").rstrip("/") in self.allowed_origins


def _files(channel_id: int, message: OutboundMessage) -> dict:
    from okno.channels.adapters.widget.media import file_entries  # the route module needs the app context

    return {"files": file_entries(channel_id, message)} if message.files else {}


class WidgetChannel:
    kind: ClassVar[str] = "widget"
    title: ClassVar[str] = "Чат на сайте"
    title_label: ClassVar[Label] = Label(en="Website chat", ru="Чат на сайте")
    config_model: ClassVar[type[BaseModel]] = WidgetConfig
    # files go as links the visitor's token opens; the widget can't start a conversation: a
    # visitor must have the page open, and okno can't reach one who left
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT, read_receipts=True, delivery_statuses=True, interactive=interactive.SUPPORT,
        outbound_media=frozenset({"image", "file"}), address_kinds=frozenset({"web"}), starts_conversations=False,
        ingress=frozenset({"socket"}),  # visitors connect over /ws/widget/{id}; nothing posts webhooks
    )
    # what the admin pastes into the website (shown instead of a webhook URL): okno serves the script
    embed_code: ClassVar[str] = '<script src="{base_url}/widget/{channel_id}.js" async></script>'
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (IdentityKindSpec("web", opaque_kind, "a website visitor id"),)
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        # anyone can type anyone's phone: evidence for a merge suggestion until a one-time code
        # proves it (widget/verification.py; docs/identity-proof.md)
        ProofRule("phone", "widget.typed", False, "typed by a website visitor: evidence only, proven by a one-time code"),
        ProofRule("email", "widget.typed", False, "typed by a website visitor: evidence only, proven by a one-time code"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self._runtime: AdapterRuntime | None = None

    def bind_runtime(self, runtime: AdapterRuntime) -> None:
        self._runtime = runtime

    @classmethod
    def routes(cls) -> APIRouter:
        """The script, visitor sessions and the visitor socket (``routes.py``)."""
        from okno.channels.adapters.widget.routes import router

        return router

    def handle_webhook(self, config: WidgetConfig, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(405, f"widget visitors connect over the WebSocket at /ws/widget/{self.channel_id}")

    async def send(self, config: WidgetConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        if self._runtime is None:
            raise RuntimeError("widget adapter used without its runtime")
        visitor_id = message.recipient.first("web")
        if visitor_id is None:
            raise PermanentFailure("the customer has never chatted on the website")
        provider_message_id = f"{interactive.MESSAGE_PREFIX}{message.idempotency_key}"
        async with self._runtime.db.transaction() as session:
            if await event_by_client_id(session, self.channel_id, visitor_id, message.idempotency_key):
                return SendResult(provider_message_id=provider_message_id)  # a retry appends nothing new
            event = await append_event(
                session,
                channel_id=self.channel_id,
                visitor_id=visitor_id,
                kind="agent",
                client_id=message.idempotency_key,
                payload={"message_id": provider_message_id, "text": message.text, **_files(self.channel_id, message)}
                | ({"interactive": message.interactive.model_dump(exclude_none=True)} if message.interactive else {}),
            )
        await self._runtime.hub(VisitorHub).publish((self.channel_id, visitor_id), wire_event(event))
        return SendResult(provider_message_id=provider_message_id)
