"""A target's clock in business time: start, pause, resume, retarget, complete (no I/O).

``consumed_seconds`` is the business time used before the running stretch that began at
``resumed_at``; the deadline is always recomputed from those two and the current calendar, so
pauses, priority changes and calendar edits all go through the same arithmetic.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from okno.models import OPEN_TARGET_STATES, SlaTarget, TargetState
from okno.sla.calendar import BusinessCalendar


def start_target(
    target: SlaTarget, cal: BusinessCalendar, *, at: datetime, target_seconds: int, warning_seconds: int
) -> None:
    target.started_at = target.resumed_at = at
    target.consumed_seconds = 0
    # every column named, even the empty ones: new targets then share one INSERT's column list and
    # a round's new targets go in as one statement, however far each has moved
    target.warned_at = target.breached_at = target.completed_at = target.business_seconds = target.wall_seconds = None
    target.target_seconds = target_seconds
    target.state = TargetState.running.value
    plan_deadline(target, cal, warning_seconds=warning_seconds)


def plan_deadline(target: SlaTarget, cal: BusinessCalendar, *, warning_seconds: int) -> None:
    """``due_at``/``warn_at`` of a running target; a paused or finished one has none."""
    if target.state != TargetState.running.value or target.resumed_at is None:
        target.due_at = target.warn_at = None
        return
    remaining = timedelta(seconds=target.target_seconds - target.consumed_seconds)
    target.due_at = cal.add(target.resumed_at, remaining)
    if warning_seconds > 0 and target.warned_at is None:
        target.warn_at = cal.add(target.resumed_at, max(remaining - timedelta(seconds=warning_seconds), timedelta(0)))
    else:
        target.warn_at = None


def pause_target(target: SlaTarget, cal: BusinessCalendar, *, at: datetime) -> None:
    if target.state != TargetState.running.value:
        return
    _bank(target, cal, at)
    target.state = TargetState.paused.value
    target.due_at = target.warn_at = None


def resume_target(target: SlaTarget, cal: BusinessCalendar, *, at: datetime, warning_seconds: int) -> None:
    """Runs a paused target again, or reopens a finished one (resolution: the new open period adds up)."""
    if target.state == TargetState.running.value:
        return
    target.state, target.resumed_at, target.completed_at = TargetState.running.value, at, None
    target.business_seconds = target.wall_seconds = None
    plan_deadline(target, cal, warning_seconds=warning_seconds)


def retarget(target: SlaTarget, cal: BusinessCalendar, *, target_seconds: int, warning_seconds: int, at: datetime) -> None:
    """A new target length or calendar: the same consumed time, a recomputed deadline."""
    target.target_seconds = target_seconds
    plan_deadline(target, cal, warning_seconds=warning_seconds)
    if target.breached_at is not None and target.due_at is not None and target.due_at > at:
        target.breached_at = None  # the new deadline is still ahead


def complete_target(target: SlaTarget, cal: BusinessCalendar, *, at: datetime) -> None:
    if target.state not in OPEN_TARGET_STATES:
        return
    _bank(target, cal, at)
    target.business_seconds = target.consumed_seconds
    target.wall_seconds = max(int((at - target.started_at).total_seconds()), 0)
    met = target.consumed_seconds <= target.target_seconds
    target.state = (TargetState.met if met else TargetState.missed).value
    target.completed_at, target.due_at, target.warn_at = at, None, None


def cancel_target(target: SlaTarget, cal: BusinessCalendar, *, at: datetime) -> None:
    if target.state not in OPEN_TARGET_STATES:
        return
    _bank(target, cal, at)
    target.state, target.completed_at, target.due_at, target.warn_at = TargetState.cancelled.value, at, None, None


def _bank(target: SlaTarget, cal: BusinessCalendar, at: datetime) -> None:
    if target.state == TargetState.running.value and target.resumed_at is not None:
        target.consumed_seconds += int(cal.between(target.resumed_at, at).total_seconds())
    target.resumed_at = None
