"""2GIS reviews, read-only, from the unofficial public review list (docs/reviews.md): UNOFFICIAL,
undocumented by 2GIS, may break at any time; replies are written in the 2GIS cabinet.

``GET {api_base}/2.0/branches/{branch_id}/reviews?key=&limit=&offset=&sort_by=date_created`` →
``{"meta": {"total_count"}, "reviews": [{"id", "rating" (1–5), "text", "user": {"name"},
"date_created", "date_edited", "official_answer"}]}``.
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

PLATFORM = "2gis"
SOURCE = "twogis_reviews.display_name"


class TwoGisReviewsConfig(BaseModel):
    """UNOFFICIAL: reads 2GIS reviews from an undocumented public endpoint that may break at any time.
    Replies can't be posted: answer in the 2GIS cabinet and mark the review answered in okno."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"x-label": {
        "en": "2GIS reviews (unofficial, read-only: may break at any time; answer in the 2GIS cabinet)",
        "ru": "Отзывы 2ГИС (неофициально, только чтение: может перестать работать; отвечайте в кабинете 2ГИС)",
    }, "x-help": {
        "en": "UNOFFICIAL: reads 2GIS reviews from an undocumented public endpoint that may break at any time. "
              "Replies can't be posted: answer in the 2GIS cabinet and mark the review answered in okno.",
        "ru": "НЕОФИЦИАЛЬНО: отзывы 2ГИС читаются через недокументированный публичный адрес, который может перестать работать. "
              "Ответить отсюда нельзя: ответьте в кабинете 2ГИС и отметьте отзыв отвеченным в okno.",
    }})

    branch_id: str = labelled("Branch id", "Id филиала", pattern=r"^\d{1,30}$", help_en="the 2GIS branch (firm) id from its page address", help_ru="id филиала (фирмы) 2ГИС из адреса его страницы")
    key: SecretStr = labelled("Public key", "Публичный ключ", min_length=1, help_en="the key the 2GIS site sends with its review requests", help_ru="ключ, который сайт 2ГИС передаёт в запросах отзывов")
    api_base: ProviderUrl = provider_base_url("https://public-api.reviews.2gis.com")
    cabinet_url: str = labelled("Cabinet address", "Адрес кабинета", default="https://account.2gis.com", pattern=r"^https?://\S+$", help_en="where operators answer reviews", help_ru="где операторы отвечают на отзывы")
    poll_seconds: float = labelled("Poll every (seconds)", "Опрашивать каждые (секунд)", default=900.0, ge=1, le=86_400)


def parse(data: Any, cabinet_url: str = "") -> list[Parsed]:
    reviews = data.get("reviews") if isinstance(data, dict) else None
    return [p for p in (_review(r, cabinet_url) for r in (reviews if isinstance(reviews, list) else [])) if p is not None]


def _review(raw: Any, cabinet_url: str) -> Parsed | None:
    if not isinstance(raw, dict):
        return None
    review_id = str(raw.get("id") or "")
    when = moment(raw.get("date_edited") or raw.get("date_created"))
    if not review_id or len(review_id) > 100 or not when:
        return None
    user = raw.get("user") if isinstance(raw.get("user"), dict) else {}
    name = user.get("name") if isinstance(user.get("name"), str) else ""
    answer = raw.get("official_answer") if isinstance(raw.get("official_answer"), dict) else {}
    return review_item(
        platform=PLATFORM, source=SOURCE, review_id=review_id, when=when, name=name, text=raw.get("text"),
        rating=star_rating(raw.get("rating")), answered=bool(answer.get("text")), cabinet_url=cabinet_url,
    )


class TwoGisReviewsChannel(ReadOnlyReviews):
    kind: ClassVar[str] = "twogis_reviews"
    title: ClassVar[str] = "2GIS reviews (unofficial, read-only)"
    title_label: ClassVar[Label] = Label(en="2GIS reviews (unofficial, read-only)", ru="Отзывы 2ГИС (неофициально, только чтение)")
    config_model: ClassVar[type[BaseModel]] = TwoGisReviewsConfig
    platform: ClassVar[str] = "2GIS"
    identity_kinds: ClassVar[tuple[IdentityKindSpec, ...]] = (
        IdentityKindSpec("2gis_review", opaque_kind, "a 2GIS review (its id): the reviewer has no stable id"),
        REVIEWER_KIND,
    )
    proof_rules: ClassVar[tuple[ProofRule, ...]] = (reviewer_rule(SOURCE, "2GIS"),)

    async def poll(self, config: TwoGisReviewsConfig, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch:
        page = int(cursor.get("page") or 0)
        params = {"key": config.key.get_secret_value(), "limit": PAGE_SIZE, "offset": page * PAGE_SIZE, "sort_by": "date_created", "is_advertiser": "false"}
        data = await get_page(http, f"{config.api_base.rstrip('/')}/2.0/branches/{config.branch_id}/reviews", params, "2GIS")
        raw = data.get("reviews") if isinstance(data, dict) else None
        more = isinstance(raw, list) and len(raw) >= PAGE_SIZE
        return next_batch(cursor, parse(data, config.cabinet_url), more=more, next_page=page + 1, poll_seconds=config.poll_seconds)

