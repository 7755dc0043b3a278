"""One row of the operator's list, placed: what a live update needs to redraw only that row.

When one conversation changes, every operator's page asks for its row instead of the whole list:
whether it belongs to the list shown (the same filter, search and team scoping as
:func:`okno.conversations.inbox.inbox_list`), the row before it in the list's order (the page
puts it right after that one), whether it falls beyond the rows the page has loaded (past the
"load more" cursor: it leaves the screen and the next page brings it), and the list's total.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.conversations.inbox import (
    Cursor,
    InboxFilter,
    InboxRow,
    Sort,
    _after_cursor,
    before_cursor,
    _count,
    _filtered,
    _rows,
    sort_keys,
    within,
)
from okno.conversations.unread import unread_counts
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
    """``loaded_until``: the page's "load more" cursor (None: it has every row loaded). The
    caller checks first that the principal may see the conversation at all (404 otherwise)."""
    query = await _filtered(session, flt, operator_id, unfinished, within(scope, visible))
    total = await _count(session, query)
    if await session.scalar(query.where(Conversation.id == conversation_id)) is None:
        return RowPlace(row=None, after_id=None, beyond=False, total=total)
    rows = await _rows(session, [conversation_id])
    unread = await unread_counts(session, operator_id=operator_id, conversation_ids=[conversation_id])
    row = replace(rows[0], unread=unread.get(conversation_id, 0))
    beyond = False
    if loaded_until:  # the row alone, by its id: it is in the list already
        edge = _after_cursor(flt.sort, Cursor.decode(loaded_until, flt.sort))
        beyond = await session.scalar(select(Conversation.id).where(Conversation.id == conversation_id, edge)) is not None
    after_id = None if beyond else await session.scalar(_before(query, flt.sort, row).limit(1))
    return RowPlace(row=row, after_id=after_id, beyond=beyond, total=total)


def _before(query: Select, sort: Sort, row: InboxRow) -> Select:
    """The rows that come before ``row`` in the sort's order, nearest first (the list's order
    reversed: NULLs, which come last, come first here)."""
    keys, id_descending = sort_keys(sort)
    cursor = Cursor.of(sort, row)
    columns = [(k.column.asc() if k.descending else k.column.desc()).nulls_first() for k in keys]
    return query.where(before_cursor(sort, cursor)).order_by(*columns, Conversation.id.asc() if id_descending else Conversation.id.desc())
