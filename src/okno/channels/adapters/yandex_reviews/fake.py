"""A fake of the review list the Yandex Maps site reads (``/maps/api/business/fetchReviews``,
page numbers, newest first). Yandex takes no replies through it: there is nothing to send."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.reviews.fake import FakePublicReviews, review_page


@dataclass
class FakeYandexReviews(FakePublicReviews):
    time_field: ClassVar[str] = "updatedTime"
    forged_body: ClassVar[bytes] = b'{"reviewId":"forged"}'

    organization_id: str = "1124715036"

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/maps/api/business/fetchReviews", self._list, methods=["GET"])])

    def channel_config(self) -> dict[str, Any]:
        return {"organization_id": self.organization_id, "api_base": self.base_url, "poll_seconds": 60}

    def add_review(self, name: str, rating: int, text: str, *, review_id: str | None = None) -> dict[str, Any]:
        review = {
            "reviewId": review_id or secrets.token_urlsafe(24), "businessId": self.organization_id,
            "author": {"name": name, "publicId": secrets.token_hex(10), "professionLevel": "Знаток города 3 уровня"},
            "text": text, "rating": rating, "updatedTime": self._tick().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "reactions": {"likes": 0, "dislikes": 0}, "businessComment": None,
        }  # fmt: skip
        self.reviews = [r for r in self.reviews if r["reviewId"] != review["reviewId"]]
        self.reviews.insert(0, review)
        return review

    async def _list(self, request: Request) -> Response:
        if request.query_params.get("businessId") != self.organization_id:
            return JSONResponse({"error": {"message": "NOT_FOUND"}}, status_code=404)
        self.list_calls += 1
        page, size = int(request.query_params.get("page", "1")), int(request.query_params.get("pageSize", "50"))
        chunk = review_page(self.reviews, offset=(page - 1) * size, size=size)
        pages = max(1, -(-len(self.reviews) // size))
        return JSONResponse({"data": {"reviews": chunk, "params": {"page": page, "pageSize": size, "totalCount": len(self.reviews), "totalPages": pages}}})
