"""One row of the operator's list, placed: what a live update needs to redraw only that row.

When one conversation changes, every operator's page asks for its row instead of the whole list:
whether it belongs to the list shown (the same filter, search and team scoping as
:func:`okno.conversations.inbox.inbox_list`), the row before it in the list's order (the page
puts it right after that one), whether it falls beyond the rows the page has loaded (past the
"load more" cursor: it leaves the screen and the next page brings it), and the list's total.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.conversations.inbox import (
    Cursor,
    InboxFilter,
    InboxRow,
    Sort,
    _after_cursor,
    before_cursor,
    _filtered,
    _rows,
    sort_keys,
    within,
)
from okno.conversations.unread import unread_of
from okno.kit.errors import Invalid, NotFound
from okno.models import Conversation


@dataclass(frozen=True)
class RowPlace:
    row: InboxRow | None  # None: the conversation is not in this list (its filter leaves it out)
    after_id: int | None  # the row just before it in the list's order; None: it comes first
    beyond: bool  # it comes after ``loaded_until``: past the rows the page has loaded
    total: int  # every conversation the list holds, as the list's own total


async def inbox_row(
    session: AsyncSession,
    flt: InboxFilter,
    conversation_id: int,
    *,
    operator_id: int,
    unfinished: tuple[str, ...] | None = None,
    loaded_until: str | None = None,
    scope: Scope | None = None,
    visible: ColumnElement[bool] | None = None,
) -> RowPlace:
    """``loaded_until``: the page's "load more" cursor (None: it has every row loaded). A
    conversation the principal may not see (``scope``, as ``okno.access.access_conversation``)
    or that does not exist: ``NotFound``, the same answer for both.

    20 operators redraw the same row after every event, so the read is short: one statement
    places the conversation (whether the principal sees it, whether the list holds it, whether
    it falls beyond the loaded rows, the list's total and the operator's unread count), then,
    for a member of the list, its row (``_rows``) and the row before it."""
    query = await _filtered(session, flt, operator_id, unfinished, within(scope, visible))
    edge, bad_cursor = _edge(flt.sort, loaded_until)
    found = (await session.execute(_placing(query, conversation_id, scope, edge, operator_id))).first()
    if found is None or not found.seen:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    total = int(found.total or 0)
    if not found.member:
        return RowPlace(row=None, after_id=None, beyond=False, total=total)
    if bad_cursor is not None:  # refused only now: a hidden conversation is a 404, one the list leaves out needs no cursor
        raise bad_cursor
    row = replace((await _rows(session, [conversation_id]))[0], unread=int(found.unread or 0))
    beyond = bool(found.beyond)  # the row alone, by its id: it is in the list already
    after_id = None if beyond else await session.scalar(_before(query, flt.sort, row).limit(1))
    return RowPlace(row=row, after_id=after_id, beyond=beyond, total=total)


def _edge(sort: Sort, loaded_until: str | None) -> tuple[ColumnElement[bool] | None, Invalid | None]:
    """The rows past the page's "load more" cursor, or the reason the cursor can't be read."""
    if not loaded_until:
        return None, None
    try:
        return _after_cursor(sort, Cursor.decode(loaded_until, sort)), None
    except Invalid as exc:
        return None, exc


def _placing(query: Select, conversation_id: int, scope: Scope | None, edge: ColumnElement[bool] | None, operator_id: int) -> Select:
    """One statement on the conversation's own row: ``seen`` (the principal's visibility rule),
    ``member`` (the list's conditions: its filter and that rule), ``beyond`` (past ``edge``, the
    loaded rows' end), ``total`` (the list's count) and ``unread`` (the operator's unread count),
    the last two subqueries of their own. A condition that is NULL on this row (SQL's unknown)
    counts as false, as it does in the list's WHERE."""
    listed = query.whereclause if query.whereclause is not None else true()
    total = select(func.count()).select_from(query.subquery()).correlate(None).scalar_subquery()
    return select(
        (conversation_visible(scope) if scope is not None else true()).label("seen"),
        listed.label("member"),
        (edge if edge is not None else false()).label("beyond"),
        total.label("total"),
        unread_of(operator_id, conversation_id).label("unread"),
    ).where(Conversation.id == conversation_id)


def _before(query: Select, sort: Sort, row: InboxRow) -> Select:
    """The rows that come before ``row`` in the sort's order, nearest first (the list's order
    reversed: NULLs, which come last, come first here)."""
    keys, id_descending = sort_keys(sort)
    cursor = Cursor.of(sort, row)
    columns = [(k.column.asc() if k.descending else k.column.desc()).nulls_first() for k in keys]
    return query.where(before_cursor(sort, cursor)).order_by(*columns, Conversation.id.asc() if id_descending else Conversation.id.desc())
