"""Saved inbox views: a named filter (the list's query string) an operator keeps in his queues
strip, optionally shared with one of his teams. Only the owner changes or deletes a view; a
team's members see it while they are in the team."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Invalid, NotFound
from okno.models import SavedView, team_members

# the list's filter parameters a view may hold (the inbox page's query string)
VIEW_KEYS = ("queue", "channel", "status", "priority", "vip", "q", "sort", "tag", "assignee", "from", "to", "sla")
MAX_VIEWS = 50


def clean_query(query: str) -> str:
    """Keep only the filter's own parameters, in a stable order."""
    pairs = dict(parse_qsl(query.lstrip("?"), keep_blank_values=False))
    unknown = sorted(set(pairs) - set(VIEW_KEYS))
    if unknown:
        raise Invalid("a view holds only the list's filters; unknown: %(unknown)s", unknown=', '.join(unknown))
    return urlencode([(k, pairs[k][:200]) for k in VIEW_KEYS if pairs.get(k)])


async def views_of(session: AsyncSession, operator_id: int) -> list[SavedView]:
    """His own views and those shared with his teams, by name."""
    teams = select(team_members.c.team_id).where(team_members.c.operator_id == operator_id)
    query = select(SavedView).where(or_(SavedView.operator_id == operator_id, SavedView.team_id.in_(teams)))
    return list(await session.scalars(query.order_by(SavedView.name, SavedView.id)))


async def _check_share(session: AsyncSession, operator_id: int, team_id: int | None) -> None:
    if team_id is not None and not await session.scalar(
        select(team_members.c.team_id).where(team_members.c.team_id == team_id, team_members.c.operator_id == operator_id)
    ):
        raise Invalid("a view is shared only with a team you are a member of")


async def save_view(session: AsyncSession, *, operator_id: int, name: str, query: str, team_id: int | None) -> SavedView:
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty")
    await _check_share(session, operator_id, team_id)
    own = await session.scalars(select(SavedView.id).where(SavedView.operator_id == operator_id))
    if len(own.all()) >= MAX_VIEWS:
        raise Invalid("at most %(num)s saved view per operator", plural="at most %(num)s saved views per operator", num=MAX_VIEWS)
    view = SavedView(operator_id=operator_id, team_id=team_id, name=name[:80], query=clean_query(query))
    session.add(view)
    await session.flush()
    await audit(session, actor_id=operator_id, action="saved_view.created", subject=("saved_view", view.id), data={"name": view.name, "team_id": team_id})
    return view


async def change_view(session: AsyncSession, *, operator_id: int, view_id: int, changes: dict[str, Any]) -> SavedView:
    """Renames a view, gives it the filters shown now (``query``) or shares it otherwise
    (``team_id``, null: only its owner): only the owner changes it (404 for anyone else)."""
    view = await session.get(SavedView, view_id)
    if view is None or view.operator_id != operator_id:
        raise NotFound("view %(view_id)s not found", view_id=view_id)
    before = {"name": view.name, "query": view.query, "team_id": view.team_id}
    if "name" in changes:
        name = str(changes["name"] or "").strip()
        if not name:
            raise Invalid("name must not be empty")
        view.name = name[:80]
    if "query" in changes:
        view.query = clean_query(str(changes["query"] or ""))
    if "team_id" in changes:
        await _check_share(session, operator_id, changes["team_id"])
        view.team_id = changes["team_id"]
    after = {"name": view.name, "query": view.query, "team_id": view.team_id}
    await session.flush()
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changed:
        await audit(session, actor_id=operator_id, action="saved_view.changed", subject=("saved_view", view.id), data=changed)
    return view


async def delete_view(session: AsyncSession, *, operator_id: int, view_id: int) -> None:
    view = await session.get(SavedView, view_id)
    if view is None or view.operator_id != operator_id:
        raise NotFound("view %(view_id)s not found", view_id=view_id)
    await session.delete(view)
    await session.flush()
    await audit(session, actor_id=operator_id, action="saved_view.deleted", subject=("saved_view", view_id), data={"name": view.name})
