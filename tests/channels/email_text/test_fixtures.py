"""Every recorded client message parses to its expected result (``<name>.json`` beside ``<name>.eml``)."""

from __future__ import annotations

import pytest

from okno.channels.adapters.email.mail_html import mail_html_to_text
from okno.channels.adapters.email.parsing import parse_email
from okno.channels.adapters.email.quotes import split_reply
from tests.channels.email_text.fixtures import EML, expected, fixture_names, raw

NAMES = fixture_names()
CLIENTS = ("outlook", "gmail", "apple_mail", "iphone", "thunderbird", "yandex", "mailru")


def test_every_fixture_has_an_expected_result() -> None:
    missing = [name for name in NAMES if not (EML / f"{name}.json").exists()]
    orphans = sorted(path.stem for path in EML.glob("*.json") if not (EML / f"{path.stem}.eml").exists())
    assert not missing, f"fixtures without an expected result: {missing}"
    assert not orphans, f"expected results without a fixture: {orphans}"


def test_the_fixtures_cover_the_clients_languages_and_cases() -> None:
    assert len(NAMES) >= 20
    for client in CLIENTS:
        assert any(name.startswith(client) for name in NAMES), client
    texts = {name: raw(name) for name in NAMES}
    assert any(b"koi8-r" in body.lower() for body in texts.values())
    assert any(b"windows-1251" in body.lower() for body in texts.values())
    assert any(b"auto-submitted: auto-replied" in body.lower() and b"multipart/report" not in body for body in texts.values())
    assert any(b"list-id:" in body.lower() for body in texts.values())
    assert sum(b"report-type=delivery-status" in body for body in texts.values()) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_fixture_parses_to_its_expected_result(name: str) -> None:
    want = expected(name)
    got = parse_email(raw(name))
    assert got.subject == want["subject"]
    assert got.from_address == want["from_address"]
    assert got.message_id == want["message_id"]
    assert list(got.in_reply_to) == want["in_reply_to"]
    assert list(got.references) == want["references"]
    assert got.automatic is want["automatic"]
    assert [a.filename for a in got.attachments] == want["attachments"]
    if "from_name" in want:
        assert got.from_name == want["from_name"]
    if "inline" in want:
        assert [a.content_id for a in got.attachments if a.inline] == want["inline"]
    if want["bounce"] is None:
        assert got.bounce is None
    else:
        assert got.bounce is not None
        assert got.bounce.original_message_id == want["bounce"]["original_message_id"]
        assert got.bounce.status == want["bounce"]["status"]
        assert got.bounce.recipient == want["bounce"]["recipient"]
        assert want["bounce"]["diagnostic_contains"] in got.bounce.diagnostic
    assert got.new_text == want["new_text"]
    # nothing is lost: the new text and what was cut from it make up the whole text
    if got.quoted:
        assert got.new_text in got.text
        for line in got.quoted.splitlines():
            assert line.strip() in got.text


HTML_NAMES = [name for name in NAMES if b"text/html" in raw(name) and expected(name)["bounce"] is None]


@pytest.mark.parametrize("name", HTML_NAMES)
def test_the_html_part_alone_gives_the_same_new_text(name: str) -> None:
    """Were the plain part missing, the text derived from the HTML (``<blockquote>`` marked as
    quotes, Outlook's header block as lines) would be split the same way."""
    html = parse_email(raw(name)).html
    assert html is not None
    got = split_reply(mail_html_to_text(html)).new
    assert " ".join(got.split()) == " ".join(expected(name)["new_text"].split())
