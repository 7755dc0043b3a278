"""Hostile input never crashes the SMS.ru report parser or the review list parsers: the outcome
is valid items or a 4xx refusal (reports), or only well-formed review messages (review lists)."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from okno.channels.adapters.google_reviews import adapter as google
from okno.channels.adapters.smsru.adapter import SmsRuChannel, SmsRuConfig
from okno.channels.adapters.twogis_reviews import adapter as twogis
from okno.channels.adapters.yandex_reviews import adapter as yandex
from okno.channels.base import InboundMessage, InboundStatus, WebhookRejected, WebhookRequest
from tests.channels.fuzz import json_values, mutated_fixtures

SMS_CONFIG = SmsRuConfig(api_id="x", api_base="http://sms", webhook_token="0123456789abcdef")
LINE = st.text(max_size=30) | st.sampled_from(["sms_status", "103", "000000-1", "110", "callcheck_status"])
REPORT_VALUES = st.lists(LINE, max_size=5).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["data[0]", "data[1]", "data[x]", "other"]) | st.text(max_size=8), REPORT_VALUES, max_size=4).map(
    lambda form: urlencode(form).encode()
) | st.binary(max_size=200))
def test_smsru_report_parser(body: bytes) -> None:
    request = WebhookRequest("POST", {}, {"token": "0123456789abcdef"}, body)
    try:
        result = SmsRuChannel(1).handle_webhook(SMS_CONFIG, request)
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500
        return
    assert result.reply.body == b"100"
    assert all(isinstance(item, InboundStatus) and item.provider_message_id for item in result.items)


GOOGLE_REVIEW = {
    "reviewId": "AbC", "reviewer": {"displayName": "Анна", "isAnonymous": False}, "starRating": "ONE", "comment": "плохо",
    "createTime": "2026-01-01T10:00:00Z", "updateTime": "2026-01-01T10:00:00.5Z", "reviewReply": {"comment": "Спасибо"},
}
VALUES = json_values(
    ["reviewId", "reviewer", "displayName", "starRating", "comment", "updateTime", "id", "rating", "text", "user", "name",
     "date_created", "date_edited", "reviews", "data", "author", "updatedTime"],
    ["ONE", "FIVE", "2026-01-01T10:00:00Z", "2026-13-01", "Анна"],
)


def _clean(messages: list[InboundMessage]) -> None:
    for item in messages:
        assert item.message_kind == "review" and item.thread_key and item.provider_id.startswith("review:")


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_fixtures({"review": GOOGLE_REVIEW}, VALUES), VALUES))
def test_google_review_parser(raw: object) -> None:
    item, _ = google._review(raw)  # noqa: SLF001
    _clean([item] if item is not None else [])


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_fixtures({"page": {"reviews": [{"id": "1", "rating": 2, "text": "t", "user": {"name": "A"}, "date_created": "2026-01-01T10:00:00+07:00"}]}}, VALUES), VALUES))
def test_twogis_list_parser(data: object) -> None:
    _clean([item for item, _ in twogis.parse(data)])


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_fixtures({"page": {"data": {"reviews": [{"reviewId": "r", "rating": 1, "author": {"name": "A"}, "updatedTime": "2026-01-01T10:00:00Z"}]}}}, VALUES), VALUES))
def test_yandex_list_parser(data: object) -> None:
    _clean([item for item, _ in yandex.parse(data)])
