"""Interactive choices without a database: the model's rules, the rendering decision, the
numbered fallback, and each adapter reading a recorded press (and never crashing on a mangled one)."""

from __future__ import annotations

import copy
import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from okno.channels.adapters.max.adapter import SECRET_HEADER as MAX_SECRET_HEADER
from okno.channels.adapters.max.adapter import MaxChannel, MaxConfig
from okno.channels.adapters.telegram.adapter import SECRET_HEADER as TG_SECRET_HEADER
from okno.channels.adapters.telegram.adapter import TelegramChannel, TelegramConfig
from okno.channels.adapters.vk.adapter import VkChannel, VkConfig
from okno.channels.adapters.whatsapp.adapter import WhatsAppChannel, WhatsAppConfig
from okno.channels.base import InboundMessage, WebhookRejected, WebhookRequest
from okno.channels.interactive import (
    Answer,
    ChoiceLimits,
    ChoicesRefused,
    Interactive,
    InteractiveSupport,
    answer_by_number,
    choose_rendering,
    fallback_text,
    prompt_content,
    typed_number,
)
from okno.channels.registry import ADAPTERS
from tests.channels.fuzz import json_values, mutated_fixtures

FIXTURES = Path(__file__).parent / "fixtures"
THREE = Interactive.model_validate({"options": [{"id": "a", "title": "Да"}, {"id": "b", "title": "Нет"}, {"id": "c", "title": "Не знаю"}]})

TG = TelegramConfig(bot_token="1:x", secret_token="s3cret", api_base="http://tg")
WA = WhatsAppConfig(phone_number_id="106540352242922", access_token="t", app_secret="app-secret", verify_token="v")
VK = VkConfig(group_id=123456, access_token="vk1.a.token", secret="s3cr3t-callback-key", confirmation_code="a1b2c3d4")
MX = MaxConfig(token="max-token", secret="max-secret")


def recorded(kind: str, name: str) -> Any:
    return orjson.loads((FIXTURES / kind / "interactive" / name).read_bytes())


def _telegram(payload: Any) -> Any:
    return TelegramChannel(1).handle_webhook(TG, WebhookRequest("POST", {TG_SECRET_HEADER: "s3cret"}, {}, orjson.dumps(payload)))


def _whatsapp(payload: Any) -> Any:
    body = orjson.dumps(payload)
    signature = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    return WhatsAppChannel(1).handle_webhook(WA, WebhookRequest("POST", {"x-hub-signature-256": signature}, {}, body))


def _vk(payload: Any) -> Any:
    return VkChannel(1).handle_webhook(VK, WebhookRequest("POST", {}, {}, orjson.dumps(payload)))


def _max(payload: Any) -> Any:
    return MaxChannel(1).handle_webhook(MX, WebhookRequest("POST", {MAX_SECRET_HEADER: "max-secret"}, {}, orjson.dumps(payload)))


# ---- the model -----------------------------------------------------------------------------


def test_the_fallback_numbers_the_options_between_header_and_footer() -> None:
    menu = Interactive.model_validate(
        {"style": "list", "button": "Выбрать", "header": "Доставка", "footer": "Ответьте цифрой",
         "options": [{"id": "c", "title": "Курьер", "description": "завтра"}, {"id": "p", "title": "Самовывоз"}]}
    )
    assert fallback_text("Как доставить?", menu) == "Доставка\n\nКак доставить?\n\n1. Курьер — завтра\n2. Самовывоз\n\nОтветьте цифрой"


def test_a_style_the_channel_lacks_goes_out_as_text_and_limits_are_refused() -> None:
    buttons_only = InteractiveSupport(buttons=ChoiceLimits(max_options=3, max_title=20), max_text=50)
    assert choose_rendering(buttons_only, THREE, "?").name == "buttons"
    assert choose_rendering(buttons_only, THREE.model_copy(update={"style": "quick_replies"}), "?").name == "buttons"
    assert choose_rendering(InteractiveSupport(), THREE, "?").name == "text"
    four = Interactive.model_validate({"options": [{"id": str(n), "title": str(n)} for n in range(4)]})
    with pytest.raises(ChoicesRefused, match="at most 3 options"):
        choose_rendering(buttons_only, four, "?", channel="X")
    with pytest.raises(ChoicesRefused, match="at most 50 characters of text"):
        choose_rendering(buttons_only, THREE, "?" * 51)


@pytest.mark.parametrize(
    ("text", "number"), [("2", 2), (" 2 ", 2), ("2.", 2), ("2)", 2), ("12", 12), ("2 шт", None), ("", None), ("123", None), ("два", None)]
)
def test_only_a_bare_number_is_a_typed_choice(text: str, number: int | None) -> None:
    assert typed_number(text) == number


def test_a_typed_number_answers_only_a_prompt_sent_as_text() -> None:
    from okno.channels.interactive import Rendering

    as_text, as_buttons = prompt_content(THREE, Rendering(None)), prompt_content(THREE, Rendering("buttons"))
    assert answer_by_number(7, as_text, 3) == Answer(option_id="c", title="Не знаю", message_id=7)
    assert answer_by_number(7, as_text, 4) is None and answer_by_number(7, as_text, 0) is None
    assert answer_by_number(7, as_buttons, 1) is None and answer_by_number(7, None, 1) is None


def test_every_adapter_declares_what_it_renders() -> None:
    shown = {kind: cls.capabilities.as_json()["interactive"] for kind, cls in ADAPTERS.items()}
    assert set(shown["whatsapp"]) >= {"buttons", "quick_replies", "list"} and shown["whatsapp"]["buttons"]["max_options"] == 3
    assert "buttons" in shown["telegram"] and "list" not in shown["telegram"]
    assert "buttons" not in shown["api"]  # the API channel gets numbered text
    with pytest.raises(ValidationError):
        Interactive.model_validate({"options": [{"id": "a", "title": "x", "extra": 1}]})


# ---- recorded presses ----------------------------------------------------------------------


def test_telegram_callback_query_is_an_answer_acknowledged_in_the_reply() -> None:
    result = _telegram(recorded("telegram", "callback_query.json"))
    [item] = result.items
    assert item.answer == Answer(option_id="refund", title="Возврат", in_reply_to="57")
    assert (item.text, item.sender[0].value, item.provider_id) == ("Возврат", "123456789", "callback:4382174093450126721")
    assert orjson.loads(result.reply.body) == {"method": "answerCallbackQuery", "callback_query_id": "4382174093450126721"}
    group = copy.deepcopy(recorded("telegram", "callback_query.json"))
    group["callback_query"]["message"]["chat"]["type"] = "supergroup"
    assert _telegram(group).items == []


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        ("button_reply.json", Answer(option_id="refund", title="Возврат", in_reply_to="wamid.HBgLNzkxNjAwMDAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA")),
        ("list_reply.json", Answer(option_id="pickup", title="Самовывоз", in_reply_to="wamid.HBgLNzkxNjAwMDAwMDEVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==")),
        ("template_button.json", Answer(option_id="confirm_delivery", title="Подтвердить", in_reply_to="wamid.HBgLNzkxNjAwMDAwMDEVAgARGBJDMDk4NzY1NDMyMTBGRURDAA==")),
    ],
)
def test_whatsapp_replies_are_answers(name: str, answer: Answer) -> None:
    [item] = _whatsapp(recorded("whatsapp", name)).items
    assert item.answer == answer and item.text == answer.title


def test_vk_payload_is_an_answer_and_a_foreign_payload_is_not() -> None:
    [item] = _vk(recorded("vk", "message_new_button.json")).items
    assert item.answer == Answer(option_id="refund", title="Возврат", message_id=9001) and item.text == "Возврат"
    other = copy.deepcopy(recorded("vk", "message_new_button.json"))
    other["object"]["message"]["payload"] = '{"command":"start"}'
    [plain] = _vk(other).items
    assert plain.answer is None


def test_max_message_callback_is_an_answer() -> None:
    [item] = _max(recorded("max", "message_callback.json")).items
    assert item.answer == Answer(option_id="refund", title="Возврат", in_reply_to="mid.0000000008a53b9b019c44432d4a3a70")
    assert item.sender[0].value == "123456789" and item.context["max"]["callback_id"].startswith("f9LHodD0cOJZ")
    deleted = copy.deepcopy(recorded("max", "message_callback.json"))
    deleted["message"] = None  # MAX sends null when the message is gone: still an answer, title filled from our record
    [gone] = _max(deleted).items
    assert gone.answer == Answer(option_id="refund", title="") and gone.text == ""


def test_widget_answer_frame_validates() -> None:
    from okno.channels.adapters.widget.interactive import AnswerFrame

    frame = AnswerFrame.model_validate(recorded("widget", "answer_frame.json"))
    assert frame.option_id == "refund" and frame.message_id.startswith("widget:")


# ---- mangled presses never crash the parsers -----------------------------------------------

VALUES = json_values(
    ["callback_query", "callback", "id", "from", "user", "message", "data", "payload", "chat", "type", "reply_markup", "inline_keyboard",
     "interactive", "button_reply", "list_reply", "title", "context", "body", "attachments", "buttons", "callback_id", "user_id", "text"],
    ["private", "refund", "button_reply", "list_reply", "inline_keyboard", "dialog", '{"okno":"a","m":1}', "message_callback"],
)
PARSERS = {
    "telegram": (_telegram, {"cq": recorded("telegram", "callback_query.json")}),
    "whatsapp": (_whatsapp, {n: recorded("whatsapp", f"{n}.json") for n in ("button_reply", "list_reply", "template_button")}),
    "vk": (_vk, {"button": recorded("vk", "message_new_button.json")}),
    "max": (_max, {"callback": recorded("max", "message_callback.json")}),
}


@pytest.mark.parametrize("kind", sorted(PARSERS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mangled_presses_are_parsed_or_refused(kind: str, data: st.DataObject) -> None:
    parse, fixtures = PARSERS[kind]
    payload = data.draw(mutated_fixtures(fixtures, VALUES))
    try:
        result = parse(payload)
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500
        return
    for item in result.items:
        assert isinstance(item, InboundMessage) and item.provider_id
