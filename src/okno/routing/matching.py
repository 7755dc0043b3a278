"""Rule conditions: checking what an admin wrote (errors name the condition and say what is
wrong) and matching a conversation. Which fields exist and which operators each allows is the
registry of ``okno.routing.conditions``.

A condition is ``{"field": ..., "op": ..., "value": ...}``; a rule matches when all hold.
Fields: ``channel.kind``, ``channel.id``, ``customer.<attribute>`` (vip_tier, segment,
language, …), ``message.text`` (the customer's latest message), ``conversation.reason``,
``conversation.priority``, ``conversation.status``, ``time`` (local time of day, ``"timezone"`` beside it),
``weekday`` (mon…sun, same time zone) and ``contact_count_same_reason`` (how many of the
customer's conversations, this one included, have this conversation's reason and began within
``"window_days"`` beside it, default 30; 0 while the conversation has no reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from okno.kit.errors import Invalid
from okno.routing.conditions import (
    CONTACT_COUNT,
    CUSTOMER,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW_DAYS,
    FIELDS,
    MAX_WINDOW_DAYS,
    NO_VALUE_OPS,
    WEEKDAYS,
    field_of,
)

MAX_PATTERN = 500
TEXT_SCANNED = 4000  # regexes see at most this much of a message


@dataclass(frozen=True)
class Facts:
    """What rules look at, read once per evaluation."""

    channel_kind: str | None
    channel_id: int | None
    customer: dict[str, Any]
    text: str
    reason: str | None
    priority: int
    at: datetime
    status: str | None = None
    contact_counts: dict[int, int] = field(default_factory=dict)  # window_days → contact_count_same_reason


def contact_windows(condition_lists: Iterable[list[dict[str, Any]]]) -> set[int]:
    """The ``window_days`` the conditions count contacts over: the facts to read before matching."""
    return {c["window_days"] for conditions in condition_lists for c in conditions if c["field"] == CONTACT_COUNT}


def checked_conditions(conditions: list[Any]) -> list[dict[str, Any]]:
    if not isinstance(conditions, list) or len(conditions) > 20:
        raise Invalid("conditions must be a list of at most 20 {field, op, value} objects")
    return [_checked(i, c) for i, c in enumerate(conditions)]


def matches(conditions: list[dict[str, Any]], facts: Facts) -> bool:
    return all(_holds(c, facts) for c in conditions)


def _checked(index: int, condition: Any) -> dict[str, Any]:
    where = f"conditions[{index}]"
    if not isinstance(condition, dict):
        raise Invalid("%(where)s must be an object with field, op and value", where=where)
    name, op, value = condition.get("field"), condition.get("op"), condition.get("value")
    if not isinstance(name, str):
        raise Invalid("%(where)s.field is missing", where=where)
    spec = field_of(name)
    if spec is None:
        known = ", ".join(f"{key}<attribute>" if f.is_prefix else key for key, f in FIELDS.items())
        raise Invalid("%(where)s.field %(name)r is unknown (one of: %(known)s)", where=where, name=name, known=known)
    if spec.is_prefix and not 0 < len(name) - len(spec.key) <= 64:
        raise Invalid("%(where)s.field %(name)r needs an attribute name after %(key)r", where=where, name=name, key=spec.key)
    if op not in spec.ops:
        raise Invalid("%(where)s.op %(op)r does not apply to %(name)s (use one of: %(ops)s)", where=where, op=op, name=name, ops=', '.join(sorted(spec.ops)))
    clean: dict[str, Any] = {"field": name, "op": op}
    if op in NO_VALUE_OPS:
        return clean
    clean["value"] = _checked_value(where, name, op, value)
    if "timezone" in spec.extras:
        clean["timezone"] = _checked_zone(where, condition.get("timezone", DEFAULT_TIMEZONE))
    if "window_days" in spec.extras:
        clean["window_days"] = _checked_window(where, condition.get("window_days", DEFAULT_WINDOW_DAYS))
    return clean


def _checked_value(where: str, name: str, op: str, value: Any) -> Any:  # noqa: C901 - one branch per shape
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise Invalid("%(where)s.value must be a non-empty list for %(op)r", where=where, op=op)
        if name == "weekday" and (bad := [v for v in value if v not in WEEKDAYS]):
            raise Invalid("%(where)s.value has unknown weekdays %(bad)s (use %(weekdays)s)", where=where, bad=bad, weekdays=', '.join(WEEKDAYS))
        return value
    if op in ("contains", "not_contains"):
        words = [value] if isinstance(value, str) else value
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise Invalid("%(where)s.value must be a keyword or a list of keywords", where=where)
        return [w.strip().casefold() for w in words]
    if op == "matches":
        if not isinstance(value, str) or not value or len(value) > MAX_PATTERN:
            raise Invalid("%(where)s.value must be a regular expression of 1–%(num)s character", plural="%(where)s.value must be a regular expression of 1–%(num)s characters", where=where, num=MAX_PATTERN)
        try:
            re.compile(value)
        except re.error as exc:
            raise Invalid("%(where)s.value is not a valid regular expression: %(exc)s", where=where, exc=exc) from None
        return value
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise Invalid('%(where)s.value must be ["HH:MM", "HH:MM"] (an end before the start runs overnight)', where=where)
        try:
            start, end = (time.fromisoformat(str(v)) for v in value)
        except ValueError:
            raise Invalid("%(where)s.value has a time that is not HH:MM: %(value)r", where=where, value=value) from None
        return [start.strftime("%H:%M"), end.strftime("%H:%M")]
    if name == CONTACT_COUNT and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise Invalid("%(where)s.value must be a whole number of conversations (e.g. 3 for the third contact)", where=where)
    if name == "conversation.priority" or op in ("gte", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid("%(where)s.value must be a number for %(op)r", where=where, op=op)
        return value
    if name == "channel.id" and (isinstance(value, bool) or not isinstance(value, int)):
        raise Invalid("%(where)s.value must be a channel id (a number)", where=where)
    if value is None:
        raise Invalid("%(where)s.value is missing", where=where)
    return value


def _checked_window(where: str, days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
        raise Invalid("%(where)s.window_days must be a whole number of days, 1–%(max_window_days)s", where=where, max_window_days=MAX_WINDOW_DAYS)
    return days


def _checked_zone(where: str, zone: Any) -> str:
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("%(where)s.timezone %(zone)r is unknown (use an IANA name such as Europe/Moscow)", where=where, zone=zone) from None
    return str(zone)


def _value_of(name: str, facts: Facts) -> Any:
    if name.startswith(CUSTOMER):
        return facts.customer.get(name.removeprefix(CUSTOMER))
    return {
        "channel.kind": facts.channel_kind,
        "channel.id": facts.channel_id,
        "conversation.reason": facts.reason,
        "conversation.priority": facts.priority,
        "conversation.status": facts.status,
    }.get(name)


def _holds(condition: dict[str, Any], facts: Facts) -> bool:  # noqa: PLR0911 - one return per operator
    name, op, value = condition["field"], condition["op"], condition.get("value")
    if name == "message.text":
        text = facts.text[:TEXT_SCANNED]
        if op == "matches":
            return re.search(value, text, re.IGNORECASE) is not None  # compiled patterns are cached by re
        found = any(word in text.casefold() for word in value)
        return found if op == "contains" else not found
    if name in ("time", "weekday"):
        local = facts.at.astimezone(ZoneInfo(condition["timezone"]))
        if name == "weekday":
            return (WEEKDAYS[local.weekday()] in value) == (op == "in")
        start, end = (time.fromisoformat(v) for v in value)
        now = local.time().replace(tzinfo=None)
        return start <= now < end if start < end else (now >= start or now < end)
    actual = facts.contact_counts.get(condition["window_days"], 0) if name == CONTACT_COUNT else _value_of(name, facts)
    if op == "exists":
        return actual not in (None, "")
    if op == "not_exists":
        return actual in (None, "")
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    if not isinstance(actual, int | float) or isinstance(actual, bool):
        return False
    return actual >= value if op == "gte" else actual <= value
