"""Russian and English for the UI, with Babel: gettext catalogs, plurals, dates and durations.

Source strings are English; ``locale/<lang>/LC_MESSAGES/messages.po`` holds the translations.
Catalogs are compiled in memory when first used, so there is no build step. Refresh the
template after changing strings: ``pybabel extract -F babel.cfg -o messages.pot src/okno/web``
then ``pybabel update -i messages.pot -d src/okno/web/locale``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
_DIR = Path(__file__).parent / "locale"


def pick_locale(wanted: str | None) -> str:
    return wanted if wanted in LOCALES else DEFAULT_LOCALE


@cache
def translations(locale: str) -> NullTranslations:
    po = _DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@dataclass(frozen=True)
class Translator:
    """What a template calls: ``_("Inbox")``, ``ngettext(...)``, ``ago(dt)``, ``when(dt)``."""

    locale: str
    tz: str = "Europe/Moscow"

    def gettext(self, message: str, **params: object) -> str:
        text = translations(self.locale).gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = translations(self.locale).ngettext(singular, plural, n)
        return text % {"num": n, **params}

    def duration(self, delta: timedelta) -> str:
        return format_timedelta(delta, locale=self.locale, threshold=1.1, format="narrow")

    def since(self, moment: datetime | None, now: datetime) -> str:
        return "" if moment is None else self.duration(now - moment)

    def when(self, moment: datetime | str | None, fmt: str = "short") -> str:
        if not moment:
            return ""
        if isinstance(moment, str):  # as stored in timeline data (ISO 8601, UTC)
            moment = datetime.fromisoformat(moment)
        return format_datetime(moment, format=fmt, tzinfo=self.tz, locale=self.locale)

    def clock(self, moment: datetime | None) -> str:
        return "" if moment is None else format_datetime(moment, "HH:mm", tzinfo=self.tz, locale=self.locale)

    @property
    def language_name(self) -> str:
        return Locale.parse(self.locale).get_display_name(self.locale).capitalize()
