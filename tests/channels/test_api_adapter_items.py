"""The API channel builds a NUL-free body's item in one validation without the NUL scan: the
item must be exactly the one the general construction (``SenderIdentity`` models, NUL scan)
builds, and a body with ``\\u0000`` still goes the general way."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from okno.channels.adapters.api.adapter import _BODY_FIELDS, ApiChannel, ApiChannelConfig, _first_error, _InboundBody
from okno.channels.adapters.api.quick_body import plain_fields
from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign
from okno.channels.base import InboundMessage, WebhookRejected, WebhookRequest

SECRET = "api-secret-0123456789"
CONFIG = ApiChannelConfig(secret=SECRET)
ADAPTER = ApiChannel(7)

texts = st.text(alphabet=st.sampled_from(["a", "я", " ", "\\", "0", "u", "+", "7", "9", "@", ".", "\n", "é", "\U0001f600"]), max_size=12)
near_limits = st.sampled_from([0, 1, 20, 21, 64, 65, 255, 256, 300, 301, 320, 321, 998, 999]).map(lambda n: "я" * n)
odd = st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans() | st.lists(texts, max_size=2) | st.dictionaries(texts, texts, max_size=2)
maybe = st.none() | texts
anything = texts | near_limits | odd
attachment = st.fixed_dictionaries(
    {}, optional={"kind": st.sampled_from(["image", "file", "video", 3]), "url": texts, "size": st.integers(-5, 10**6) | texts, "name": texts}
)
senders = st.fixed_dictionaries({}, optional={"phone": maybe | anything, "email": maybe | anything, "external_id": maybe | anything, "name": maybe | anything})
bodies = st.fixed_dictionaries(
    {"message_id": texts.filter(bool) | anything, "from": senders | odd},
    optional={
        "text": texts | anything,
        "attachments": st.lists(attachment, max_size=3) | st.lists(attachment, min_size=20, max_size=22) | odd,
        "thread_id": texts | anything,
        "kind": st.sampled_from(["message", "call", "review", "answer", "system", "other"]) | odd,
        "subject": maybe | anything,
        "html": maybe | anything,
        "from_": senders,
        "extra": texts,
    },
)
payloads = bodies.map(orjson.dumps) | st.sampled_from([b"[]", b"null", b"1", b"not json", b"", b'{"message_id": "m"}', b'{"from": {"phone": "1"}}'])


def _general(payload: bytes) -> InboundMessage | str:
    """The model path: the body's models, then the item with its NUL scan."""
    try:
        return ADAPTER._item(_InboundBody.model_validate_json(payload))
    except ValidationError as exc:
        return f"422 {_first_error(exc)}"
    except WebhookRejected as exc:
        return f"{exc.status_code} {exc.reason}"


def _quick(payload: bytes) -> InboundMessage | str:
    try:
        (item,) = ADAPTER.handle_webhook(CONFIG, _request(payload)).items
    except WebhookRejected as exc:
        return f"{exc.status_code} {exc.reason}"
    return item


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


@settings(max_examples=500)
@given(payloads)
def test_the_quick_item_or_refusal_is_the_model_paths(payload: bytes) -> None:
    _same(_general(payload), _quick(payload))


@pytest.mark.parametrize(
    "payload",
    [
        {"message_id": "m1", "from": {"phone": "+7 916 123-45-67", "name": "Иван"}, "text": "Здравствуйте"},
        {"message_id": "m2", "from": {"external_id": "crm-1", "email": "A@B.ru"}, "thread_id": "t", "kind": "call", "subject": "s", "html": "<b>x</b>"},
        {"message_id": "m3", "from": {"email": "a@b.ru"}, "attachments": [{"kind": "image", "url": "https://x/y.png", "size": "12"}, {"bogus": 1}]},
        {"message_id": "m4", "from": {"phone": "", "email": "", "external_id": ""}},
        {"message_id": "m5", "from": {}},
        {"message_id": "", "from": {"phone": "1"}},
        {"message_id": "m6", "from": {"phone": "1" * 65}},
        {"message_id": "m7", "from": {"phone": "1"}, "thread_id": ""},
        {"message_id": "m8", "from": {"phone": "1"}, "kind": "other"},
        {"message_id": "m9", "from": None},
        {"message_id": "m10", "from_": {"phone": "1"}},
        {"message_id": "m11", "from": {"phone": "1"}, "attachments": [{}] * 21},
        {"message_id": "m12", "from": {"phone": None, "email": "a@b.ru"}, "text": None},
    ],
)
def test_examples_agree(payload: dict) -> None:
    _same(_general(orjson.dumps(payload)), _quick(orjson.dumps(payload)))


def test_usual_bodies_take_the_quick_path() -> None:
    for payload in (
        {"message_id": "m1", "from": {"phone": "+7 916 123-45-67", "name": "Иван"}, "text": "Здравствуйте"},
        {"message_id": "m2", "from": {"external_id": "crm-1", "email": "A@B.ru"}, "thread_id": "t", "kind": "call", "subject": "s", "html": "<b>x</b>"},
        {"message_id": "m3", "from": {"email": "a@b.ru"}, "attachments": [{"kind": "image", "url": "https://x/y.png", "size": 12}]},
    ):
        _BODY_FIELDS.validate_json(orjson.dumps(payload))  # no ValidationError


@pytest.mark.parametrize(
    "payload",
    [
        b'{"message_id": "m", "from": {"phone": "1"}, "attachments": [{"kind": "file", "url": "u", "big": 123456789012345678901234567890}]}',
        b'{"message_id": "m", "from": {"phone": "1"}, "attachments": [{"kind": "file", "url": "u", "huge": 1e400, "tiny": -0.0}]}',
        b'{"message_id": "m", "message_id": "n", "from": {"phone": "1", "phone": "2"}}',
        b'{"message_id": "\\ud83d\\ude00", "from": {"phone": "1"}}',
        b'{"message_id": "\\ud800", "from": {"phone": "1"}}',
        b'{"message_id": "m", "from": {"phone": "1"}} x',
    ],
)
def test_unusual_json_gives_the_model_paths_item(payload: bytes) -> None:
    """Integers past 64 bits, numbers past a float, repeated keys, surrogates, trailing text."""
    _same(_general(payload), _quick(payload))


def test_the_plain_fields_are_the_body_models() -> None:
    assert set(_BODY_FIELDS.core_schema["fields"]) == set(_InboundBody.model_fields)


class _Inner(BaseModel):
    model_config = ConfigDict(extra="ignore")

    size: int = Field(default=1, le=5)


class _Changed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str = Field(min_length=2, max_length=3)
    note: str | None = Field(default=None, max_length=4)
    tags: list[dict[str, Any]] = Field(default_factory=list, max_length=1)
    inner: _Inner = Field(alias="in")


@pytest.mark.parametrize(
    "payload",
    [b'{"code": "ab", "in": {}}', b'{"code": "a", "in": {}}', b'{"code": "abcd", "in": {}}', b'{"code": "ab", "note": "12345", "in": {}}',
     b'{"code": "ab", "note": null, "in": {}}', b'{"code": "ab", "tags": [{}, {}], "in": {}}', b'{"code": "ab", "tags": [1], "in": {}}',
     b'{"code": 12, "in": {}}', b'{"code": "ab", "other": 1, "in": {}}', b"[]", b"x", b'{"code": "ab"}',
     b'{"code": "ab", "in": {"size": 5}}', b'{"code": "ab", "in": {"size": 6}}', b'{"code": "ab", "inner": {"size": 1}}'],
)  # fmt: skip
def test_a_limit_written_in_a_model_is_the_plain_dicts(payload: bytes) -> None:
    try:
        expected = _Changed.model_validate_json(payload).model_dump()
    except ValidationError:
        with pytest.raises(ValidationError):
            plain_fields(_Changed).validate_json(payload)
    else:
        assert plain_fields(_Changed).validate_json(payload) == expected


class _Stripping(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    code: str


class _Validated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str

    @field_validator("code")
    @classmethod
    def _upper(cls, code: str) -> str:
        return code.upper()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str


class _DefaultModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inner: _Inner = Field(default_factory=_Inner)


class _OptionalModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inner: _Inner | None


@pytest.mark.parametrize("model", [_Stripping, _Validated, _Strict, _DefaultModel, _OptionalModel])
def test_what_a_plain_dict_cannot_carry_is_refused_when_derived(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError):
        plain_fields(model)


def _request(payload: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={SIGNATURE_HEADER: sign(SECRET, payload)}, query={}, body=payload)


def test_a_body_with_an_escaped_nul_goes_the_general_way_and_loses_its_nuls() -> None:
    payload = orjson.dumps({"message_id": "m\x001", "from": {"phone": "+79161234567", "name": "И\x00ван"}, "text": "a\x00b"})
    assert b"\\u0000" in payload
    (item,) = ADAPTER.handle_webhook(CONFIG, _request(payload)).items
    assert (item.provider_id, item.sender_name, item.text) == ("m1", "Иван", "ab")


def test_handle_webhook_gives_the_general_item_for_a_plain_body() -> None:
    payload = orjson.dumps({"message_id": "m1", "from": {"phone": "8 916 123 45 67", "external_id": "x"}, "text": "привет"})
    item = _quick(payload)
    _same(_general(payload), item)
    assert [(s.kind, s.value, s.source) for s in item.sender] == [("external", "7:x", "api"), ("phone", "8 916 123 45 67", "api")]
