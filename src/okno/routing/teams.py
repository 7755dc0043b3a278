"""A team's place in the service process: assignment strategy, hours, SLA policy, escalation path."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.routing.events import OperatorRoutingChanged, TeamChanged
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.removal import Use, refuse_if_used
from okno.models import (
    AssignmentStrategy,
    AutomationRule,
    BusinessHours,
    CannedAnswer,
    Channel,
    Conversation,
    Operator,
    RoutingRule,
    SlaPolicy,
    Team,
    team_members,
)



async def configure_team(
    session: AsyncSession, team_id: int, *, changes: dict[str, object], actor_id: int
) -> Team:
    """``changes`` holds only the fields the admin sent (None clears a reference)."""
    team = await session.get(Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound("%(what)s %(id)s not found", what="team", id=team_id)
    if "name" in changes and changes["name"] is not None:
        name = str(changes["name"]).strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("name must be 1–200 characters", ru="Название: от 1 до 200 символов")
        if await session.scalar(select(Team.id).where(Team.name == name, Team.id != team.id)):
            raise Conflict("team %(name)r already exists", ru="Группа «%(name)s» уже есть", name=name)
        team.name = name
    if "assignment_strategy" in changes:
        strategy = changes["assignment_strategy"]
        if strategy not in AssignmentStrategy.__members__:
            raise Invalid("unknown assignment_strategy %(strategy)r (one of: %(choices)s)", strategy=strategy, choices=', '.join(AssignmentStrategy.__members__))
        team.assignment_strategy = strategy  # type: ignore[assignment]
    if "sticky" in changes:
        team.sticky = bool(changes["sticky"])
    if "signature" in changes:
        team.signature = str(changes["signature"] or "").strip() or None
    await _reference(session, team, "calendar_id", BusinessHours, changes, "calendar")
    await _reference(session, team, "sla_policy_id", SlaPolicy, changes, "SLA policy")
    await _reference(session, team, "escalation_team_id", Team, changes, "team")
    if team.escalation_team_id == team.id:
        raise Invalid("a team cannot escalate to itself")
    await session.flush()
    await audit(session, actor_id=actor_id, action="team.configured", subject=("team", team.id), data={k: v for k, v in changes.items()})
    await record_event(session, TeamChanged(team_id=team.id))
    return team


async def delete_team(session: AsyncSession, team_id: int, *, actor_id: int) -> None:
    """Deletes a team nothing names: no conversation (history keeps its team), channel, canned
    answer, routing or automation rule, or team escalating to it. Its memberships go with it."""
    team = await session.get(Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound("team %(team_id)s not found", team_id=team_id)
    name = team.name
    await refuse_if_used(session, [
        Use(select(Conversation.id).where(Conversation.team_id == team_id),
            f"team {team_id} has conversations; their history keeps the team, so it can only be renamed",
            f"У группы «{name}» есть обращения; история их хранит, поэтому группу можно только переименовать"),
        Use(select(Channel.id).where(Channel.team_id == team_id),
            f"channels send their conversations to team {team_id}; move them to another team first",
            f"Каналы направляют обращения в группу «{name}»; сначала передайте их другой группе"),
        Use(select(CannedAnswer.id).where(CannedAnswer.team_id == team_id),
            f"team {team_id} has its own canned answers; move or delete them first",
            f"У группы «{name}» есть свои шаблоны ответов; сначала перенесите или удалите их"),
        Use(select(Team.id).where(Team.escalation_team_id == team_id),
            f"another team escalates to team {team_id}; change its escalation first",
            f"Другая группа эскалирует в «{name}»; сначала измените её эскалацию"),
    ])  # fmt: skip
    routing = await session.scalars(select(RoutingRule))
    automation = await session.scalars(select(AutomationRule))
    if any(rule.actions.get("team_id") == team_id for rule in routing) or any(
        isinstance(action, dict) and action.get("team_id") == team_id for rule in automation for action in rule.actions
    ):
        raise Conflict("a rule sends conversations to team %(team_id)s; change the rule first",
                       ru="Правило направляет обращения в группу «%(name)s»; сначала измените правило", team_id=team_id, name=name)
    members = list(await session.scalars(select(team_members.c.operator_id).where(team_members.c.team_id == team_id)))
    await audit(session, actor_id=actor_id, action="team.deleted", subject=("team", team_id), data={"name": name, "members": members})
    await session.delete(team)
    await session.flush()  # no event: no conversation belongs to it, nothing to re-route or recompute


async def _reference(session: AsyncSession, team: Team, field: str, model: type, changes: dict[str, object], what: str) -> None:
    if field not in changes:
        return
    value = changes[field]
    if value is not None and await session.get(model, value) is None:
        raise Invalid("%(field)s: %(what)s %(value)s does not exist", field=field, what=what, value=value)
    setattr(team, field, value)


async def team_member_ids(session: AsyncSession, team_id: int) -> list[int]:
    if await session.get(Team, team_id) is None:
        raise NotFound("%(what)s %(id)s not found", what="team", id=team_id)
    return list(await session.scalars(select(team_members.c.operator_id).where(team_members.c.team_id == team_id).order_by(team_members.c.operator_id)))


async def add_team_member(session: AsyncSession, team_id: int, operator_id: int, *, actor_id: int) -> list[int]:
    members = await team_member_ids(session, team_id)
    if await session.get(Operator, operator_id) is None:
        raise Invalid("%(what)s %(id)s does not exist", what="operator", id=operator_id)
    if operator_id not in members:
        await session.execute(insert(team_members).values(team_id=team_id, operator_id=operator_id))
        await audit(session, actor_id=actor_id, action="team.member_added", subject=("team", team_id), data={"operator_id": operator_id})
        # the new member may take from this team's queue right away
        await record_event(session, OperatorRoutingChanged(operator_id=operator_id, team_id=team_id))
        members = sorted([*members, operator_id])
    return members


async def remove_team_member(session: AsyncSession, team_id: int, operator_id: int, *, actor_id: int) -> list[int]:
    members = await team_member_ids(session, team_id)
    if operator_id in members:
        await session.execute(
            delete(team_members).where(team_members.c.team_id == team_id, team_members.c.operator_id == operator_id)
        )
        await audit(session, actor_id=actor_id, action="team.member_removed", subject=("team", team_id), data={"operator_id": operator_id})
        members.remove(operator_id)
    return members
