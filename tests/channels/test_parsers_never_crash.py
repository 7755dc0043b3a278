"""Bad or truncated bodies never crash the Telegram and API-channel parsers: the outcome is valid
items or a 4xx refusal (WhatsApp, VK and MAX have their own in their test files)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from okno.channels.adapters.api.adapter import ApiChannel, ApiChannelConfig
from okno.channels.adapters.api.signing import sign
from okno.channels.adapters.telegram.adapter import SECRET_HEADER, TelegramChannel, TelegramConfig
from okno.channels.base import InboundMessage, WebhookRejected, WebhookRequest
from tests.channels.fuzz import json_values, mutated_fixtures

TELEGRAM_UPDATE = {
    "update_id": 100001,
    "message": {
        "message_id": 1, "date": 1735689600,
        "from": {"id": 123456789, "is_bot": False, "first_name": "Ivan", "username": "ivan", "language_code": "ru"},
        "chat": {"id": 123456789, "type": "private", "first_name": "Ivan"}, "text": "Здравствуйте",
        "contact": {"phone_number": "+79161234567", "first_name": "Ivan", "user_id": 123456789},
        "photo": [{"file_id": "a", "file_unique_id": "b", "width": 90, "height": 90, "file_size": 10}],
    },
}
API_BODY = {"message_id": "m1", "from": {"phone": "+79161234567", "email": "a@b.ru", "external_id": "x", "name": "A"}, "text": "t"}


def _outcome_is_clean(run) -> None:  # noqa: ANN001
    try:
        result = run()
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500
        return
    for item in result.items:
        assert isinstance(item, InboundMessage) and item.provider_id


VALUES = json_values(["update_id", "message", "from", "chat", "id", "type", "text", "contact", "photo", "phone_number", "user_id"],
                     ["private", "group", "+79161234567", "Здравствуйте"])
TG_CONFIG = TelegramConfig(bot_token="1:x", secret_token="s3cret", api_base="http://tg")
API_CONFIG = ApiChannelConfig(secret="0123456789abcdef0123")


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_fixtures({"update": TELEGRAM_UPDATE}, VALUES), VALUES).map(orjson.dumps) | st.binary(max_size=200))
def test_telegram_parser(body: bytes) -> None:
    request = WebhookRequest("POST", {SECRET_HEADER: "s3cret"}, {}, body)
    _outcome_is_clean(lambda: TelegramChannel(1).handle_webhook(TG_CONFIG, request))


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_fixtures({"body": API_BODY}, VALUES), VALUES).map(orjson.dumps) | st.binary(max_size=200))
def test_api_channel_parser(body: bytes) -> None:
    request = WebhookRequest("POST", {"x-okno-signature": sign("0123456789abcdef0123", body)}, {}, body)
    _outcome_is_clean(lambda: ApiChannel(1).handle_webhook(API_CONFIG, request))
