"""A fake of the review list the Yandex Maps site reads (``/maps/api/business/fetchReviews``,
page numbers, newest first). Yandex takes no replies through it: there is nothing to send."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.fakes.base import FakeProviderBase


@dataclass
class FakeYandexReviews(FakeProviderBase):
    organization_id: str = "1124715036"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    list_calls: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 10, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/maps/api/business/fetchReviews", self._list, methods=["GET"])])

    def channel_config(self) -> dict[str, Any]:
        return {"organization_id": self.organization_id, "api_base": self.base_url, "poll_seconds": 60}

    def add_review(self, name: str, rating: int, text: str, *, review_id: str | None = None) -> dict[str, Any]:
        self._clock += timedelta(seconds=1)
        review = {
            "reviewId": review_id or secrets.token_urlsafe(24), "businessId": self.organization_id,
            "author": {"name": name, "publicId": secrets.token_hex(10), "professionLevel": "Знаток города 3 уровня"},
            "text": text, "rating": rating, "updatedTime": self._clock.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "reactions": {"likes": 0, "dislikes": 0}, "businessComment": None,
        }
        self.reviews = [r for r in self.reviews if r["reviewId"] != review["reviewId"]]
        self.reviews.insert(0, review)
        return review

    def seed_demo(self) -> None:
        """The demo: a few reviews for the poll worker to find, one of them negative."""
        for name, stars, text in DEMO_REVIEWS:
            self.add_review(name, stars, text)

    def add_recorded(self, review: dict[str, Any]) -> None:
        self.reviews.append(review)
        self.reviews.sort(key=lambda r: r["updatedTime"], reverse=True)

    async def _list(self, request: Request) -> Response:
        if request.query_params.get("businessId") != self.organization_id:
            return JSONResponse({"error": {"message": "NOT_FOUND"}}, status_code=404)
        self.list_calls += 1
        page, size = int(request.query_params.get("page", "1")), int(request.query_params.get("pageSize", "50"))
        chunk = self.reviews[(page - 1) * size:page * size]
        pages = max(1, -(-len(self.reviews) // size))
        return JSONResponse({"data": {"reviews": chunk, "params": {"page": page, "pageSize": size, "totalCount": len(self.reviews), "totalPages": pages}}})

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        self.add_review("Анна К.", 4, text, review_id=user)
        return httpx.Response(200)

    async def redeliver_last(self) -> httpx.Response:
        return httpx.Response(200)

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        return await self.post_webhook(b'{"reviewId":"forged"}', {"content-type": "application/json"})

    def sent_texts(self) -> list[str]:
        return []


DEMO_REVIEWS = (
    ("Мария Соколова", 1, "Заказ привезли через неделю, на звонки никто не отвечал."),
    ("Игорь", 5, "Быстро доставили, курьер вежливый. Спасибо!"),
    ("Ольга П.", 4, "Хороший магазин, но сайт иногда тормозит."),
)
