"""The access rules as SQL conditions, written once and applied by every query that lists or
fetches conversations, customers, timeline entries or canned answers."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true

from okno.access.scope import Scope
from okno.models import CannedAnswer, Conversation, Customer, Message, TimelineEvent, team_members


def member_teams(scope: Scope) -> Select:
    """The ids of the teams the principal is a member of, read when the query runs."""
    return select(team_members.c.team_id).where(team_members.c.operator_id == scope.operator_id)


def conversation_visible(scope: Scope) -> ColumnElement[bool]:
    """Conversations of the principal's teams, assigned to him, and unteamed ones when allowed."""
    if scope.sees_everything:
        return true()
    allowed = [Conversation.team_id.in_(member_teams(scope)), Conversation.assignee_id == scope.operator_id]
    if scope.sees_unteamed:
        allowed.append(Conversation.team_id.is_(None))
    return or_(*allowed)


def conversation_visible_in_python(scope: Scope, team_ids: Collection[int], team_id: int | None, assignee_id: int | None) -> bool:
    """The Python twin of ``conversation_visible`` for rows already read (the inbox counters sum
    groups of conversations by team and assignee): the two must agree, rule for rule, and a change
    to one is a change to both (tests/access/test_counts_twin.py compares them over random data).
    ``team_ids``: the principal's teams, read from ``team_members`` for this request."""
    if scope.sees_everything:
        return True
    if team_id is not None and team_id in team_ids:
        return True
    if assignee_id is not None and assignee_id == scope.operator_id:
        return True
    return team_id is None and scope.sees_unteamed


def visible_conversation_ids(scope: Scope) -> Select:
    return select(Conversation.id).where(conversation_visible(scope))


def message_visible(scope: Scope) -> ColumnElement[bool]:
    """Messages (and notes) of visible conversations."""
    if scope.sees_everything:
        return true()
    return Message.conversation_id.in_(visible_conversation_ids(scope))


def customer_visible(scope: Scope, customer_id: ColumnElement[int] | None = None) -> ColumnElement[bool]:
    """A customer is visible through a visible conversation of his; one with no conversation at
    all belongs to no team and is visible to whoever sees unteamed conversations."""
    if scope.sees_everything or scope.global_customer_directory:
        return true()
    column = Customer.id if customer_id is None else customer_id
    any_conversation = exists().where(Conversation.customer_id == column)
    visible = exists().where(Conversation.customer_id == column, conversation_visible(scope))
    if scope.sees_unteamed:
        return or_(visible, ~any_conversation)
    return visible


def timeline_visible(scope: Scope) -> ColumnElement[bool]:
    """Within a visible customer: entries of no conversation, or of a visible one."""
    if scope.sees_everything:
        return true()
    return or_(TimelineEvent.conversation_id.is_(None), TimelineEvent.conversation_id.in_(visible_conversation_ids(scope)))


def canned_answer_visible(scope: Scope) -> ColumnElement[bool]:
    """Everyone's answers (no team) and the principal's teams' answers; admins see all."""
    if scope.sees_everything:
        return true()
    return or_(CannedAnswer.team_id.is_(None), CannedAnswer.team_id.in_(member_teams(scope)))


def pair_visible(scope: Scope, first: ColumnElement[int], second: ColumnElement[int]) -> ColumnElement[bool]:
    """Rows about two customers (identity conflicts, merge suggestions): both must be visible."""
    if scope.sees_everything or scope.global_customer_directory:
        return true()
    return and_(customer_visible(scope, first), customer_visible(scope, second))
