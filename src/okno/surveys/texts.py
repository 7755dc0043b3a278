"""What a survey says to the customer, in his language, and how his reply is read.

The language: his saved locale (the customer attribute ``locale`` or ``language``: ``ru`` or
``en``), else the language of his messages in the conversation (Cyrillic letters: Russian;
Latin letters only: English), else ``OKNO_SURVEY_DEFAULT_LANGUAGE``.

A reply is a score when it is short (at most ``MAX_WORDS`` words, no question mark) and names
exactly one number: "5", "5 спасибо", "10!", "оценка 4", "9/10" (a number followed by the
scale's top, "/10", counts once). Anything longer is the customer talking, not answering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from okno.models.surveys import SCALES

MAX_WORDS = 8
_NUMBER = re.compile(r"\d+")
_OUT_OF = re.compile(r"(\d+)\s*(?:/|из|of|out of)\s*(\d+)", re.IGNORECASE)
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
LANGUAGES = ("ru", "en")

# What okno itself says around a survey, in both languages (the question and the follow-up
# question are the admin's).
SCALE_HINT = {
    "ru": "Ответьте цифрой от {low} до {high}.",
    "en": "Reply with a number from {low} to {high}.",
}
LINKS_HINT = {
    "ru": "Выберите оценку по ссылке (или ответьте цифрой от {low} до {high}):",
    "en": "Choose your score by its link (or reply with a number from {low} to {high}):",
}
RETRY = {
    "ru": "Извините, не поняли оценку. Пожалуйста, ответьте одной цифрой от {low} до {high}.",
    "en": "Sorry, we didn't catch your score. Please reply with one number from {low} to {high}.",
}


@dataclass(frozen=True)
class Reading:
    """How a reply reads: ``score`` (in range), ``unclear`` (short, but no score in range: one
    retry), or neither (the customer is talking about something else)."""

    score: int | None = None
    unclear: bool = False


def read_reply(text: str, kind: str, *, has_files: bool = False) -> Reading:
    low, high = SCALES[kind]
    text = (text or "").strip()
    if has_files or not text or "?" in text or len(text.split()) > MAX_WORDS:
        return Reading()
    numbers = [int(n) for n in _NUMBER.findall(text) if len(n) <= 3]
    out_of = _OUT_OF.search(text)
    if out_of and int(out_of.group(2)) == high and len(numbers) == 2:
        numbers = [int(out_of.group(1))]
    if len(numbers) == 1 and low <= numbers[0] <= high:
        return Reading(score=numbers[0])
    return Reading(unclear=True)


def language_of(saved: object, texts: list[str], default: str) -> str:
    if isinstance(saved, str) and saved.lower()[:2] in LANGUAGES:
        return saved.lower()[:2]
    joined = " ".join(texts)
    if _CYRILLIC.search(joined):
        return "ru"
    if _LATIN.search(joined):
        return "en"
    return default


def in_language(texts: dict[str, str] | None, language: str) -> str | None:
    """The text in ``language``, else in the other one."""
    if not texts:
        return None
    return texts.get(language) or next((texts[lang] for lang in LANGUAGES if texts.get(lang)), None)


def scale_hint(kind: str, language: str) -> str:
    low, high = SCALES[kind]
    return SCALE_HINT[language].format(low=low, high=high)


def retry_text(kind: str, language: str) -> str:
    low, high = SCALES[kind]
    return RETRY[language].format(low=low, high=high)


def links_text(kind: str, language: str, links: list[tuple[int, str]]) -> str:
    """The scale as one line per score with its link (e-mail: the HTML part makes them clickable)."""
    low, high = SCALES[kind]
    lines = [f"{score} — {url}" for score, url in links]
    return "\n".join([LINKS_HINT[language].format(low=low, high=high), *lines])
