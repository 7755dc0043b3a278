"""Every string the UI shows has a Russian translation, and Russian plurals work."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from okno.web.i18n import Translator, translations

WEB = Path(__file__).resolve().parents[2] / "src" / "okno" / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def _source_strings() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(WEB, METHODS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_ui_string_has_a_russian_translation() -> None:
    strings = _source_strings()
    assert len(strings) > 100
    catalog = translations("ru")
    untranslated = sorted(s for s in strings if catalog.gettext(s) == s and s not in {"E-mail", "e-mail"})
    assert untranslated == [], f"add these to src/okno/web/locale/ru/LC_MESSAGES/messages.po: {untranslated}"


def test_russian_plurals_and_english_fallback() -> None:
    ru, en = Translator("ru"), Translator("en")
    assert [ru.ngettext("%(num)d message", "%(num)d messages", n) for n in (1, 3, 5, 21)] == ["1 сообщение", "3 сообщения", "5 сообщений", "21 сообщение"]
    assert en.ngettext("%(num)d message", "%(num)d messages", 5) == "5 messages"
    assert ru.gettext("Inbox") == "Входящие" and en.gettext("Inbox") == "Inbox"


def test_no_message_is_translated_twice() -> None:
    """Helpers append to one catalog: a msgid given twice takes the first translation silently
    (a call's "missed" read "нарушено", the SLA's word), so every msgid appears once."""
    from collections import Counter
    from pathlib import Path

    po = Path(__file__).resolve().parents[2] / "src/okno/web/locale/ru/LC_MESSAGES/messages.po"
    ids = [line for line in po.read_text(encoding="utf-8").splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    assert [m for m, n in Counter(ids).items() if n > 1] == []
