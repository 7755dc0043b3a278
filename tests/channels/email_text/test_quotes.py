"""Quote and signature stripping beyond the recorded fixtures: the rules' edges, and what they
must never eat."""

from __future__ import annotations

import time

from okno.channels.adapters.email.quotes import split_reply


def test_valediction_inside_a_sentence_stays() -> None:
    text = "Я с уважением отношусь к вашей работе.\nС уважением, но без ответа уже неделю — так нельзя."
    assert split_reply(text).new == text


def test_valediction_followed_by_real_text_stays() -> None:
    text = "Hello,\n\nBest regards,\nbut this is not the end: here are the steps I took to reproduce the issue in detail, one by one.\n1. Log in\n2. Open orders"
    assert split_reply(text).new == text


def test_the_first_line_is_never_a_signature() -> None:
    assert split_reply("Sent from my iPhone").new == "Sent from my iPhone"
    assert split_reply("С уважением,\nИван").new == "С уважением,\nИван"


def test_an_answer_between_quotes_keeps_every_answer() -> None:
    text = "On Mon, 2 Nov 2026 at 10:15, Okno <support@okno.example> wrote:\n> What is the order number?\n58213\n> And the date?\nLast Friday"
    split = split_reply(text)
    assert split.new == "58213\nLast Friday"
    assert "What is the order number?" in split.quoted


def test_a_bare_forward_hides_nothing() -> None:
    text = "-----Original Message-----\nFrom: Anna <anna@example.com>\nSent: Monday\n\nThe text that matters"
    assert split_reply(text).new == text.strip()


def test_a_line_mentioning_from_is_not_a_header_block() -> None:
    text = "From: the warehouse, not the shop.\nThe parcel never arrived."
    assert split_reply(text).new == text


def test_outlook_header_block_in_english_and_russian() -> None:
    assert split_reply("Ok\n\nFrom: A <a@b.c>\nSent: Monday\nTo: B\nSubject: x\n\nold").new == "Ok"
    assert split_reply("Хорошо\n\nОт: А <a@b.c>\nОтправлено: 2 ноября 2026 г. 10:15\nКому: Б\nТема: x\n\nстарое").new == "Хорошо"
    assert split_reply("Хорошо\n\nДата: Понедельник, 2 ноября 2026\nОт: А <a@b.c>\n\nстарое").new == "Хорошо"


def test_gmail_attribution_wrapped_after_the_bracket() -> None:
    text = "Да, подходит.\n\nпт, 6 нояб. 2026 г. в 09:00, Служба поддержки <\nsupport@okno.example>:\n\n> Вам подходит пятница?\n"
    split = split_reply(text)
    assert split.new == "Да, подходит."
    assert split.quoted.startswith("пт, 6 нояб. 2026 г.")


def test_pathological_input_is_quick() -> None:
    started = time.perf_counter()
    split_reply(("On " + "a" * 300 + "\n") * 20000)
    split_reply("a\n" + "\n" * 20000 + "b\n" + "> x\n\n" * 10000)
    split_reply("top\n" + "Sent from my iPhone\n" * 20000 + "tail")
    split_reply("x:" * 200_000)
    assert time.perf_counter() - started < 10  # generous: the machine is shared


def test_a_forwarded_message_is_kept_not_hidden() -> None:
    text = "FYI, see below.\n\nBegin forwarded message:\n\nFrom: Shop <shop@example.com>\nDate: 6 November 2026\nSubject: Order\n\nYour order is late."
    assert split_reply(text).new == text
    html_derived = "FYI\n> -------- Пересылаемое сообщение --------\n> От: Магазин <shop@example.com>\n> Дата: 6 ноября 2026\n>\n> Заказ задерживается."
    assert split_reply(html_derived).new == "FYI\n-------- Пересылаемое сообщение --------\nОт: Магазин <shop@example.com>\nДата: 6 ноября 2026\n\nЗаказ задерживается."


def test_a_forward_inside_the_quoted_history_stays_history() -> None:
    text = "Thanks!\n\nOn Fri, 6 Nov 2026 at 10:00, Okno <support@okno.example> wrote:\n> ---------- Forwarded message ---------\n> From: x@example.com\n> old"
    assert split_reply(text).new == "Thanks!"
