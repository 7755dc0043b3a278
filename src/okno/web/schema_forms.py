"""Form fields generated from a JSON Schema (a rule action's params, what a routing rule sets),
in the admin's language: the label and hint from ``x-label``/``x-help`` (``okno.kit.labels``),
a picker for ids and keys (``x-options``: teams, operators, policies, canned, statuses, reasons,
priorities), a comma-separated box for lists, a masked box for secrets.

``admin.js`` reads the values back by ``data-param`` and ``data-type``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    help: str
    widget: str  # select, number, text, textarea, password, list, checkbox
    value_type: str  # integer, number, string, boolean, array: how admin.js reads it back
    required: bool
    options: str | None = None  # the select's source, filled from the page's option lists


def form_fields(schema: dict[str, Any], locale: str) -> list[FormField]:
    required = set(schema.get("required", ()))
    return [
        _field(name, prop, locale, required=name in required)
        for name, prop in schema.get("properties", {}).items()
        if name != "type" or "const" not in prop  # an action's type is chosen beside its fields
    ]


def _field(name: str, prop: dict[str, Any], locale: str, *, required: bool) -> FormField:
    value_type = _type_of(prop)
    label = (prop.get("x-label") or {}).get(locale) or prop.get("title") or name
    hint = (prop.get("x-help") or {}).get(locale) or ""
    if prop.get("x-options"):
        widget = "select"
    elif value_type == "boolean":
        widget = "checkbox"
    elif value_type == "array":
        widget = "list"
    elif value_type in ("integer", "number"):
        widget = "number"
    elif prop.get("format") == "password" or prop.get("writeOnly"):
        widget = "password"
    else:
        widget = prop.get("x-widget") or "text"
    return FormField(name, label, hint, widget, value_type, required, prop.get("x-options"))


def _type_of(prop: dict[str, Any]) -> str:
    if "type" in prop:
        return str(prop["type"])
    if "const" in prop or "enum" in prop:
        values = [prop["const"]] if "const" in prop else prop["enum"]
        return "integer" if all(isinstance(v, int) for v in values) else "string"
    for choice in prop.get("anyOf", ()):
        if choice.get("type") != "null":
            return _type_of(choice)
    return "string"
