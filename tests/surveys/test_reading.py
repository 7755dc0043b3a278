"""How a reply to a survey reads, and which language a survey speaks (no database)."""

from __future__ import annotations

import pytest

from okno.surveys.texts import Reading, language_of, read_reply


@pytest.mark.parametrize(
    ("text", "kind", "reading"),
    [
        ("5", "csat", Reading(score=5)),
        ("5 спасибо", "csat", Reading(score=5)),
        ("  4. ", "csat", Reading(score=4)),
        ("оценка 4", "csat", Reading(score=4)),
        ("10!", "nps", Reading(score=10)),
        ("0", "nps", Reading(score=0)),
        ("9/10", "nps", Reading(score=9)),
        ("9 из 10", "nps", Reading(score=9)),
        ("4/5 good", "csat", Reading(score=4)),
        ("7", "ces", Reading(score=7)),
        ("отлично", "csat", Reading(unclear=True)),
        ("11", "nps", Reading(unclear=True)),
        ("0", "csat", Reading(unclear=True)),
        ("4 или 5", "csat", Reading(unclear=True)),
        ("где мой заказ?", "csat", Reading()),
        ("5 минут назад оформил заказ номер 1234, когда будет доставка", "csat", Reading()),
        ("", "csat", Reading()),
    ],
)
def test_replies_read_as_a_score_unclear_or_not_an_answer(text: str, kind: str, reading: Reading) -> None:
    assert read_reply(text, kind) == reading


def test_a_reply_with_a_file_is_not_a_score() -> None:
    assert read_reply("5", "csat", has_files=True) == Reading()


def test_the_language_is_the_saved_locale_then_the_messages_then_the_default() -> None:
    assert language_of("en-GB", ["Привет"], "ru") == "en"
    assert language_of(None, ["Hello", "где заказ"], "en") == "ru"  # any Cyrillic letter: Russian
    assert language_of(None, ["Hello there"], "ru") == "en"
    assert language_of("de", ["123", "👍"], "en") == "en"
