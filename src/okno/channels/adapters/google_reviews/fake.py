"""A fake Google Business Profile API: the reviews list (newest changes first, paged with
``nextPageToken``), ``PUT``/``DELETE …/reviews/{id}/reply``, and the OAuth token endpoint that
trades a refresh token for short-lived access tokens. Reviews are added (and edited) in the fake;
okno's poll worker reads them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.reviews.fake import DEMO_REVIEWS
from okno.channels.fakes.base import FakeProviderBase

STARS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}


def _error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


@dataclass
class FakeGoogleReviews(FakeProviderBase):
    account_id: str = "1047301814502173"  # real ids run to 21 digits; okno refuses path ids over 2^63 where the demo mounts this fake
    location_id: str = "830174493217098"
    client_id: str = "okno-test.apps.googleusercontent.com"
    client_secret: str = "GOCSPX-fake-client-secret"
    refresh_token: str = "1//0fake-refresh-token"
    page_size_cap: int = 50
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)  # reviewId -> Review
    tokens: set[str] = field(default_factory=set)  # access tokens the fake accepts
    token_refreshes: int = 0
    list_calls: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 10, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        reviews = f"/v4/accounts/{self.account_id}/locations/{self.location_id}/reviews"
        self.app = Starlette(routes=[
            Route(reviews, self._list, methods=["GET"]),
            Route(reviews + "/{review_id}/reply", self._reply, methods=["PUT", "DELETE"]),
            Route("/token", self._token, methods=["POST"]),
        ])

    def channel_config(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id, "location_id": self.location_id, "client_id": self.client_id, "client_secret": self.client_secret,
            "refresh_token": self.refresh_token, "api_base": self.base_url, "token_url": f"{self.base_url}/token", "poll_seconds": 60,
        }

    # ---- reviews written on Google ---------------------------------------------------------

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.isoformat().replace("+00:00", "Z")

    def add_review(self, name: str, stars: int, comment: str, *, review_id: str | None = None) -> dict[str, Any]:
        """A new review, or (the same ``review_id``) the reviewer editing his review."""
        review_id = review_id or f"AbFvOq{secrets.token_hex(8)}"
        now = self._tick()
        old = self.reviews.get(review_id)
        review = {
            "name": f"accounts/{self.account_id}/locations/{self.location_id}/reviews/{review_id}", "reviewId": review_id,
            "reviewer": {"displayName": name, "profilePhotoUrl": "https://lh3.googleusercontent.com/a/photo", "isAnonymous": False},
            "starRating": STARS[stars], "comment": comment, "createTime": old["createTime"] if old else now, "updateTime": now,
        }
        if old and "reviewReply" in old:
            review["reviewReply"] = old["reviewReply"]
        self.reviews[review_id] = review
        return review

    def seed_demo(self) -> None:
        """The demo: a few reviews for the poll worker to find, one of them negative."""
        for name, stars, text in DEMO_REVIEWS:
            self.add_review(name, stars, text)

    def add_recorded(self, review: dict[str, Any]) -> None:
        self.reviews[review["reviewId"]] = review

    # ---- the API okno calls ---------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.tokens

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description": "The OAuth client was not found."}, status_code=401)
        if form.get("refresh_token") != self.refresh_token:
            return JSONResponse({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, status_code=400)
        token = f"ya29.fake-{secrets.token_hex(12)}"
        self.tokens.add(token)
        self.token_refreshes += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/business.manage", "token_type": "Bearer"})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    async def _list(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        self.list_calls += 1
        size = min(int(request.query_params.get("pageSize", "50")), self.page_size_cap)
        start = int(request.query_params.get("pageToken") or 0)
        ordered = sorted(self.reviews.values(), key=lambda r: r["updateTime"], reverse=True)
        page = ordered[start:start + size]
        body: dict[str, Any] = {"reviews": page, "averageRating": 4.2, "totalReviewCount": len(ordered)}
        if start + size < len(ordered):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    async def _reply(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        review_id = request.path_params["review_id"]
        body = await request.body()
        self.calls.append({"method": request.method, "review_id": review_id, "body": body.decode()})
        failure = self.next_failure()
        if failure is not None:
            if failure.kind == "rate_limit":
                return Response(b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Quota exceeded"}}', status_code=429,
                                headers={"retry-after": str(int(failure.retry_after))}, media_type="application/json")
            if failure.kind == "server_error":
                return _error(503, "UNAVAILABLE", "The service is currently unavailable.")
            return _error(400, "FAILED_PRECONDITION", "The review was removed by the reviewer.")
        review = self.reviews.get(review_id)
        if review is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        if request.method == "DELETE":
            review.pop("reviewReply", None)
            return JSONResponse({})
        comment = orjson.loads(body).get("comment") if body else None
        if not isinstance(comment, str) or not comment.strip():
            return _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        reply = {"comment": comment, "updateTime": self._tick()}
        review["reviewReply"] = reply
        self.sent.append({"review_id": review_id, "text": comment})
        return JSONResponse(reply)

    # ---- the contract harness -------------------------------------------------------------

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        """A reviewer writes a 4-star review (okno reads it on its next poll); ``user`` is its reviewId."""
        self.add_review("Анна К.", 4, text, review_id=user)
        return httpx.Response(200)

    async def redeliver_last(self) -> httpx.Response:
        return httpx.Response(200)  # the list serves the same review again on the next poll

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        """Someone posts a "review" at okno's webhook URL: a polled channel takes none."""
        return await self.post_webhook(b'{"reviewId":"forged","comment":"' + text.encode() + b'"}', {"content-type": "application/json"})

    def sent_texts(self) -> list[str]:
        return [s["text"] for s in self.sent]

