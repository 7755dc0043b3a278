"""Rate limits of the website chat: per visitor and per IP address, in this process's memory.

A token bucket per key: ``per_minute`` requests may come at once, then one more every
``60 / per_minute`` seconds. Buckets that have refilled are forgotten, so memory stays bounded
by the visitors who are busy right now (and at most ``MAX_KEYS`` of them).
"""

from __future__ import annotations

from collections.abc import Mapping

from okno.channels.runtime import AdapterRuntime
from okno.kit.buckets import Buckets

__all__ = ["Buckets", "WidgetLimits"]


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
