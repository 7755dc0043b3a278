"""Normalisation: e-mail provider rules, Russian trunk prefix, Cyrillic↔Latin name keys."""

from __future__ import annotations

import pytest

from okno.customers.email_rules import DEFAULT_EMAIL_RULES, EmailProviderRule, configure_email_rules
from okno.customers.identities import normalize_email, normalize_phone
from okno.customers.matching.fields import RawPerson, blocking_keys, comparison_fields, normalize_date
from okno.customers.names import latin_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan.Petrov+shop@GoogleMail.com", "ivanpetrov@gmail.com"),
        ("i.v.a.n.petrov@gmail.com", "ivanpetrov@gmail.com"),
        ("ivan-petrov+news@ya.ru", "ivan.petrov@yandex.ru"),
        ("Ivan.Petrov@yandex.com", "ivan.petrov@yandex.ru"),
        ("john.smith+a@outlook.com", "john.smith@outlook.com"),
        ("a.b+c@mail.ru", "a.b+c@mail.ru"),  # no rule for mail.ru: only lower-cased
        ("Anna@Example.RU", "anna@example.ru"),
    ],
)
def test_email_provider_rules(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


def test_email_rules_are_replaceable_data() -> None:
    try:
        configure_email_rules([EmailProviderRule(domains=["corp.example"], canonical_domain="corp.example", drop_dots=True)])
        assert normalize_email("A.B@corp.example") == "ab@corp.example"
        assert normalize_email("a.b+x@gmail.com") == "a.b+x@gmail.com"
    finally:
        configure_email_rules(DEFAULT_EMAIL_RULES)
    assert normalize_email("a.b+x@gmail.com") == "ab@gmail.com"


@pytest.mark.parametrize("raw", ["8 916 123-45-67", "89161234567", "+7 (916) 123 45 67", "7 916 1234567", "8(916)1234567"])
def test_russian_trunk_prefix(raw: str) -> None:
    assert normalize_phone(raw) == "+79161234567"


@pytest.mark.parametrize(
    "spellings",
    [
        ["Юлия", "Yulia", "Iuliia", "Julia"],
        ["Алексей", "Aleksey", "Alexei", "Aleksei"],
        ["Дмитрий", "Dmitry", "Dmitrii", "Dmitriy"],
        ["Щукина", "Shchukina", "Schukina"],
        ["Хабибуллин", "Khabibullin", "Habibullin"],
        ["Ксения", "Kseniya", "Xenia"],
    ],
)
def test_cyrillic_and_latin_spellings_share_one_key(spellings: list[str]) -> None:
    assert len({latin_key(s) for s in spellings}) == 1, {s: latin_key(s) for s in spellings}


def test_comparison_fields_keep_display_untouched_and_block_swapped_names() -> None:
    person = RawPerson(full_name="Юлия Щукина", birth_date="01.04.1990", phones=["8 916 123-45-67"], emails=["Y.S@gmail.com"], postcode="101 000")
    fields = comparison_fields(person)
    assert fields == {
        "first_name": "yulya", "last_name": "shukina", "birth_date": "1990-04-01",
        "phones": ["+79161234567"], "emails": ["ys@gmail.com"], "postcode": "101000",
    }  # fmt: skip
    assert person.full_name == "Юлия Щукина"
    swapped = comparison_fields(RawPerson(first_name="Shchukina", last_name="Yulia", birth_date="1990-04-01"))
    assert blocking_keys(fields) & blocking_keys(swapped)
    assert normalize_date("1990-13-45") == "" and normalize_date("2001/02/03") == "2001-02-03"


def test_email_rules_from_settings_json() -> None:
    from okno.customers.email_rules import configure_email_rules_json

    try:
        configure_email_rules_json('[{"domains": ["mail.ru", "bk.ru"], "canonical_domain": "mail.ru"}]')
        assert normalize_email("ivan+promo@bk.ru") == "ivan@mail.ru"
        assert normalize_email("i.van@gmail.com") == "i.van@gmail.com"
        with pytest.raises(ValueError):
            configure_email_rules_json('[{"domains": []}]')
    finally:
        configure_email_rules(DEFAULT_EMAIL_RULES)
