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

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
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


@st.composite
def mutated(draw: st.DrawFn, value: object) -> object:
    """The fixture with keys dropped or values swapped for arbitrary JSON, anywhere in the tree."""
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            choice = draw(st.integers(0, 5))
            if choice == 0:
                continue
            out[key] = draw(json_values) if choice == 1 else draw(mutated(child))
        return out
    if isinstance(value, list):
        return [draw(mutated(v)) for v in value]
    return draw(json_values) if draw(st.booleans()) else value


def _outcome_is_clean(run) -> None:  # noqa: ANN001
    try:
        result = run()
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500
        return
    for item in result.items:
        assert isinstance(item, InboundMessage) and item.provider_id


TG_CONFIG = TelegramConfig(bot_token="1:x", secret_token="s3cret", api_base="http://tg")
API_CONFIG = ApiChannelConfig(secret="0123456789abcdef0123")


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated(TELEGRAM_UPDATE), json_values).map(orjson.dumps) | st.binary(max_size=200))
def test_telegram_parser(body: bytes) -> None:
    request = WebhookRequest("POST", {SECRET_HEADER: "s3cret"}, {}, body)
    _outcome_is_clean(lambda: TelegramChannel(1).handle_webhook(TG_CONFIG, request))


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated(API_BODY), json_values).map(orjson.dumps) | st.binary(max_size=200))
def test_api_channel_parser(body: bytes) -> None:
    request = WebhookRequest("POST", {"x-okno-signature": sign("0123456789abcdef0123", body)}, {}, body)
    _outcome_is_clean(lambda: ApiChannel(1).handle_webhook(API_CONFIG, request))
