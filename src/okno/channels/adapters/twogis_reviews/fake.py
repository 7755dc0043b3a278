"""A fake of 2GIS's public review list (``/2.0/branches/{id}/reviews``, offset paging, newest
first). 2GIS takes no replies through it: there is nothing to send."""

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
class FakeTwoGisReviews(FakePublicReviews):
    time_field: ClassVar[str] = "date_created"
    forged_body: ClassVar[bytes] = b'{"id":"forged"}'

    branch_id: str = "70000001057394703"
    key: str = "37c04fe6-a560-4549-b459-02309cf643ad"

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/2.0/branches/{branch_id}/reviews", self._list, methods=["GET"])])

    def channel_config(self) -> dict[str, Any]:
        return {"branch_id": self.branch_id, "key": self.key, "api_base": self.base_url, "poll_seconds": 60}

    def add_review(self, name: str, rating: int, text: str, *, review_id: str | None = None) -> dict[str, Any]:
        now = self._tick().isoformat(timespec="seconds")  # 2GIS writes local offsets: "+07:00" would do as well
        review = {
            "id": review_id or str(140_000_000 + secrets.randbelow(10_000_000)), "rating": rating, "text": text,
            "user": {"id": secrets.token_hex(6), "name": name, "photo_preview_urls": {}}, "date_created": now, "date_edited": None,
            "official_answer": None, "likes_count": 0, "comments_count": 0, "is_hidden": False,
        }  # fmt: skip
        self.reviews.insert(0, review)
        return review

    async def _list(self, request: Request) -> Response:
        if request.path_params["branch_id"] != self.branch_id:
            return JSONResponse({"meta": {"code": 404, "error": {"type": "itemNotFound", "message": "Branch not found"}}}, status_code=404)
        if request.query_params.get("key") != self.key:
            return JSONResponse({"meta": {"code": 403, "error": {"type": "keyIsBlocked", "message": "Key is blocked or invalid"}}}, status_code=403)
        self.list_calls += 1
        limit, offset = int(request.query_params.get("limit", "20")), int(request.query_params.get("offset", "0"))
        page = review_page(self.reviews, offset=offset, size=limit)
        return JSONResponse({"meta": {"code": 200, "total_count": len(self.reviews), "branch_rating": 4.4}, "reviews": page})
