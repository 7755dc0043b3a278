"""A fake of 2GIS's public review list (``/2.0/branches/{id}/reviews``, offset paging, newest
first). 2GIS takes no replies through it: there is nothing to send."""

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
class FakeTwoGisReviews(FakeProviderBase):
    branch_id: str = "70000001057394703"
    key: str = "37c04fe6-a560-4549-b459-02309cf643ad"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    list_calls: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 10, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/2.0/branches/{branch_id}/reviews", self._list, methods=["GET"])])

    def channel_config(self) -> dict[str, Any]:
        return {"branch_id": self.branch_id, "key": self.key, "api_base": self.base_url, "poll_seconds": 60}

    def add_review(self, name: str, rating: int, text: str, *, review_id: str | None = None) -> dict[str, Any]:
        self._clock += timedelta(seconds=1)
        now = self._clock.isoformat(timespec="seconds")  # 2GIS writes local offsets: "+07:00" would do as well
        review = {
            "id": review_id or str(140_000_000 + secrets.randbelow(10_000_000)), "rating": rating, "text": text,
            "user": {"id": secrets.token_hex(6), "name": name, "photo_preview_urls": {}}, "date_created": now, "date_edited": None,
            "official_answer": None, "likes_count": 0, "comments_count": 0, "is_hidden": False,
        }
        self.reviews.insert(0, review)
        return review

    def seed_demo(self) -> None:
        """The demo: a few reviews for the poll worker to find, one of them negative."""
        for name, stars, text in DEMO_REVIEWS:
            self.add_review(name, stars, text)

    def add_recorded(self, review: dict[str, Any]) -> None:
        self.reviews.append(review)
        self.reviews.sort(key=lambda r: r["date_created"], reverse=True)

    async def _list(self, request: Request) -> Response:
        if request.path_params["branch_id"] != self.branch_id:
            return JSONResponse({"meta": {"code": 404, "error": {"type": "itemNotFound", "message": "Branch not found"}}}, status_code=404)
        if request.query_params.get("key") != self.key:
            return JSONResponse({"meta": {"code": 403, "error": {"type": "keyIsBlocked", "message": "Key is blocked or invalid"}}}, status_code=403)
        self.list_calls += 1
        limit, offset = int(request.query_params.get("limit", "20")), int(request.query_params.get("offset", "0"))
        page = self.reviews[offset:offset + limit]
        return JSONResponse({"meta": {"code": 200, "total_count": len(self.reviews), "branch_rating": 4.4}, "reviews": page})

    # ---- the contract harness -------------------------------------------------------------

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        self.add_review("Анна К.", 4, text, review_id=user)
        return httpx.Response(200)

    async def redeliver_last(self) -> httpx.Response:
        return httpx.Response(200)  # the list serves the same review again on the next poll

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        return await self.post_webhook(b'{"id":"forged"}', {"content-type": "application/json"})

    def sent_texts(self) -> list[str]:
        return []


DEMO_REVIEWS = (
    ("Мария Соколова", 1, "Заказ привезли через неделю, на звонки никто не отвечал."),
    ("Игорь", 5, "Быстро доставили, курьер вежливый. Спасибо!"),
    ("Ольга П.", 4, "Хороший магазин, но сайт иногда тормозит."),
)
