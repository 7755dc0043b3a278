"""Events the reviews domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class ReviewNegative(EventType, topic="review.negative"):
    """A review of 1–2 stars (or as low on another scale) arrived: its conversation is now high priority."""

    conversation_id: int
    customer_id: int
    channel_id: int
    message_id: int
    stars: int  # on five stars
    rating: int  # on the platform's own scale
    scale: int
    platform: str
