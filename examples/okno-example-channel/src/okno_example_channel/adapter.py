"""The guestbook channel: entries are polled in, operator replies are posted back.

Everything okno needs is declared on the class: kind, settings model, capabilities (polling
ingress), identity kinds with their normaliser and proof rules, and the routes it serves.
Only ``okno.channels.base`` and ``okno.channels.runtime`` are imported from okno: the contract
every channel adapter implements.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    IdentityKindSpec,
    InboundMessage,
    InvalidIdentity,
    OutboundMessage,
    PermanentFailure,
    PollBatch,
    ProofRule,
    RetryLater,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from okno.channels.runtime import Runtime

KIND = "guestbook"
MAX_TEXT = 2000
PAGE = 50
_HANDLE = re.compile(r"[a-z0-9_.]{3,32}")


def normalise_handle(raw: str, default_region: str) -> str:
    """``" @Anna_K "`` → ``"anna_k"``: the guestbook ignores case and the leading ``@``."""
    handle = raw.strip().removeprefix("@").lower()
    if not _HANDLE.fullmatch(handle):
        raise InvalidIdentity(f"not a guestbook handle: {raw!r} (3–32 of a-z, 0-9, _ and .)")
    return handle


class GuestbookConfig(BaseModel):
    """Connect a guestbook: its API address and key; okno polls it for new entries."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://", description="the guestbook API, e.g. https://guestbook.example")
    api_key: SecretStr = Field(min_length=8, description="the guestbook's API key")
    poll_seconds: float = Field(default=30.0, ge=0.05, le=3600, description="how often to look for new entries")


class _Author(BaseModel):
    handle: str
    name: str = ""
    phone: str | None = None
    phone_verified: bool = False
    email: str | None = None


class _Entry(BaseModel):
    id: int
    author: _Author
    text: str = ""


class _Page(BaseModel):
    entries: list[_Entry]
    has_more: bool = False


class GuestbookChannel:
    kind: ClassVar[str] = KIND
    title: ClassVar[str] = "Guestbook (example plugin)"
    config_model: ClassVar[type[BaseModel]] = GuestbookConfig
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=MAX_TEXT, ingress=frozenset({"poll"}))
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (IdentityKindSpec(KIND, normalise_handle, "a guestbook handle"),)
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (
        ProofRule("phone", "guestbook.verified_phone", True, "a phone number the guestbook verified by SMS"),
        ProofRule("email", "guestbook.profile", False, "an e-mail typed into a guestbook profile (evidence only)"),
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: GuestbookConfig, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(405, "guestbook channels poll for entries; they take no webhooks")

    async def poll(self, config: GuestbookConfig, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch:
        after = int(cursor.get("last_id", 0))
        response = await http.get(
            f"{config.base_url.rstrip('/')}/api/entries",
            params={"after": after, "limit": PAGE},
            headers=_auth(config),
        )
        _raise_for_status(response)
        try:
            page = _Page.model_validate_json(response.content)
        except ValidationError as exc:
            raise TemporaryFailure(f"guestbook answered something unreadable: {exc.errors()[0]['msg']}") from exc
        items = [self._message(entry) for entry in page.entries]
        last_id = max((entry.id for entry in page.entries), default=after)
        return PollBatch(
            items=items,
            cursor={"last_id": last_id},
            next_poll_in=0.0 if page.has_more else config.poll_seconds,
            raw=response.content,
        )

    def _message(self, entry: _Entry) -> InboundMessage:
        author = entry.author
        sender = [SenderIdentity(kind=KIND, value=author.handle)]
        if author.phone and author.phone_verified:
            sender.append(SenderIdentity(kind="phone", value=author.phone, source="guestbook.verified_phone"))
        if author.email:
            sender.append(SenderIdentity(kind="email", value=author.email, source="guestbook.profile"))
        return InboundMessage(
            provider_id=f"entry:{entry.id}",
            provider_message_id=str(entry.id),
            sender=sender,
            sender_name=author.name,
            text=entry.text,
        )

    async def send(self, config: GuestbookConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        handle = message.recipient.first(KIND)
        if handle is None:
            raise PermanentFailure("the customer has never written in the guestbook")
        response = await http.post(
            f"{config.base_url.rstrip('/')}/api/replies",
            json={"to": handle, "text": message.text[:MAX_TEXT], "idempotency_key": message.idempotency_key},
            headers=_auth(config),
        )
        _raise_for_status(response)
        return SendResult(provider_message_id=str(response.json()["id"]))

    @classmethod
    def routes(cls) -> APIRouter:
        return router


def _auth(config: GuestbookConfig) -> dict[str, str]:
    return {"authorization": f"Bearer {config.api_key.get_secret_value()}"}


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail = response.text[:200]
    if response.status_code == 401:
        raise ChannelNeedsAction(f"the guestbook refused the API key (401): {detail}")
    if response.status_code == 429:
        raise RetryLater(f"the guestbook asks to slow down: {detail}", float(response.headers.get("retry-after", "30")))
    if response.status_code >= 500:
        raise TemporaryFailure(f"guestbook {response.status_code}: {detail}")
    raise PermanentFailure(f"guestbook {response.status_code}: {detail}")


# ---- the channel's own routes -----------------------------------------------------------------

router = APIRouter(prefix="/channels/guestbook", tags=["guestbook (example plugin)"])


@router.get("/{channel_id}/echo", summary="The guestbook's echo check when an admin connects it")
async def echo(channel_id: int, runtime: Runtime, challenge: str = Query(min_length=1, max_length=200)) -> JSONResponse:
    channel = await runtime.channel(channel_id)
    if channel is None or channel.kind != KIND:
        return JSONResponse({"detail": f"no guestbook channel {channel_id}"}, status_code=404)
    return JSONResponse({"challenge": challenge, "channel": channel.name})
