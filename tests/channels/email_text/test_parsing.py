"""Charsets, encoded-words, MIME nesting, limits and bounces, message by message."""

from __future__ import annotations

import base64
from email.message import EmailMessage

from okno.channels.adapters.email.mail_charsets import decode_bytes, decode_header_text
from okno.channels.adapters.email.parsing import parse_email
from tests.channels.email_text.fixtures import raw


def test_encoded_words_in_every_form() -> None:
    assert decode_header_text("=?koi8-r?B?8NLJ18XU?=") == "Привет"
    assert decode_header_text("=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?= world") == "Привет world"
    # adjacent words are joined, even when a character is split between them
    utf8 = "Счёт".encode()
    first, second = base64.b64encode(utf8[:3]).decode(), base64.b64encode(utf8[3:]).decode()
    assert decode_header_text(f"=?utf-8?B?{first}?= =?utf-8?B?{second}?=") == "Счёт"
    # the closing ?= missing, a charset nobody knows, raw 8-bit bytes in the header
    assert decode_header_text("Re: =?utf-8?B?0J/RgNC40LLQtdGC") == "Re: Привет"
    assert decode_header_text("=?x-unknown?Q?=D0=9F=D1=80=D0=B8?=") == "При"
    assert decode_header_text("Re: " + "Вход".encode("cp1251").decode("utf-8", errors="surrogateescape")) == "Re: Вход"


def test_bodies_decode_under_wrong_or_unknown_labels() -> None:
    text = "Добрый день, не работает вход"
    assert decode_bytes(text.encode("koi8-r"), "koi8-r") == text
    assert decode_bytes(text.encode("cp1251"), "cp-1251") == text
    assert decode_bytes(text.encode("cp1251"), "us-ascii") == text  # a wrong label: guessed
    assert decode_bytes(text.encode("koi8-r"), "x-user-defined") == text
    assert decode_bytes(text.encode("utf-8"), "no-such-charset") == text


def _message(**parts: bytes) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Anna <anna@example.com>"
    message["To"] = "support@okno.example"
    message["Subject"] = "Files"
    message["Message-ID"] = "<files-1@example.com>"
    message.set_content("See the files.")
    for name, data in parts.items():
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


def test_a_part_over_the_limit_is_dropped_with_a_note() -> None:
    got = parse_email(_message(**{"small.bin": b"x" * 100, "big.bin": b"y" * 5000}).as_bytes(), max_part_bytes=1000)
    assert [a.filename for a in got.attachments] == ["small.bin"]
    assert len(got.notes) == 1 and "big.bin" in got.notes[0] and "не сохранено" in got.notes[0]
    assert "big.bin" in got.text and "big.bin" in got.new_text


def test_the_total_limit_keeps_the_first_files() -> None:
    got = parse_email(_message(**{"a.bin": b"a" * 600, "b.bin": b"b" * 600}).as_bytes(), max_part_bytes=1000, max_total_bytes=1000)
    assert [a.filename for a in got.attachments] == ["a.bin"]
    assert "b.bin" in got.notes[0]


def test_inline_image_and_attachment_from_outlook() -> None:
    got = parse_email(raw("outlook_en_inline_image_attachment"))
    image, invoice = got.attachments
    assert (image.content_type, image.inline, image.content_id) == ("image/png", True, "image001.png@01DB2D1C.5F6E7D80")
    assert image.data.startswith(b"\x89PNG")
    assert (invoice.content_type, invoice.inline, invoice.filename) == ("application/pdf", False, "Счёт 4471.pdf")
    assert invoice.data.startswith(b"%PDF")
    assert got.html is not None and "cid:image001.png@01DB2D1C.5F6E7D80" in got.html
    assert "[cid:" not in got.text  # Outlook's stand-in for the image is not text


def test_html_only_mail_gets_text_and_keeps_its_html() -> None:
    got = parse_email(raw("mailru_ru_html_only_cp1251"))
    assert got.html is not None and "<script>" in got.html  # as sent: the pipeline sanitises it
    assert "alert" not in got.text
    assert got.quoted.startswith("> Вторник, 3 ноября 2026")


def test_automatic_headers() -> None:
    base = b"From: a@example.com\r\nSubject: x\r\n"
    assert parse_email(base + b"Auto-Submitted: auto-generated\r\n\r\nhi").automatic
    assert not parse_email(base + b"Auto-Submitted: no\r\n\r\nhi").automatic
    assert parse_email(base + b"Precedence: bulk\r\n\r\nhi").automatic
    assert parse_email(base + b"Precedence: junk\r\n\r\nhi").automatic
    assert parse_email(base + b"List-Id: <x.example.com>\r\n\r\nhi").automatic
    assert not parse_email(base + b"\r\nhi").automatic


def test_bounce_text_is_the_human_part_not_our_returned_message() -> None:
    got = parse_email(raw("postfix_bounce"))
    assert got.bounce is not None and got.bounce.diagnostic.startswith("550 5.1.1 <nobody@customer.example>")
    assert "the payment has been found" not in got.text
    assert got.attachments == ()


def test_dates_are_utc_aware() -> None:
    got = parse_email(raw("gmail_ru_reply"))
    assert got.date is not None and got.date.utcoffset().total_seconds() == 0
    assert got.date.hour == 11  # 14:20 +0300


def test_the_broken_the_bat_message() -> None:
    got = parse_email(raw("thebat_ru_broken_headers_cp1251"))
    assert got.to == ("support@okno.example",)
    assert got.reply_to == ("k.popov@narod.example",)
    assert "Константин" in got.quoted


def test_related_images_in_two_alternatives_share_the_total_limit() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("text")
    message.add_alternative("<p>html <img src='cid:one@x'></p>", subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(b"1" * 600, maintype="image", subtype="png", cid="<one@x>")
    message.add_alternative("<p>other</p>", subtype="html")
    message.get_payload()[2].add_related(b"2" * 600, maintype="image", subtype="png", cid="<two@x>")
    got = parse_email(message.as_bytes(), max_total_bytes=1000)
    assert [a.content_id for a in got.attachments] == ["one@x"]
    assert got.attachments[0].inline
    assert any("two.png" in note for note in got.notes)


def test_deeply_nested_blockquotes_do_not_blow_up_the_text() -> None:
    from okno.channels.adapters.email.mail_html import mail_html_to_text

    text = mail_html_to_text("<blockquote>" * 50_000 + "<br>" * 10_000 + "x")
    assert len(text) < 400_000 and text.endswith("x")  # uncapped, the "> " marks alone would take a gigabyte
