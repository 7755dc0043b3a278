"""Google Business Profile reviews: polled in, replies PUT back (docs/channel-protocols.md §8,
docs/reviews.md).

One poll reads ONE page of ``GET /v4/accounts/{a}/locations/{l}/reviews`` (newest changes first)
and keeps its ``nextPageToken`` in the cursor, so a location with 10,000 reviews is walked page
by page and never held in memory. A pass stops at the first review older than the last pass's
newest ``updateTime``; the next pass starts from the top again. An item's provider id is
(reviewId, updateTime): an edited review is a new message in the review's own conversation.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from okno.channels.adapters.reviews import REVIEWER_KIND, review_context, review_sender, reviewer_rule
from okno.channels.adapters.reviews.public import moment as sortable_time
from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    IdentityKindSpec,
    InboundMessage,
    Label,
    OutboundMessage,
    PermanentFailure,
    PollBatch,
    ProofRule,
    ProviderUrl,
    RetryLater,
    SendResult,
    TemporaryFailure,
    Threading,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    json_object,
    opaque_kind,
    provider_base_url,
)
from okno.kit.labels import labelled
from okno.kit.receiver_reasons import short_text, status_phrase

PLATFORM = "google"
PAGE_SIZE = 50  # the API's maximum
MAX_REPLY = 4096
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
SOURCE = "google_reviews.display_name"


class GoogleReviewsConfig(BaseModel):
    """Google Business Profile reviews of one location: polled in, answered with the review's reply."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"x-help": {
        "en": "Google Business Profile reviews of one location: polled in, answered with the review's reply.",
        "ru": "Отзывы одной точки в Google Business Profile: забираются опросом, ответ публикуется ответом на отзыв.",
    }})

    account_id: str = labelled("Account id", "Id аккаунта", pattern=r"^\d{1,40}$", help_en="accounts/{id} in Google Business Profile", help_ru="accounts/{id} в Google Business Profile")
    location_id: str = labelled("Location id", "Id точки", pattern=r"^\d{1,40}$", help_en="locations/{id}: the business location whose reviews to read", help_ru="locations/{id}: точка, чьи отзывы читать")
    access_token: SecretStr | None = labelled(
        "Access token", "Токен доступа", default=None,
        help_en="an OAuth access token with the business.manage scope (or give the refresh credentials below)",
        help_ru="OAuth-токен с правом business.manage (или укажите данные для обновления ниже)",
    )
    client_id: str | None = labelled("OAuth client id", "OAuth client id", default=None, max_length=300)
    client_secret: SecretStr | None = labelled("OAuth client secret", "OAuth client secret", default=None)
    refresh_token: SecretStr | None = labelled("OAuth refresh token", "OAuth refresh token", default=None, help_en="okno gets fresh access tokens with it", help_ru="по нему okno получает новые токены доступа")
    api_base: ProviderUrl = provider_base_url("https://mybusiness.googleapis.com")
    token_url: ProviderUrl = provider_base_url("https://oauth2.googleapis.com/token", en="Token address", ru="Адрес выдачи токенов")
    poll_seconds: float = labelled("Poll every (seconds)", "Опрашивать каждые (секунд)", default=300.0, ge=1, le=86_400)

    @model_validator(mode="after")
    def _some_credentials(self) -> GoogleReviewsConfig:
        refresh = (self.client_id, self.client_secret, self.refresh_token)
        if self.access_token is None and not all(refresh):
            raise ValueError("give access_token, or client_id, client_secret and refresh_token")
        return self

    def reviews_url(self, *path: str) -> str:
        base = f"{self.api_base.rstrip('/')}/v4/accounts/{quote(self.account_id)}/locations/{quote(self.location_id)}/reviews"
        return "/".join([base, *(quote(p, safe="") for p in path)])


class GoogleReviewsChannel:
    kind: ClassVar[str] = "google_reviews"
    title: ClassVar[str] = "Google reviews"
    title_label: ClassVar[Label] = Label(en="Google reviews", ru="Отзывы Google")
    config_model: ClassVar[type[BaseModel]] = GoogleReviewsConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_REPLY,
        threading=Threading.per_thread,
        ingress=frozenset({"poll"}),
        address_kinds=frozenset({"google_review"}),
        deletes_replies=True,
    )
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (
        IdentityKindSpec("google_review", opaque_kind, "a Google review (its reviewId): the reviewer has no stable id"),
        REVIEWER_KIND,
    )
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (reviewer_rule(SOURCE, "Google"),)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self._token: tuple[str, float] | None = None  # a refreshed access token and when it expires

    def handle_webhook(self, config: GoogleReviewsConfig, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(405, "Google review channels poll for reviews; they take no webhooks")

    # ---- polling -------------------------------------------------------------------------

    async def poll(self, config: GoogleReviewsConfig, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch:
        since, newest, page_token = cursor.get("since"), cursor.get("newest"), cursor.get("page_token")
        params: dict[str, Any] = {"pageSize": PAGE_SIZE, "orderBy": "updateTime desc"}
        if page_token:
            params["pageToken"] = page_token
        response = await self._call(http, config, "GET", config.reviews_url(), params=params)
        data = json_object(response)
        reviews = data.get("reviews") if isinstance(data.get("reviews"), list) else []
        items: list[InboundMessage] = []
        reached_old = False
        for raw in reviews:
            item, updated = _review(raw)
            if item is None:
                continue
            if since and updated < since:
                reached_old = True
                break
            items.append(item)
            newest = max(newest or updated, updated)
        next_token = data.get("nextPageToken")
        if isinstance(next_token, str) and next_token and not reached_old:
            return PollBatch(items=items, cursor={"since": since, "newest": newest, "page_token": next_token}, next_poll_in=0.0)
        return PollBatch(items=items, cursor={"since": newest or since}, next_poll_in=config.poll_seconds)

    # ---- replies -------------------------------------------------------------------------

    async def send(self, config: GoogleReviewsConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        review_id = message.thread_key or message.recipient.first("google_review")
        if not review_id:
            raise PermanentFailure("the conversation is not a Google review: nothing to reply to")
        url = config.reviews_url(review_id, "reply")
        if not message.text.strip():
            await self._call(http, config, "DELETE", url)
            return SendResult(provider_message_id=f"{review_id}:reply-deleted")
        response = await self._call(http, config, "PUT", url, json={"comment": message.text})
        updated = json_object(response).get("updateTime")
        return SendResult(provider_message_id=f"{review_id}:reply:{updated}" if isinstance(updated, str) else f"{review_id}:reply")

    async def delete_reply(self, config: GoogleReviewsConfig, review_id: str, http: httpx.AsyncClient) -> None:
        await self._call(http, config, "DELETE", config.reviews_url(review_id, "reply"))

    # ---- the API with its token ----------------------------------------------------------

    async def _call(self, http: httpx.AsyncClient, config: GoogleReviewsConfig, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self._request(http, config, method, url, await self._access_token(http, config), **kwargs)
        if response.status_code == 401 and _can_refresh(config):
            self._token = None  # expired early or revoked: one fresh token, one more try
            response = await self._request(http, config, method, url, await self._access_token(http, config, force=True), **kwargs)
        if response.is_success:
            return response
        raise classify(response)

    async def _request(self, http: httpx.AsyncClient, config: GoogleReviewsConfig, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response:
        try:
            return await http.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc

    async def _access_token(self, http: httpx.AsyncClient, config: GoogleReviewsConfig, *, force: bool = False) -> str:
        if not _can_refresh(config):
            return config.access_token.get_secret_value()  # type: ignore[union-attr]
        if self._token and self._token[1] > time.monotonic() and not force:
            return self._token[0]
        if config.access_token is not None and not force and self._token is None:
            self._token = (config.access_token.get_secret_value(), time.monotonic() + 60)  # used until it is refused
            return self._token[0]
        form = {
            "grant_type": "refresh_token", "client_id": config.client_id, "refresh_token": config.refresh_token.get_secret_value(),  # type: ignore[union-attr]
            "client_secret": config.client_secret.get_secret_value(),  # type: ignore[union-attr]
        }
        try:
            response = await http.post(config.token_url, data=form)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"token refresh: {type(exc).__name__}: {exc}") from exc
        data = json_object(response)
        token = data.get("access_token")
        if response.status_code in (400, 401) or not isinstance(token, str):
            if response.status_code >= 500:
                raise TemporaryFailure(f"Google token endpoint {response.status_code}")
            said = short_text(data.get("error_description")) or short_text(data.get("error")) or status_phrase(response.status_code)
            raise ChannelNeedsAction(f"Google refused to refresh the access token ({said}): connect the account again")
        expires = data.get("expires_in") if isinstance(data.get("expires_in"), int) else 3600
        self._token = (token, time.monotonic() + max(60, expires - 60))
        return token


def _can_refresh(config: GoogleReviewsConfig) -> bool:
    return bool(config.client_id and config.client_secret and config.refresh_token)


def classify(response: httpx.Response) -> DeliveryError:
    error = json_object(response).get("error")
    error = error if isinstance(error, dict) else {}
    said = short_text(error.get("message")) or short_text(error.get("status")) or status_phrase(response.status_code) or "error"
    reason = f"Google {response.status_code}: {said}"
    if response.status_code == 429:
        hint = response.headers.get("retry-after", "").strip()
        return RetryLater(reason, float(hint) if hint.isascii() and hint.isdigit() and len(hint) <= 5 else 60.0)
    if response.status_code in (401, 403):
        return ChannelNeedsAction(f"{reason}: the token lacks access to this location (business.manage scope?)")
    if response.status_code >= 500:
        return TemporaryFailure(reason)
    return PermanentFailure(reason)


def _review(raw: Any) -> tuple[InboundMessage | None, str]:
    """The review as a message, and its updateTime (the cursor compares them as RFC 3339 strings)."""
    if not isinstance(raw, dict):
        return None, ""
    review_id, updated = raw.get("reviewId"), raw.get("updateTime") or raw.get("createTime")
    moment = sortable_time(updated)
    if not (isinstance(review_id, str) and review_id and len(review_id) <= 200 and moment):
        return None, ""
    reviewer = raw.get("reviewer") if isinstance(raw.get("reviewer"), dict) else {}
    anonymous = reviewer.get("isAnonymous") is True
    name = reviewer.get("displayName") if isinstance(reviewer.get("displayName"), str) and not anonymous else ""
    reply = raw.get("reviewReply") if isinstance(raw.get("reviewReply"), dict) else {}
    rating = STARS.get(raw.get("starRating")) if isinstance(raw.get("starRating"), str) else None
    created = raw.get("createTime") if isinstance(raw.get("createTime"), str) else None  # RFC 3339 text, nothing else kept
    context = review_context(PLATFORM, rating, 5, star_rating=raw.get("starRating") if rating else None, reply=short_text(reply.get("comment")), created=created)
    comment = raw.get("comment") if isinstance(raw.get("comment"), str) else ""
    item = InboundMessage(
        provider_id=f"review:{review_id}:{updated}"[:255], provider_message_id=review_id, sender=review_sender(PLATFORM, review_id, name, source=SOURCE),
        sender_name=name, text=comment, thread_key=review_id, message_kind="review", context=context,
    )
    return item, moment
