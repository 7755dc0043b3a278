"""The survey settings in force in this process (``OKNO_SURVEY_*``), set once when the
application context is built (like the personal-data key ring): the timers and the ingest hook
that read them get no settings of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SurveyPolicy:
    quiet_days: int = 7
    answer_hours: float = 72.0
    comment_minutes: float = 60.0
    default_language: str = "ru"
    public_url: str = ""  # OKNO_PUBLIC_URL: where survey links point (none without it)
    link_secrets: tuple[str, ...] = ()  # OKNO_SECRET_KEYS: what signs survey links


_current = SurveyPolicy()


def use_settings(settings: Any) -> None:
    global _current
    _current = SurveyPolicy(
        quiet_days=settings.survey_quiet_days,
        answer_hours=settings.survey_answer_hours,
        comment_minutes=settings.survey_comment_minutes,
        default_language=settings.survey_default_language,
        public_url=settings.public_url,
        link_secrets=tuple(settings.fernet_keys()),
    )


def policy() -> SurveyPolicy:
    return _current
