"""Rate limits in this process's memory: a token bucket per key (an IP address, a visitor).

``per_minute`` requests may come at once, then one more every ``60 / per_minute`` seconds.
Buckets that have refilled are forgotten, so memory stays bounded by the keys that are busy
right now (and at most ``MAX_KEYS`` of them). Used by the widget and the survey links.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
