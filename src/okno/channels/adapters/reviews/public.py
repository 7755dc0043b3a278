"""The read-only review pollers (2GIS, Yandex): unofficial public review lists, newest first, one
page per poll (docs/reviews.md). Neither platform documents these endpoints or offers a reply
API: they may change or refuse okno at any time, and replies are written in the cabinet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from okno.channels.adapters.reviews import review_context, review_sender
from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    InboundMessage,
    NeedsAction,
    OutboundMessage,
    PermanentFailure,
    PollBatch,
    RetryLater,
    SendResult,
    TemporaryFailure,
    Threading,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from okno.kit.receiver_reasons import status_phrase

PAGE_SIZE = 50
READ_ONLY = Capabilities(
    max_text_length=4096, threading=Threading.per_thread, ingress=frozenset({"poll"}), posts_replies=False,
)

Parsed = tuple[InboundMessage, str]  # the message and its moment (a sortable UTC time string)


def star_rating(value: Any) -> int | None:
    """A 1–5 star rating as the list gave it, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5 else None


def review_item(
    *, platform: str, source: str, review_id: str, when: str, name: str, text: Any, rating: int | None, answered: bool, cabinet_url: str
) -> Parsed:
    """One review of a read-only list as the message okno stores: its own conversation (threaded
    by the review's id), a new message when it is edited (the edit time is in the dedupe key)."""
    context = review_context(platform, rating, 5, answered=answered or None, cabinet_url=cabinet_url or None)
    item = InboundMessage(
        provider_id=f"review:{review_id}:{when}", provider_message_id=review_id, sender=review_sender(platform, review_id, name, source=source),
        sender_name=name, text=text if isinstance(text, str) else "", thread_key=review_id, message_kind="review", context=context,
    )
    return item, when


def moment(value: Any) -> str:
    """An ISO 8601 time as a string that sorts as the time does ("" when it is not one)."""
    if not isinstance(value, str) or len(value) > 40:
        return ""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return parsed.astimezone(UTC).isoformat(timespec="microseconds") if parsed.tzinfo else ""


def next_batch(cursor: dict[str, Any], parsed: list[Parsed], *, more: bool, next_page: int, poll_seconds: float) -> PollBatch:
    """One page of a newest-first walk: items at or after the last pass's newest moment; the
    pass goes on (``page`` in the cursor) while pages remain and nothing older was reached."""
    since, newest = cursor.get("since"), cursor.get("newest")
    items: list[InboundMessage] = []
    reached_old = False
    for item, when in parsed:
        if since and when < since:
            reached_old = True
            break
        items.append(item)
        newest = max(newest or when, when)
    if more and not reached_old:
        return PollBatch(items=items, cursor={"since": since, "newest": newest, "page": next_page}, next_poll_in=0.0)
    return PollBatch(items=items, cursor={"since": newest or since}, next_poll_in=poll_seconds)


async def get_page(http: httpx.AsyncClient, url: str, params: dict[str, Any], platform: str) -> Any:
    try:
        response = await http.get(url, params=params, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    said = f"{platform} {response.status_code}: {status_phrase(response.status_code) or 'error'}"
    if response.status_code == 429:
        raise RetryLater(said, 300.0)
    if response.status_code in (401, 403):
        raise ChannelNeedsAction(f"{said}: the unofficial review list refused okno (its key or format changed?)")
    if response.status_code >= 500:
        raise TemporaryFailure(said)
    if not response.is_success:
        raise PermanentFailure(said)
    try:
        return response.json()
    except ValueError as exc:
        raise TemporaryFailure(f"{platform} answered something that is not JSON (the unofficial format changed?)") from exc


class ReadOnlyReviews:
    """What the read-only review channels share: polled, never replied to through okno."""

    capabilities: ClassVar[Capabilities] = READ_ONLY
    platform: ClassVar[str]
    parse: ClassVar[Callable[[Any], list[Parsed]]]

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: BaseModel, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(405, f"{self.platform} review channels poll for reviews; they take no webhooks")

    async def send(self, config: BaseModel, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        raise NeedsAction(f"{self.platform} has no reply API: answer in the {self.platform} cabinet and mark the review answered")
