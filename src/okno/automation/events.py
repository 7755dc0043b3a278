"""Events the automation domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class WebhookCallFailed(EventType, topic="automation.webhook_failed"):
    """A rule's ``call_webhook`` gave up (refused, or too many attempts)."""

    conversation_id: int
    customer_id: int
    rule_id: int
    url: str
    idempotency_key: str
    attempts: int
    reason: str
