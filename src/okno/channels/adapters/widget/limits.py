"""Rate limits of the website chat: per visitor and per IP address, in this process's memory.

A token bucket per key: ``per_minute`` requests may come at once, then one more every
``60 / per_minute`` seconds. Buckets that have refilled are forgotten, so memory stays bounded
by the visitors who are busy right now (and at most ``MAX_KEYS`` of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from okno.channels.runtime import AdapterRuntime

MAX_KEYS = 50_000


@dataclass
class Buckets:
    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (tokens, at)

    def take(self, key: str) -> float:
        """0 when ``key`` may go on now (a token is spent), else the seconds until it may."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, at = self._state.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._state) >= MAX_KEYS and key not in self._state:
            self._forget_full(now)
        self._state[key] = (tokens - 1.0, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        rate = self.per_minute / 60.0
        full = [k for k, (tokens, at) in self._state.items() if tokens + (now - at) * rate >= self.per_minute]
        for key in full:
            del self._state[key]
        if len(self._state) >= MAX_KEYS:  # everyone is busy: drop the oldest half
            for key in sorted(self._state, key=lambda k: self._state[k][1])[: MAX_KEYS // 2]:
                del self._state[key]


class WidgetLimits:
    """The process's widget limits (one instance per process, through :func:`widget_limits`)."""

    def __init__(self) -> None:
        self._build({})
        self.configured = False

    def configure(self, limits: Mapping[str, int]) -> None:
        self._build(limits)
        self.configured = True

    def _build(self, limits: Mapping[str, int]) -> None:
        self.messages = Buckets(limits.get("widget_messages_per_minute", 30))
        self.messages_per_ip = Buckets(limits.get("widget_messages_per_minute_per_ip", 120))
        self.sessions_per_ip = Buckets(limits.get("widget_sessions_per_minute_per_ip", 20))
        self.receipts = Buckets(limits.get("widget_receipts_per_minute", 120))

    def message(self, channel_id: int, visitor_id: str, ip: str) -> float:
        """Seconds to wait before this visitor may send (0: go on)."""
        return self.messages.take(f"{channel_id}:{visitor_id}") or self.messages_per_ip.take(ip)

    def session(self, ip: str) -> float:
        return self.sessions_per_ip.take(ip)

    def receipt(self, channel_id: int, visitor_id: str) -> float:
        return self.receipts.take(f"{channel_id}:{visitor_id}")


def widget_limits(runtime: AdapterRuntime) -> WidgetLimits:
    limits = runtime.hub(WidgetLimits)
    if not limits.configured:
        limits.configure(runtime.settings.rate_limits)
    return limits
