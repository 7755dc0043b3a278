"""Every setting of every channel kind okno ships has its label and hint in Russian and English,
and every kind its title: the admin's channel form shows no English to a Russian admin."""

from __future__ import annotations

from typing import Any

import pytest

from okno.channels.base import kind_titles
from okno.channels.registry import ADAPTERS

BUILT_IN = sorted(kind for kind, cls in ADAPTERS.items() if cls.__module__.startswith("okno.channels.adapters."))


def _settings(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = list(schema.get("properties", {}).items())
    for definition in schema.get("$defs", {}).values():  # nested models (WhatsApp templates)
        found += [(f"{definition.get('title', '?')}.{name}", prop) for name, prop in definition.get("properties", {}).items()]
    return found


@pytest.mark.parametrize("kind", BUILT_IN)
def test_every_setting_is_labelled_in_russian_and_english(kind: str) -> None:
    schema = ADAPTERS[kind].config_model.model_json_schema()
    unlabelled = [name for name, prop in _settings(schema) if not {"ru", "en"} <= set(prop.get("x-label") or {})]
    assert not unlabelled, f"{kind}: settings without x-label in ru and en (use okno.kit.labels.labelled): {unlabelled}"
    unhelped = [name for name, prop in _settings(schema) if prop.get("description") and not {"ru", "en"} <= set(prop.get("x-help") or {})]
    assert not unhelped, f"{kind}: settings whose hint is English only (labelled(..., help_en=, help_ru=)): {unhelped}"
    assert all((prop.get("x-label") or {}).get("ru", "").strip() for _, prop in _settings(schema))  # not blank


@pytest.mark.parametrize("kind", BUILT_IN)
def test_every_kind_has_its_title_in_both_languages(kind: str) -> None:
    titles = kind_titles(ADAPTERS[kind])
    assert set(titles) == {"ru", "en"} and all(titles.values())


def test_the_built_in_kinds_are_all_checked() -> None:
    assert {"api", "telegram", "whatsapp", "vk", "max", "widget"} <= set(BUILT_IN)
