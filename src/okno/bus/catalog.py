"""The event catalogue's building block: one typed, versioned payload per topic.

An event type is a frozen dataclass that names its ``topic`` and payload ``version`` and lists
the fields every payload of that topic carries (a payload may carry more: the conversation
events add the change's own details). Defining the class registers the topic; each domain keeps
its event types in its own ``events.py`` and :mod:`okno.events` imports them all, so the
catalogue is complete wherever events are recorded or subscribed to.

Adding a topic is adding one class to the emitting domain's ``events.py``::

    @dataclass(frozen=True)
    class ChannelHealthChanged(EventType, topic="channel.health_changed"):
        channel_id: int
        health: str

Recording checks every topic against the catalogue (an unknown topic or a payload without the
declared fields raises :class:`UnknownTopic` / :class:`InvalidEventPayload` at once, in the
caller's transaction) at the cost of a dictionary look-up and a set comparison.
"""

from __future__ import annotations

import importlib
from dataclasses import MISSING, fields
from typing import Any, ClassVar

COLLECTOR = "okno.events"  # imports every domain's events module


class UnknownTopic(LookupError):
    """A programming error: the code records or subscribes to a topic nobody declared."""


class InvalidEventPayload(ValueError):
    """A programming error: a payload without the fields its event type declares."""


class EventType:
    """Base of every event payload class (subclasses are frozen dataclasses)."""

    topic: ClassVar[str]
    version: ClassVar[int] = 1
    required: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, *, topic: str | None = None, version: int = 1, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if topic is None:
            return
        cls.topic, cls.version = topic, version
        earlier = _CATALOGUE.get(topic)
        if earlier is not None and earlier.__qualname__ != cls.__qualname__:
            raise TypeError(f"topic {topic!r} is defined twice: {earlier.__module__}.{earlier.__qualname__} and {cls.__module__}.{cls.__qualname__}")
        _CATALOGUE[topic] = cls

    def payload(self) -> dict[str, Any]:
        data = {_key(f.name): getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        if self.version != 1:
            data["v"] = self.version  # version 1 payloads carry no marker (every payload recorded before versions)
        return data


def _key(name: str) -> str:
    """``from_`` is the field for the payload key ``from`` (a Python keyword)."""
    return name.removesuffix("_")


_CATALOGUE: dict[str, type[EventType]] = {}
_complete = False


def catalogue() -> dict[str, type[EventType]]:
    """Every known topic and its event type."""
    global _complete
    if not _complete:
        importlib.import_module(COLLECTOR)
        for cls in _CATALOGUE.values():
            if "required" not in cls.__dict__:
                cls.required = frozenset(  # fields with a default may be left out of a payload
                    _key(f.name) for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING  # type: ignore[arg-type]
                )
        _complete = True
    return _CATALOGUE


def event_type(topic: str) -> type[EventType]:
    found = _CATALOGUE.get(topic) if _complete else catalogue().get(topic)
    if found is None:
        raise UnknownTopic(f"event topic {topic!r} is not in the catalogue: define it in the emitting domain's events.py")
    return found


def check_event(topic: str, payload: dict[str, Any]) -> None:
    """Refuses a topic missing from the catalogue or a payload without its declared fields."""
    declared = event_type(topic)
    if not declared.required <= payload.keys():
        missing = ", ".join(sorted(declared.required - payload.keys()))
        raise InvalidEventPayload(f"event {topic!r} recorded without {missing}")
