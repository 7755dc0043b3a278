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
from zoneinfo import ZoneInfo

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
        """A span in units nobody misreads: "2 мин" / "2 мес." ("2 min" / "2 mths"), never
        "2 м."; under a minute it is said in words, never "0 s"."""
        if abs(delta) < timedelta(minutes=1):
            return self.gettext("under a minute")
        return format_timedelta(delta, locale=self.locale, threshold=1.1, format="short")

    def stamp(self, moment: datetime | None, now: datetime) -> str:
        """A moment as short as stays unambiguous: the time today, with the date on another
        day, with the year in another year (in the operator's time zone)."""
        if moment is None:
            return ""
        local, today = moment.astimezone(ZoneInfo(self.tz)), now.astimezone(ZoneInfo(self.tz))
        if local.date() == today.date():
            return format_datetime(moment, "HH:mm", tzinfo=self.tz, locale=self.locale)
        pattern = "d MMM, HH:mm" if local.year == today.year else "d MMM y, HH:mm"
        return format_datetime(moment, pattern, tzinfo=self.tz, locale=self.locale)

    def sla(self, due: datetime, now: datetime) -> str:
        """An SLA deadline with the time left or overdue, and its date when it is not today."""
        when = self.stamp(due, now)
        if abs(due - now) < timedelta(minutes=1):
            return self.gettext("SLA due now (%(when)s)", when=when)
        if due < now:
            return self.gettext("SLA overdue by %(late)s (due %(when)s)", late=self.duration(now - due), when=when)
        return self.gettext("SLA due in %(left)s (by %(when)s)", left=self.duration(due - now), when=when)

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
