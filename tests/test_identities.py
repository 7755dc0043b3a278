"""Property tests for identity normalisation."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from okno.customers.identities import (
    IdentityKey,
    InvalidIdentity,
    normalize_email,
    normalize_identity,
    normalize_phone,
    parse_identity,
)

ru_mobile = st.integers(min_value=900_000_0000, max_value=999_999_9999).map(str)


def _formats(digits: str) -> list[str]:
    a, b, c, d, e = digits[:3], digits[3:6], digits[6:8], digits[8:], digits
    return [f"+7{e}", f"+7 {a} {b}-{c}-{d}", f"8{e}", f"8 ({a}) {b}-{c}-{d}", f"7{e}", f"+7 ({a}) {b} {c} {d}", f" 8-{a}-{b}-{c}-{d} "]


@given(ru_mobile)
def test_every_common_russian_format_normalises_to_one_e164(digits: str) -> None:
    assert {normalize_phone(f) for f in _formats(digits)} == {f"+7{digits}"}


@given(ru_mobile)
def test_phone_normalisation_is_idempotent(digits: str) -> None:
    once = normalize_phone(f"8 {digits}")
    assert normalize_phone(once) == once


@given(st.text(max_size=30).filter(lambda s: sum(ch.isdigit() for ch in s) < 5))
def test_text_without_enough_digits_is_never_a_phone(text: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalize_phone(text)


def _phonenumbers_says(text: str, region: str) -> str:
    """What phonenumbers itself makes of ``text`` (the uncached reference)."""
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return "no number"
    if not phonenumbers.is_possible_number(number):
        return "impossible"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ours(text: str, region: str) -> str:
    try:
        return normalize_phone(text, region)
    except InvalidIdentity as exc:
        return "impossible" if "possible" in str(exc) else "no number"


@given(st.from_regex(r"\+?[0-9 ()\-.]{1,30}", fullmatch=True), st.sampled_from(["RU", "US", "DE", "GB"]))
def test_spellings_sharing_a_cache_entry_parse_as_phonenumbers_parses_each(text: str, region: str) -> None:
    """Digits-and-separators spellings are parsed once per (leading plus, digits): that must give
    exactly what phonenumbers gives for each spelling, refusals included."""
    if len(text.strip()) <= 40:
        assert _ours(text, region) == _phonenumbers_says(text, region)


@given(st.from_regex(r"[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,15}\.[A-Za-z]{2,6}", fullmatch=True))
def test_email_is_lower_cased_and_idempotent(raw: str) -> None:
    once = normalize_email(f"  {raw} ")
    assert once == raw.lower() and normalize_email(once) == once


@given(st.text(max_size=40).filter(lambda s: "@" not in s))
def test_no_at_sign_no_email(text: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalize_email(text)


@given(st.text(min_size=1, max_size=60))
def test_parse_identity_never_crashes_with_anything_but_invalid(text: str) -> None:
    try:
        key = parse_identity(text)
    except InvalidIdentity:
        return
    assert isinstance(key, IdentityKey) and parse_identity(str(key)) == key


def test_examples() -> None:
    assert parse_identity("phone:8 (916) 123-45-67") == IdentityKey("phone", "+79161234567")
    assert normalize_identity("EMAIL", " Anna@Mail.RU ") == IdentityKey("email", "anna@mail.ru")
    assert normalize_identity("phone", "+44 20 7946 0958") == IdentityKey("phone", "+442079460958")
    assert normalize_identity("phone", "020 7946 0958", default_region="GB").value == "+442079460958"
    assert normalize_identity("telegram", " 123456789 ") == IdentityKey("telegram", "123456789")
    with pytest.raises(InvalidIdentity, match="unknown identity kind"):
        normalize_identity("icq", "1")
    with pytest.raises(InvalidIdentity):
        normalize_identity("telegram", "has space")


def test_russian_shortcut_agrees_with_phonenumbers_on_every_three_digit_start() -> None:
    """``+7`` / ``8`` and ten digits skip phonenumbers in region RU: for every start the
    shortcut takes (and, spelt with separators, through ``normalize_phone``) the result is
    exactly phonenumbers' own."""
    import random

    from okno.customers.identities import _RUSSIAN_FIRST_DIGITS, _russian_e164

    rng = random.Random(7)
    taken = 0
    for start in range(1000):
        for _ in range(3):
            national = f"{start:03d}" + "".join(rng.choice("0123456789") for _ in range(7))
            a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
            for number in (f"+7{national}", f"8{national}"):
                fast = _russian_e164(number)
                if national[0] in _RUSSIAN_FIRST_DIGITS:
                    taken += 1
                    assert fast == _phonenumbers_says(number, "RU") == f"+7{national}", number
                else:
                    assert fast is None, number
            for spelt in (f"+7 ({a}) {b}-{c}-{d}", f"8 {a} {b} {c} {d}", f" 8-{a}-{b}-{c}-{d} ", f"+7.{a}.{b}{c}{d}"):
                assert _ours(spelt, "RU") == _phonenumbers_says(spelt, "RU"), spelt
    assert taken == 2 * 3 * 700


def test_russian_shortcut_leaves_the_rest_to_phonenumbers() -> None:
    from okno.customers.identities import _russian_e164

    for number in ("81012345678", "+70123456789", "79161234567", "9161234567", "+791612345678", "+89161234567", "8916123456"):
        assert _russian_e164(number) is None, number
    assert normalize_phone("8 10 1 822 815 8", "RU") == _phonenumbers_says("8 10 1 822 815 8", "RU")


@given(st.from_regex(r"(\+7|8|7|\+8)[0-9]{9,11}", fullmatch=True), st.sampled_from(["RU", "US", "KZ"]))
def test_russian_looking_numbers_normalise_as_phonenumbers_says(text: str, region: str) -> None:
    assert _ours(text, region) == _phonenumbers_says(text, region)
