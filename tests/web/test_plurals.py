"""Every count the Russian UI shows takes the right plural form (1 диалог, 2 диалога, 5 диалогов)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from babel.messages.pofile import read_po

from okno.web.i18n import Translator

PO = Path(__file__).resolve().parents[2] / "src/okno/web/locale/ru/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def test_every_plural_entry_has_three_russian_forms_with_the_same_values() -> None:
    with PO.open("rb") as fp:
        catalog = read_po(fp, locale="ru")
    plurals = [m for m in catalog if m.id and isinstance(m.id, tuple)]
    assert len(plurals) >= 9
    for message in plurals:
        forms = message.string
        assert isinstance(forms, tuple) and len(forms) == 3 and all(forms), message.id
        wanted = set(PLACEHOLDER.findall(message.id[1]))
        assert all(set(PLACEHOLDER.findall(form)) == wanted for form in forms), message.id


def test_russian_counts_in_the_ui() -> None:
    ru = Translator("ru")
    contacts = [ru.ngettext("%(num)s contact", "%(num)s contacts", n) for n in (1, 2, 5, 11, 21, 22, 25, 101)]
    assert contacts == ["1 контакт", "2 контакта", "5 контактов", "11 контактов", "21 контакт", "22 контакта", "25 контактов", "101 контакт"]
    listed = [ru.ngettext("%(shown)s of %(num)s conversation", "%(shown)s of %(num)s conversations", n, shown=1) for n in (1, 3, 105)]
    assert listed == ["1 из 1 обращения", "1 из 3 обращений", "1 из 105 обращений"]
    options = [ru.ngettext("Up to %(num)s option; Enter in an option goes to the next one",
                           "Up to %(num)s options; Enter in an option goes to the next one", n).split(";")[0] for n in (1, 3, 10)]
    assert options == ["До 1 варианта", "До 3 вариантов", "До 10 вариантов"]
    limits = [ru.ngettext("Must have at least %(num)s character", "Must have at least %(num)s characters", n) for n in (1, 3, 8)]
    assert limits == ["Нужен хотя бы 1 символ", "Нужно хотя бы 3 символа", "Нужно хотя бы 8 символов"]


def test_durations_say_their_unit_unambiguously() -> None:
    ru, en = Translator("ru"), Translator("en")
    assert ru.duration(timedelta(days=62)) == "2 мес." and en.duration(timedelta(days=62)) == "2 mths"  # never "2 м."
    assert ru.duration(timedelta(minutes=2)) == "2 мин" and ru.duration(timedelta(hours=5)) == "5 ч"
    assert ru.duration(timedelta(days=3)) == "3 дн." and ru.duration(timedelta(seconds=20)) == "меньше минуты"
