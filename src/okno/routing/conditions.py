"""The condition fields routing and automation rules can test: for each, its operators, the shape
of its value (published as JSON Schema: the API's and the admin condition builder's), what else
it takes (a time zone, a window of days) and its name in Russian and English.

A condition is ``{"field": ..., "op": ..., "value": ...}``; ``okno.routing.matching`` checks and
evaluates them against the facts of ``okno.routing.facts``. ``customer.<attribute>`` is one
field for every customer attribute (``customer.vip_tier``, ``customer.segment``, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from okno.kit.labels import Label

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CUSTOMER = "customer."
CONTACT_COUNT = "contact_count_same_reason"
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365
DEFAULT_TIMEZONE = "Europe/Moscow"
NO_VALUE_OPS = ("exists", "not_exists")
LIST_OPS = ("in", "not_in", "contains", "not_contains")

OPS: dict[str, Label] = {
    "eq": Label(en="is", ru="равно"),
    "ne": Label(en="is not", ru="не равно"),
    "in": Label(en="is one of", ru="одно из"),
    "not_in": Label(en="is none of", ru="ни одно из"),
    "contains": Label(en="contains any of", ru="содержит одно из"),
    "not_contains": Label(en="contains none of", ru="не содержит ни одного из"),
    "matches": Label(en="matches the regular expression", ru="соответствует регулярному выражению"),
    "exists": Label(en="is set", ru="задан"),
    "not_exists": Label(en="is not set", ru="не задан"),
    "gte": Label(en="is at least", ru="не меньше"),
    "lte": Label(en="is at most", ru="не больше"),
    "between": Label(en="is between", ru="между"),
}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Scalar = str | int | float | bool


@dataclass(frozen=True)
class ConditionField:
    key: str  # "customer." stands for every "customer.<attribute>"
    label: Label
    ops: tuple[str, ...]
    value: Any  # the type of ``value`` (lists for in/not_in/contains…), for the schema
    widget: str  # how a form asks for the value: text, number, weekdays, time_range
    extras: tuple[str, ...] = ()  # keys beside value: timezone, window_days

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith(".")

    def model(self) -> type[BaseModel]:
        """The condition's JSON shape (for the schema: ``matching`` checks what is stored)."""
        return _model_of(self)


@cache
def _model_of(spec: ConditionField) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in spec.key.replace(".", "_").split("_") if part) + "Condition"
    field: Any = (str, Field(pattern=r"^customer\.[A-Za-z0-9_.-]{1,64}$")) if spec.is_prefix else (Literal[spec.key], ...)
    extras: dict[str, Any] = {}
    if "timezone" in spec.extras:
        extras["timezone"] = (str, Field(default=DEFAULT_TIMEZONE, description="an IANA time zone"))
    if "window_days" in spec.extras:
        extras["window_days"] = (int, Field(default=DEFAULT_WINDOW_DAYS, ge=1, le=MAX_WINDOW_DAYS))
    return create_model(
        name, __config__=ConfigDict(title=name, json_schema_extra={"x-label": spec.label.as_json()}), __doc__=spec.label.en,
        field=field, op=(Literal[spec.ops], ...), value=(spec.value | None, None), **extras,
    )


FIELDS: dict[str, ConditionField] = {f.key: f for f in (
    ConditionField("channel.kind", Label(en="Channel kind", ru="Тип канала"), ("eq", "ne", "in", "not_in"), str | list[str], "text"),
    ConditionField("channel.id", Label(en="Channel", ru="Канал"), ("eq", "ne", "in", "not_in"), int | list[int], "number"),
    ConditionField(CUSTOMER, Label(en="Customer attribute", ru="Атрибут клиента"),
                   ("eq", "ne", "in", "not_in", "exists", "not_exists", "gte", "lte"), Scalar | list[Scalar], "text"),
    ConditionField("message.text", Label(en="Message text", ru="Текст сообщения"), ("contains", "not_contains", "matches"), str | list[str], "text"),
    ConditionField("time", Label(en="Time of day", ru="Время суток"), ("between",),
                   tuple[str, str], "time_range", extras=("timezone",)),
    ConditionField("weekday", Label(en="Weekday", ru="День недели"), ("in", "not_in"), list[Weekday], "weekdays", extras=("timezone",)),
    ConditionField("conversation.reason", Label(en="Closing reason", ru="Причина закрытия"),
                   ("eq", "ne", "in", "not_in", "exists", "not_exists"), str | list[str], "text"),
    ConditionField("conversation.priority", Label(en="Priority", ru="Приоритет"), ("eq", "ne", "gte", "lte"), int, "number"),
    ConditionField("conversation.status", Label(en="Status", ru="Статус"), ("eq", "ne", "in", "not_in"), str | list[str], "text"),
    ConditionField(CONTACT_COUNT, Label(en="Contacts about the same reason", ru="Обращений по той же причине"), ("eq", "gte", "lte"),
                   int, "number", extras=("window_days",)),
)}


def field_of(name: str) -> ConditionField | None:
    """``customer.vip_tier`` → the customer attribute field; an unknown name → None."""
    if name.startswith(CUSTOMER):
        return FIELDS[CUSTOMER]
    return FIELDS.get(name)


def published_models() -> list[type[BaseModel]]:
    return [field.model() for field in FIELDS.values()]
