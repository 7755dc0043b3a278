"""What the fakes of the public review lists (2GIS, Yandex) share: reviews kept newest first,
one page of them cut by offset and size, the demo's reviews, and the contract harness's calls
(a "delivered" text is a new 4-star review; nothing is ever sent, these sites take no replies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from okno.channels.fakes.base import FakeProviderBase


def review_page(reviews: list[dict[str, Any]], *, offset: int, size: int) -> list[dict[str, Any]]:
    """The reviews a page shows; a page past the end is empty, a negative offset or size too."""
    if offset < 0 or size < 1:
        return []
    return reviews[offset : offset + size]


@dataclass
class FakePublicReviews(FakeProviderBase):
    """Subclasses add ``app``, ``channel_config`` and ``add_review`` (the site's own review shape)."""

    time_field: ClassVar[str]  # the review's sortable time, newest first
    forged_body: ClassVar[bytes]  # a webhook these channels never take

    reviews: list[dict[str, Any]] = field(default_factory=list)
    list_calls: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 10, 0, tzinfo=UTC))

    def add_review(self, name: str, rating: int, text: str, *, review_id: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def seed_demo(self) -> None:
        """The demo: a few reviews for the poll worker to find, one of them negative."""
        for name, stars, text in DEMO_REVIEWS:
            self.add_review(name, stars, text)

    def add_recorded(self, review: dict[str, Any]) -> None:
        self.reviews.append(review)
        self.reviews.sort(key=lambda r: r[self.time_field], reverse=True)

    # ---- the contract harness -------------------------------------------------------------

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        self.add_review("Анна К.", 4, text, review_id=user)
        return httpx.Response(200)

    async def redeliver_last(self) -> httpx.Response:
        return httpx.Response(200)  # the list serves the same review again on the next poll

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        return await self.post_webhook(self.forged_body, {"content-type": "application/json"})

    def sent_texts(self) -> list[str]:
        return []


DEMO_REVIEWS = (
    ("Мария Соколова", 1, "Заказ привезли через неделю, на звонки никто не отвечал."),
    ("Игорь", 5, "Быстро доставили, курьер вежливый. Спасибо!"),
    ("Ольга П.", 4, "Хороший магазин, но сайт иногда тормозит."),
)
