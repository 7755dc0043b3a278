"""Events the customers domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class CustomerCreated(EventType, topic="customer.created"):
    customer_id: int


@dataclass(frozen=True)
class CustomerAttributesChanged(EventType, topic="customer.attributes_changed"):
    customer_id: int
    keys: list[str]


@dataclass(frozen=True)
class CustomerMerged(EventType, topic="customer.merged"):
    merge_id: int
    survivor_id: int
    merged_id: int
    reason: str
    origin: str
    moved: dict[str, Any]


@dataclass(frozen=True)
class CustomerUnmerged(EventType, topic="customer.unmerged"):
    merge_id: int
    survivor_id: int
    restored_id: int
    reason: str
    moved_back: dict[str, Any]


@dataclass(frozen=True)
class IdentityConflictFound(EventType, topic="identity.conflict"):
    """A touch named a key another customer owns: nothing merged, a person decides."""

    customer_id: int
    identity: str
    claimed_by_customer_id: int


@dataclass(frozen=True)
class IdentityConflictResolved(EventType, topic="identity_conflict.resolved"):
    conflict_id: int
    identity: str
    action: str
    note: str | None
