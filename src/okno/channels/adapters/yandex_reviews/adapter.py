"""Yandex Maps reviews, read-only, from the unofficial review list the Maps site uses
(docs/reviews.md): UNOFFICIAL, undocumented by Yandex, may break at any time; the real endpoint
also wants a browser session's csrfToken and a request signature okno does not compute, so in
practice ``api_base`` points at a proxy that serves the same shape. Replies are written in the
Yandex Business cabinet.

``GET {api_base}/maps/api/business/fetchReviews?businessId=&page=&pageSize=&ranking=by_time``
→ ``{"data": {"reviews": [{"reviewId", "author": {"name"}, "text", "rating" (1–5),
"updatedTime", "businessComment"}], "params": {"page", "totalPages"}}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from okno.channels.adapters.reviews import REVIEWER_KIND, reviewer_rule
from okno.channels.adapters.reviews.public import (
    PAGE_SIZE,
    Parsed,
    ReadOnlyReviews,
    get_page,
    moment,
    next_batch,
    review_item,
    star_rating,
)
from okno.channels.base import IdentityKindSpec, Label, PollBatch, ProofRule, ProviderUrl, opaque_kind, provider_base_url
from okno.kit.labels import labelled

PLATFORM = "yandex"
SOURCE = "yandex_reviews.display_name"


class YandexReviewsConfig(BaseModel):
    """UNOFFICIAL: reads Yandex Maps reviews from an undocumented endpoint that may break at any time.
    Replies can't be posted: answer in the Yandex Business cabinet and mark the review answered in okno."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"x-label": {
        "en": "Yandex Maps reviews (unofficial, read-only: may break at any time; answer in the Yandex Business cabinet)",
        "ru": "Отзывы Яндекс Карт (неофициально, только чтение: может перестать работать; отвечайте в кабинете Яндекс Бизнеса)",
    }, "x-help": {
        "en": "UNOFFICIAL: reads Yandex Maps reviews from an undocumented endpoint that may break at any time. "
              "Replies can't be posted: answer in the Yandex Business cabinet and mark the review answered in okno.",
        "ru": "НЕОФИЦИАЛЬНО: отзывы Яндекс Карт читаются через недокументированный адрес, который может перестать работать. "
              "Ответить отсюда нельзя: ответьте в кабинете Яндекс Бизнеса и отметьте отзыв отвеченным в okno.",
    }})

    organization_id: str = labelled(
        "Organisation id", "Id организации", pattern=r"^\d{1,30}$",
        help_en="the organisation id from its Yandex Maps address (/org/<name>/<id>)", help_ru="id организации из адреса на Яндекс Картах (/org/<имя>/<id>)",
    )
    api_base: ProviderUrl = provider_base_url("https://yandex.ru")
    csrf_token: SecretStr | None = labelled("csrfToken", "csrfToken", default=None, help_en="sent as the site sends it, if given", help_ru="передаётся так же, как его передаёт сайт, если задан")
    cabinet_url: str = labelled("Cabinet address", "Адрес кабинета", default="https://yandex.ru/sprav", pattern=r"^https?://\S+$", help_en="where operators answer reviews", help_ru="где операторы отвечают на отзывы")
    poll_seconds: float = labelled("Poll every (seconds)", "Опрашивать каждые (секунд)", default=900.0, ge=1, le=86_400)


def parse(data: Any, cabinet_url: str = "") -> list[Parsed]:
    inner = data.get("data") if isinstance(data, dict) else None
    reviews = inner.get("reviews") if isinstance(inner, dict) else None
    return [p for p in (_review(r, cabinet_url) for r in (reviews if isinstance(reviews, list) else [])) if p is not None]


def _review(raw: Any, cabinet_url: str) -> Parsed | None:
    if not isinstance(raw, dict):
        return None
    review_id = raw.get("reviewId") if isinstance(raw.get("reviewId"), str) else ""
    when = moment(raw.get("updatedTime"))
    if not review_id or len(review_id) > 100 or not when:
        return None
    author = raw.get("author") if isinstance(raw.get("author"), dict) else {}
    name = author.get("name") if isinstance(author.get("name"), str) else ""
    return review_item(
        platform=PLATFORM, source=SOURCE, review_id=review_id, when=when, name=name, text=raw.get("text"),
        rating=star_rating(raw.get("rating")), answered=bool(raw.get("businessComment")), cabinet_url=cabinet_url,
    )


class YandexReviewsChannel(ReadOnlyReviews):
    kind: ClassVar[str] = "yandex_reviews"
    title: ClassVar[str] = "Yandex Maps reviews (unofficial, read-only)"
    title_label: ClassVar[Label] = Label(en="Yandex Maps reviews (unofficial, read-only)", ru="Отзывы Яндекс Карт (неофициально, только чтение)")
    config_model: ClassVar[type[BaseModel]] = YandexReviewsConfig
    platform: ClassVar[str] = "Yandex"
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (
        IdentityKindSpec("yandex_review", opaque_kind, "a Yandex Maps review (its id): the reviewer has no stable id"),
        REVIEWER_KIND,
    )
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (reviewer_rule(SOURCE, "Yandex"),)

    async def poll(self, config: YandexReviewsConfig, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch:
        page = int(cursor.get("page") or 1)
        params: dict[str, Any] = {"businessId": config.organization_id, "page": page, "pageSize": PAGE_SIZE, "ranking": "by_time"}
        if config.csrf_token is not None:
            params["csrfToken"] = config.csrf_token.get_secret_value()
        data = await get_page(http, f"{config.api_base.rstrip('/')}/maps/api/business/fetchReviews", params, "Yandex")
        info = (data.get("data") or {}).get("params") if isinstance(data, dict) and isinstance(data.get("data"), dict) else None
        total = info.get("totalPages") if isinstance(info, dict) and isinstance(info.get("totalPages"), int) else page
        return next_batch(cursor, parse(data, config.cabinet_url), more=page < total, next_page=page + 1, poll_seconds=config.poll_seconds)


