"""Hostile and broken mail never makes the parser or the quote finder raise: mutated recorded
fixtures, random bytes, and deep or wide MIME trees."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okno.channels.adapters.email.parsing import ParsedEmail, parse_email
from okno.channels.adapters.email.quotes import split_reply
from tests.channels.email_text.fixtures import fixture_names, raw

FIXTURES = [raw(name) for name in fixture_names()]
NASTY = [
    b"\r\n", b"\n\n", b"--", b"=?", b"?=", b"=?utf-8?B?", b"=?x?Q?=FF", b"boundary=\"\"", b"Content-Type: multipart/mixed; boundary=a\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"charset=\"\xff\"", b"\x00", b"\xff\xfe", b">", b"From: ", b"filename*=utf-8''%ZZ",
    b"Content-Type: message/rfc822\r\n", b"report-type=delivery-status", b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
]


def _check(parsed: ParsedEmail) -> None:
    assert isinstance(parsed, ParsedEmail)
    assert isinstance(parsed.text, str) and isinstance(parsed.new_text, str)
    assert parsed.date is None or parsed.date.tzinfo is not None
    for attachment in parsed.attachments:
        assert isinstance(attachment.data, bytes) and attachment.filename


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from(NASTY) | st.binary(max_size=40))
        elif data:
            del data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_fixtures_parse(data: bytes) -> None:
    _check(parse_email(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_parse(data: bytes) -> None:
    _check(parse_email(data))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_random_text_splits(text: str) -> None:
    split = split_reply(text)
    assert isinstance(split.new, str) and isinstance(split.quoted, str)


def test_deep_and_wide_trees_are_read_up_to_the_limits() -> None:
    deep = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for level in range(1, 60):
        deep += f"--b{level - 1}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n".encode()
    deep += b"--b59\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n"
    parsed = parse_email(deep)
    _check(parsed)
    assert parsed.notes
    wide = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n" + b"".join(
        f"--w\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f{i}.bin\r\n\r\nx\r\n".encode() for i in range(1000)
    ) + b"--w--\r\n"
    parsed = parse_email(wide)
    _check(parsed)
    assert len(parsed.attachments) < 1000 and parsed.notes
