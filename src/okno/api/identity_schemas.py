"""Bodies of the identity-resolution API: merges, conflicts, mapping rules, suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from okno.customers.conflicts import ConflictAction


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MergeIn(BaseModel):
    other_customer_id: int
    reason: str = Field(min_length=1, max_length=2000)


class UndoMergeIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class MergeOut(_Out):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    origin: str
    score: float | None
    moved: dict[str, Any]
    merged_by_id: int | None
    merged_at: datetime
    undone_by_id: int | None
    undone_at: datetime | None
    undo_reason: str | None


class ConflictOut(_Out):
    id: int
    kind: str
    value: str
    owner_id: int
    claimant_id: int
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by_id: int | None
    resolution_note: str | None
    merge_id: int | None


class ResolveConflictIn(BaseModel):
    action: ConflictAction
    note: str = Field(default="", max_length=2000)


class IdentityRuleIn(BaseModel):
    kind: str = Field(min_length=1, max_length=32)
    source: str = Field(default="*", max_length=64)
    proves: bool
    note: str = Field(default="", max_length=500)


class IdentityRuleOut(BaseModel):
    kind: str
    source: str
    proves: bool
    note: str
    is_default: bool


class ContributionOut(BaseModel):
    field: str
    comparison: str
    weight: float
    # the key that brought the pair to the queue: a typed, unproven key the other customer owns
    evidence: str | None = None


class SuggestionOut(BaseModel):
    customer_id: int
    score: float
    match_weight: float
    contributions: list[ContributionOut]


class QueuedSuggestionOut(_Out):
    id: int
    customer_id: int
    other_customer_id: int
    score: float
    contributions: list[ContributionOut]
    status: str
    created_at: datetime


class DecisionIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class MatcherSettingsIn(BaseModel):
    """Overrides; fields left out keep their current value. ``auto_threshold: null`` turns automatic merges off."""

    m: dict[str, list[float]] | None = None
    u: dict[str, list[float]] | None = None
    prior: float | None = Field(default=None, gt=0, lt=1)
    review_threshold: float | None = Field(default=None, gt=0, lt=1)
    auto_threshold: float | None = Field(default=None, gt=0, lt=1)
    # matches per record (estimated); a pair's prior is this over the base size. null: the fixed ``prior`` applies
    match_rate: float | None = Field(default=None, gt=0, lt=1000)
    # share of candidate pairs at one address naming someone else (estimated); under 0.05 the
    # household discount is off. null: households assumed
    household_share: float | None = Field(default=None, ge=0, le=1)
