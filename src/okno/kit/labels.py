"""Words a person reads, carried by the code that owns them, in every language of the UI.

Built-in screens translate through the gettext catalogue; parts that a plugin may add (an
automation action, a rule condition) bring their own Russian and English instead, because a
third-party package cannot add to okno's catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

FALLBACK = "en"


@dataclass(frozen=True)
class Label:
    en: str
    ru: str

    def in_(self, locale: str) -> str:
        return getattr(self, locale, None) or getattr(self, FALLBACK)

    def as_json(self) -> dict[str, str]:
        return {"en": self.en, "ru": self.ru}


def labelled(en: str, ru: str, *, help_en: str | None = None, help_ru: str | None = None, **field: Any) -> Any:
    """A pydantic ``Field`` whose JSON Schema carries its title in both languages (``x-label``),
    and, given, a hint in both (``x-help``): forms built from the schema show the admin's one."""
    extra: dict[str, Any] = dict(field.pop("json_schema_extra", None) or {})
    extra["x-label"] = {"en": en, "ru": ru}
    if help_en is not None:
        extra["x-help"] = {"en": help_en, "ru": help_ru or help_en}
    return Field(title=en, description=help_en, json_schema_extra=extra, **field)
