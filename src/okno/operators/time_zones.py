"""Each operator's own time zone: the UI shows times in it, and snooze presets ("tomorrow at
09:00") mean 09:00 there, worked out by the server so the browser's zone never matters."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from okno.kit.errors import Invalid

SnoozePreset = Literal["1h", "3h", "tomorrow", "monday"]
MORNING = time(9, 0)
DEFAULT_TIME_ZONE = "Europe/Moscow"  # OKNO_DEFAULT_TIME_ZONE's default


def checked_time_zone(name: str) -> str:
    """``name`` if it is an IANA zone ("Asia/Novosibirsk"), else a 422 saying so."""
    name = name.strip()
    if name not in _zones():
        raise Invalid("%(name)r is not a time zone: use an IANA name such as Europe/Moscow or Asia/Novosibirsk", name=name)
    return name


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = {z for z in available_timezones() if "/" in z or z == "UTC"}
    return _ZONES


_ZONES: set[str] | None = None


def common_time_zones() -> list[str]:
    """The zones offered in pickers: Russia's first (west to east), then the rest by name."""
    russian = [
        "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk", "Asia/Novosibirsk",
        "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka",
    ]
    rest = sorted(z for z in _zones() if z not in russian and z.split("/", 1)[0] in _REGIONS)
    return russian + rest


_REGIONS = {"Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "UTC"}


def zone_of(time_zone: str | None, default: str) -> ZoneInfo:
    """The operator's zone, else the installation's default (``OKNO_DEFAULT_TIME_ZONE``)."""
    for name in (time_zone, default):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def snooze_until(preset: SnoozePreset, now: datetime, zone: ZoneInfo) -> datetime:
    """When a snooze preset ends: an hour or three from now, or 09:00 tomorrow / next Monday in
    the operator's zone (a Monday asks for the Monday after)."""
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "3h":
        return now + timedelta(hours=3)
    day = now.astimezone(zone).date() + timedelta(days=1)
    if preset == "monday":
        while day.weekday() != 0:
            day += timedelta(days=1)
    return datetime.combine(day, MORNING, tzinfo=zone)
