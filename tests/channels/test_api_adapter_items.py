"""The API channel builds a NUL-free body's item in one validation without the NUL scan: the
item must be exactly the one the general construction (``SenderIdentity`` models, NUL scan)
builds, and a body with ``\\u0000`` still goes the general way."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okno.channels.adapters.api.adapter import ApiChannel, ApiChannelConfig, _InboundBody
from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign
from okno.channels.base import InboundMessage, WebhookRejected, WebhookRequest

SECRET = "api-secret-0123456789"
CONFIG = ApiChannelConfig(secret=SECRET)
ADAPTER = ApiChannel(7)

texts = st.text(alphabet=st.sampled_from(["a", "я", " ", "\\", "0", "u", "+", "7", "9", "@", ".", "\n", "é", "\U0001f600"]), max_size=12)
maybe = st.none() | texts
attachment = st.fixed_dictionaries(
    {}, optional={"kind": st.sampled_from(["image", "file", "video", 3]), "url": texts, "size": st.integers(-5, 10**6) | texts, "name": texts}
)
bodies = st.fixed_dictionaries(
    {"message_id": texts.filter(bool), "from": st.fixed_dictionaries({}, optional={"phone": maybe, "email": maybe, "external_id": maybe, "name": maybe})},
    optional={
        "text": texts,
        "attachments": st.lists(attachment, max_size=3),
        "thread_id": texts.filter(bool),
        "kind": st.sampled_from(["message", "call", "review", "answer", "system"]),
        "subject": maybe,
        "html": maybe,
        "extra": texts,
    },
)


def _both(payload: dict) -> tuple[InboundMessage | str, InboundMessage | str]:
    body = _InboundBody.model_validate_json(orjson.dumps(payload))
    out = []
    for build in (ADAPTER._item, ADAPTER._item_without_nul):
        try:
            out.append(build(body))
        except WebhookRejected as exc:
            out.append(f"{exc.status_code} {exc.reason}")
    return out[0], out[1]


def _same(general: InboundMessage | str, quick: InboundMessage | str) -> None:
    if isinstance(general, str):
        assert quick == general
        return
    assert isinstance(quick, InboundMessage)
    assert quick == general
    assert quick.model_dump(mode="json") == general.model_dump(mode="json")
    assert orjson.dumps(quick.model_dump(mode="json")) == orjson.dumps(general.model_dump(mode="json"))
    assert quick.model_fields_set == general.model_fields_set
    assert quick.__pydantic_private__ == general.__pydantic_private__


@settings(max_examples=300)
@given(bodies)
def test_the_one_validation_item_is_the_general_one(payload: dict) -> None:
    _same(*_both(payload))


@pytest.mark.parametrize(
    "payload",
    [
        {"message_id": "m1", "from": {"phone": "+7 916 123-45-67", "name": "Иван"}, "text": "Здравствуйте"},
        {"message_id": "m2", "from": {"external_id": "crm-1", "email": "A@B.ru"}, "thread_id": "t", "kind": "call", "subject": "s", "html": "<b>x</b>"},
        {"message_id": "m3", "from": {"email": "a@b.ru"}, "attachments": [{"kind": "image", "url": "https://x/y.png", "size": "12"}, {"bogus": 1}]},
        {"message_id": "m4", "from": {"phone": "", "email": "", "external_id": ""}},
        {"message_id": "m5", "from": {}},
    ],
)
def test_examples_agree(payload: dict) -> None:
    _same(*_both(payload))


def _request(payload: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={SIGNATURE_HEADER: sign(SECRET, payload)}, query={}, body=payload)


def test_a_body_with_an_escaped_nul_goes_the_general_way_and_loses_its_nuls() -> None:
    payload = orjson.dumps({"message_id": "m\x001", "from": {"phone": "+79161234567", "name": "И\x00ван"}, "text": "a\x00b"})
    assert b"\\u0000" in payload
    (item,) = ADAPTER.handle_webhook(CONFIG, _request(payload)).items
    assert (item.provider_id, item.sender_name, item.text) == ("m1", "Иван", "ab")


def test_handle_webhook_gives_the_general_item_for_a_plain_body() -> None:
    payload = {"message_id": "m1", "from": {"phone": "8 916 123 45 67", "external_id": "x"}, "text": "привет"}
    (item,) = ADAPTER.handle_webhook(CONFIG, _request(orjson.dumps(payload))).items
    _same(ADAPTER._item(_InboundBody.model_validate(payload)), item)
    assert [(s.kind, s.value, s.source) for s in item.sender] == [("external", "7:x", "api"), ("phone", "8 916 123 45 67", "api")]
