"""SLA policies and business-hours calendars: admin changes, and which ones govern a conversation.

A conversation is governed by the policy a routing rule chose, else its team's, else the default
policy; its clock runs on its team's calendar (none: around the clock). Every change that can
move deadlines records an event; ``okno.sla.tracking`` recomputes the open targets it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.sla.events import SlaCalendarChanged, SlaPolicyChanged
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.removal import Use, refuse_if_used
from okno.models import OPEN_TARGET_STATES, BusinessHours, Conversation, Metric, Priority, RoutingRule, SlaPolicy, SlaTarget, Team
from okno.sla.calendar import BusinessCalendar
from okno.sla.hours import business_calendar, checked_holidays, checked_timezone, checked_weekly

MAX_TARGET_MINUTES = 365 * 24 * 60


@dataclass(frozen=True)
class SlaSetup:
    policy: SlaPolicy | None
    calendar: BusinessCalendar
    calendar_id: int | None

    def target_seconds(self, metric: str, priority: int) -> int | None:
        if self.policy is None:
            return None
        minutes = self.policy.targets.get(Priority(priority).name, {}).get(metric)
        return None if minutes is None else int(minutes) * 60

    @property
    def warning_seconds(self) -> int:
        return 0 if self.policy is None else self.policy.warning_minutes * 60


class SlaLookups:
    """What many syncs in one transaction (a relay batch, a policy's re-sync) read again and
    again, read once: status types, the default policy, business calendars. Teams, policies and
    calendars' rows by id come from the session's identity map after their first read — which
    holds its objects weakly, so ``rows`` keeps every one read here alive for the transaction
    (without it each sync read its team and calendar again: two statements a sync)."""

    def __init__(self) -> None:
        self.status_types: dict[str, str | None] = {}
        self.default_policy: tuple[SlaPolicy | None] | None = None  # None: not read yet
        self.calendars: dict[int, BusinessCalendar] = {}
        self.rows: dict[tuple[type, int], object] = {}  # strong references: the identity map keeps what is referenced

    def keep(self, row: Team | SlaPolicy | BusinessHours | None) -> None:
        if row is not None:
            self.rows[(type(row), row.id)] = row


async def read_setups_ahead(session: AsyncSession, conversations: list[Conversation], lookups: SlaLookups) -> None:
    """What :func:`setup_for` will read for these conversations, read now in two statements (their
    teams with their calendars; the policies they name with the default one) and kept in ``lookups``."""
    teams = {c.team_id for c in conversations if c.team_id is not None and (Team, c.team_id) not in lookups.rows}
    if teams:
        rows = await session.execute(
            select(Team, BusinessHours).outerjoin(BusinessHours, BusinessHours.id == Team.calendar_id).where(Team.id.in_(teams))
        )
        for team, hours in rows:
            lookups.keep(team)
            lookups.keep(hours)
    named = set()
    for c in conversations:
        team = lookups.rows.get((Team, c.team_id)) if c.team_id is not None else None
        policy_id = c.sla_policy_id or (team.sla_policy_id if team is not None else None)  # type: ignore[attr-defined]
        if policy_id is not None and (SlaPolicy, policy_id) not in lookups.rows:
            named.add(policy_id)
    wanted = [SlaPolicy.id.in_(named)] if named else []
    if lookups.default_policy is None:
        wanted.append(SlaPolicy.is_default.is_(True) & SlaPolicy.is_active.is_(True))
    if not wanted:
        return
    policies = list(await session.scalars(select(SlaPolicy).where(or_(*wanted)).order_by(SlaPolicy.id)))
    for policy in policies:
        lookups.keep(policy)
    if lookups.default_policy is None:
        lookups.default_policy = (next((p for p in policies if p.is_default and p.is_active), None),)


async def setup_for(session: AsyncSession, conversation: Conversation, lookups: SlaLookups | None = None) -> SlaSetup:
    team = await session.get(Team, conversation.team_id) if conversation.team_id is not None else None
    policy_id = conversation.sla_policy_id or (team.sla_policy_id if team is not None else None)
    policy = await session.get(SlaPolicy, policy_id) if policy_id is not None else None
    if policy is None or not policy.is_active:  # a disabled policy governs nothing: the default does
        policy = await _default_policy(session, lookups)
    hours = await session.get(BusinessHours, team.calendar_id) if team is not None and team.calendar_id else None
    if lookups is not None:
        for row in (team, policy, hours):
            lookups.keep(row)
    if hours is None or lookups is None:
        calendar = business_calendar(hours)
    elif (calendar := lookups.calendars.get(hours.id)) is None:  # type: ignore[assignment]
        calendar = lookups.calendars[hours.id] = business_calendar(hours)
    return SlaSetup(policy=policy, calendar=calendar, calendar_id=hours.id if hours else None)


async def _default_policy(session: AsyncSession, lookups: SlaLookups | None) -> SlaPolicy | None:
    if lookups is not None and lookups.default_policy is not None:
        return lookups.default_policy[0]
    policy = await session.scalar(select(SlaPolicy).where(SlaPolicy.is_default.is_(True), SlaPolicy.is_active.is_(True)).limit(1))
    if lookups is not None:
        lookups.default_policy = (policy,)
    return policy


def checked_targets(targets: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``{"urgent": {"first_response": 15, …}, …}`` in business minutes; omitted = no target."""
    unknown = sorted(set(targets) - set(Priority.__members__))
    if unknown:
        raise Invalid("targets has unknown priorities %(unknown)s (use %(choices)s)", unknown=unknown, choices=', '.join(Priority.__members__))
    clean: dict[str, dict[str, int]] = {}
    for priority, metrics in targets.items():
        if not isinstance(metrics, dict):
            raise Invalid('targets.%(priority)s must be an object like {"first_response": 60}', priority=priority)
        bad = sorted(set(metrics) - set(Metric.__members__))
        if bad:
            raise Invalid("targets.%(priority)s has unknown metrics %(bad)s (use %(choices)s)", priority=priority, bad=bad, choices=', '.join(Metric.__members__))
        for metric, minutes in metrics.items():
            if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_TARGET_MINUTES:
                raise Invalid("targets.%(priority)s.%(metric)s must be whole minutes from 1 to %(max_target_minutes)s, not %(minutes)r", priority=priority, metric=metric, max_target_minutes=MAX_TARGET_MINUTES, minutes=minutes)
        clean[priority] = {m: int(v) for m, v in metrics.items()}
    if not any(clean.values()):
        raise Invalid("targets sets no target at all")
    return clean


async def add_policy(
    session: AsyncSession, *, name: str, targets: dict[str, Any], warning_minutes: int, is_default: bool, actor_id: int
) -> SlaPolicy:
    name = _checked_name(name)
    if await session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name)):
        raise Conflict("SLA policy %(name)r already exists", name=name)
    policy = SlaPolicy(name=name, targets=checked_targets(targets), warning_minutes=_checked_warning(warning_minutes), is_default=is_default)
    session.add(policy)
    await session.flush()
    if is_default:
        await _only_default(session, policy.id)
    await audit(session, actor_id=actor_id, action="sla_policy.added", subject=("sla_policy", policy.id))
    await record_event(session, SlaPolicyChanged(policy_id=policy.id, is_default=is_default))
    return policy


async def change_policy(
    session: AsyncSession,
    policy_id: int,
    *,
    name: str | None,
    targets: dict[str, Any] | None,
    warning_minutes: int | None,
    is_default: bool | None,
    actor_id: int,
    is_active: bool | None = None,
) -> SlaPolicy:
    policy = await session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("%(what)s %(id)s not found", what="SLA policy", id=policy_id)
    was_active = policy.is_active
    if is_active is not None:
        policy.is_active = is_active
        if not is_active:
            policy.is_default = False  # conversations without a policy must not fall back to a disabled one
    if is_default and not policy.is_active:
        raise Invalid("SLA policy %(policy_id)s is disabled; enable it before making it the default",
                      ru="Политика SLA «%(name)s» отключена; включите её, прежде чем делать политикой по умолчанию", policy_id=policy_id, name=policy.name)
    if name is not None:
        name = _checked_name(name)
        if await session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name, SlaPolicy.id != policy_id)):
            raise Conflict("SLA policy %(name)r already exists", name=name)
        policy.name = name
    if targets is not None:
        policy.targets = checked_targets(targets)
    if warning_minutes is not None:
        policy.warning_minutes = _checked_warning(warning_minutes)
    was_default = policy.is_default or (was_active and not policy.is_active)
    if is_default is not None and policy.is_active:
        policy.is_default = is_default
    await session.flush()
    if policy.is_default:
        await _only_default(session, policy.id)
    await audit(session, actor_id=actor_id, action="sla_policy.changed", subject=("sla_policy", policy.id))
    if was_active != policy.is_active:
        action = "sla_policy.enabled" if policy.is_active else "sla_policy.disabled"
        await audit(session, actor_id=actor_id, action=action, subject=("sla_policy", policy.id))
    await record_event(session, SlaPolicyChanged(policy_id=policy.id, is_default=policy.is_default or was_default))
    return policy


async def add_calendar(
    session: AsyncSession, *, name: str, timezone: str, weekly: dict[str, Any], holidays: list[Any], actor_id: int
) -> BusinessHours:
    name = _checked_name(name)
    if await session.scalar(select(BusinessHours.id).where(BusinessHours.name == name)):
        raise Conflict("calendar %(name)r already exists", name=name)
    hours = BusinessHours(
        name=name, timezone=checked_timezone(timezone), weekly=checked_weekly(weekly), holidays=checked_holidays(holidays)
    )
    session.add(hours)
    await session.flush()
    await audit(session, actor_id=actor_id, action="calendar.added", subject=("calendar", hours.id))
    return hours


async def change_calendar(
    session: AsyncSession,
    calendar_id: int,
    *,
    name: str | None,
    timezone: str | None,
    weekly: dict[str, Any] | None,
    holidays: list[Any] | None,
    actor_id: int,
) -> BusinessHours:
    hours = await session.get(BusinessHours, calendar_id)
    if hours is None:
        raise NotFound("%(what)s %(id)s not found", what="calendar", id=calendar_id)
    if name is not None:
        hours.name = _checked_name(name)
    if timezone is not None:
        hours.timezone = checked_timezone(timezone)
    if weekly is not None:
        hours.weekly = checked_weekly(weekly)
    if holidays is not None:
        hours.holidays = checked_holidays(holidays)
    await session.flush()
    await audit(session, actor_id=actor_id, action="calendar.changed", subject=("calendar", hours.id))
    await record_event(session, SlaCalendarChanged(calendar_id=hours.id))
    return hours


async def remove_policy(session: AsyncSession, policy_id: int, *, actor_id: int) -> None:
    """Deletes a policy nothing names yet. One that SLA results, conversations, teams or routing
    rules name is refused with the reason: disable it (results keep it) or choose another first."""
    policy = await session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("SLA policy %(policy_id)s not found", policy_id=policy_id)
    name = policy.name
    await refuse_if_used(session, [
        Use(select(Team.name).where(Team.sla_policy_id == policy_id),
            f"SLA policy {policy_id} is a team's policy; choose another one for the team first",
            f"Политику SLA «{name}» использует группа; сначала выберите группе другую"),
        Use(select(SlaTarget.id).where(SlaTarget.policy_id == policy_id),
            f"SLA policy {policy_id} has SLA results that name it; disable it instead",
            f"По политике SLA «{name}» уже считались сроки обращений; отключите её вместо удаления"),
        Use(select(Conversation.id).where(Conversation.sla_policy_id == policy_id),
            f"SLA policy {policy_id} governs conversations; disable it instead",
            f"Политика SLA «{name}» действует в обращениях; отключите её вместо удаления"),
    ])  # fmt: skip
    rules = await session.scalars(select(RoutingRule))
    if any(rule.actions.get("sla_policy_id") == policy_id for rule in rules):
        raise Conflict("a routing rule sets SLA policy %(policy_id)s; change the rule first",
                       ru="Политику SLA «%(name)s» назначает правило маршрутизации; сначала измените правило", policy_id=policy_id, name=name)
    was_default = policy.is_default
    await audit(session, actor_id=actor_id, action="sla_policy.deleted", subject=("sla_policy", policy_id), data={"name": name})
    await session.delete(policy)
    await session.flush()
    await record_event(session, SlaPolicyChanged(policy_id=policy_id, is_default=was_default))


async def remove_calendar(session: AsyncSession, calendar_id: int, *, actor_id: int) -> None:
    """Deletes a calendar no team uses and no running SLA clock counts on (finished results keep
    their seconds and lose only the calendar's name)."""
    hours = await session.get(BusinessHours, calendar_id)
    if hours is None:
        raise NotFound("calendar %(calendar_id)s not found", calendar_id=calendar_id)
    await refuse_if_used(session, [
        Use(select(Team.name).where(Team.calendar_id == calendar_id),
            f"calendar {calendar_id} is a team's calendar; choose another one for the team first",
            f"Календарь «{hours.name}» использует группа; сначала выберите группе другой"),
        Use(select(SlaTarget.id).where(SlaTarget.calendar_id == calendar_id, SlaTarget.state.in_(OPEN_TARGET_STATES)),
            f"running SLA deadlines count on calendar {calendar_id}; wait until they finish or move the team to another calendar",
            f"По календарю «{hours.name}» идут сроки SLA; дождитесь их завершения или переведите группу на другой календарь"),
    ])  # fmt: skip
    await audit(session, actor_id=actor_id, action="calendar.deleted", subject=("calendar", calendar_id), data={"name": hours.name})
    await session.delete(hours)
    await session.flush()


async def _only_default(session: AsyncSession, policy_id: int) -> None:
    await session.execute(update(SlaPolicy).where(SlaPolicy.id != policy_id, SlaPolicy.is_default.is_(True)).values(is_default=False))


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise Invalid("name must be 1–200 characters")
    return name


def _checked_warning(minutes: int) -> int:
    if not 0 <= minutes <= MAX_TARGET_MINUTES:
        raise Invalid("warning_minutes must be from 0 to %(max_target_minutes)s", max_target_minutes=MAX_TARGET_MINUTES)
    return minutes
