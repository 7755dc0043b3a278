"""A review whose rating is 1–2 of 5 (after scaling) raises its conversation to high priority and
records ``review.negative`` (automation rules can run on it). Called by the ingest pipeline in
the transaction that stores the review; reads only ``context["review"]`` that review adapters set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_events
from okno.models import Conversation, Priority
from okno.reviews.events import ReviewNegative

NEGATIVE_AT_MOST = 2  # stars of five


@dataclass(frozen=True)
class ReviewTouch:
    context: dict[str, Any]
    conversation_id: int
    customer_id: int
    channel_id: int
    message_id: int


@dataclass(frozen=True)
class Rating:
    stars: int  # on five
    rating: int
    scale: int
    platform: str


def negative(context: dict[str, Any]) -> Rating | None:
    """The rating of a negative review's context, or None (not negative, or no rating)."""
    review = context.get("review") if isinstance(context, dict) else None
    if not isinstance(review, dict):
        return None
    rating, scale = review.get("rating"), review.get("scale")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rating, scale)) or scale <= 0 or rating < 0:
        return None
    stars = max(1, round(rating * 5 / scale)) if rating else 0
    if not 1 <= stars <= NEGATIVE_AT_MOST:
        return None  # 0: no rating given
    return Rating(stars=stars, rating=rating, scale=scale, platform=str(review.get("platform") or ""))


async def flag_negative_reviews(session: AsyncSession, touches: list[ReviewTouch]) -> None:
    events = []
    for touch in touches:
        found = negative(touch.context)
        if found is None:
            continue
        events.append(
            ReviewNegative(
                conversation_id=touch.conversation_id, customer_id=touch.customer_id, channel_id=touch.channel_id, message_id=touch.message_id,
                stars=found.stars, rating=found.rating, scale=found.scale, platform=found.platform,
            )
        )
    if not events:
        return
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_({e.conversation_id for e in events}), Conversation.priority < Priority.high.value)
        .values(priority=Priority.high.value)
    )
    await record_events(session, events)
