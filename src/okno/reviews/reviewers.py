"""Reviewers are weak identities: a display name anyone can choose. A reviewer is never attached
or merged to a customer on it; at most he is *suggested* as the same person, conservatively:

- the reviewer and the customer share a name blocking key of the matcher (first and last name,
  so a lone first name such as "Игорь" never suggests anyone), and their names are the same
  once case and spaces are folded;
- the customer wrote (an inbound message that is not itself a review) to the same team as the
  review channel's within ``RECENT_DAYS`` — the shop he bought from is the one he reviews;
- at most ``MAX_CANDIDATES`` such customers: a name common enough to match more is no evidence,
  and nothing is suggested.

The pair goes to the operators' merge-suggestion queue with that evidence first and the
matcher's own contributions after; an operator merges or dismisses it. Called by ingest in the
transaction that stores the reviews (one blocking-key query for the whole batch)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from okno.customers.evidence import queue_suggestions
from okno.kit.time import utcnow
from okno.models import Channel, Conversation, Customer, Direction, MatchBlock, MatchSuggestion, Message, MessageKind
from okno.reviews.negative import ReviewTouch

RECENT_DAYS = 90
MAX_CANDIDATES = 3
NAME_KEYS = ("n:", "nn:", "nc:")  # the matcher's blocking keys built on first + last name
MAX_PAIRS = 5_000  # shared-key rows read for one batch at the most (a very common name is cut, not scanned)
REVIEWER_EVIDENCE = "reviewer_name"


def fold(name: str) -> str:
    return " ".join((name or "").casefold().split())


async def suggest_reviewer_matches(session: AsyncSession, touches: list[ReviewTouch]) -> int:
    """Queues ``(reviewer, customer)`` suggestions for the reviews just stored; how many."""
    reviewers = {t.customer_id: t.channel_id for t in touches}
    if not reviewers:
        return 0
    shared = await _same_name_block(session, set(reviewers))
    if not shared:
        return 0
    ids = set(reviewers) | {c for found in shared.values() for c in found}
    people = {row.id: row for row in await session.execute(select(Customer.id, Customer.name, Customer.erased_at, Customer.merged_into_id).where(Customer.id.in_(ids)))}
    teams = dict((await session.execute(select(Channel.id, Channel.team_id).where(Channel.id.in_(set(reviewers.values()))))).all())
    wrote = await _wrote_recently(session, {c for found in shared.values() for c in found})
    pairs: dict[tuple[int, int], list[dict]] = {}
    for reviewer, found in shared.items():
        me = people.get(reviewer)
        if me is None or not fold(me.name):
            continue
        team = teams.get(reviewers[reviewer])
        matches = [
            c for c in sorted(found)
            if c in people and people[c].erased_at is None and people[c].merged_into_id is None
            and fold(people[c].name) == fold(me.name) and team in wrote.get(c, set())
        ]  # fmt: skip
        if not 1 <= len(matches) <= MAX_CANDIDATES:
            continue
        for other in matches:
            why = f"the same name as a customer who wrote to the same team within {RECENT_DAYS} days"
            pairs[(reviewer, other)] = [{"field": REVIEWER_EVIDENCE, "comparison": why, "weight": 0.0, "evidence": me.name}]
    await _drop_known_pairs(session, pairs)
    return await queue_suggestions(session, pairs)


async def _same_name_block(session: AsyncSession, reviewers: set[int]) -> dict[int, set[int]]:
    mine, theirs = aliased(MatchBlock), aliased(MatchBlock)
    rows = await session.execute(
        select(mine.customer_id, theirs.customer_id)
        .join(theirs, theirs.key == mine.key)
        .where(mine.customer_id.in_(reviewers), theirs.customer_id.not_in(reviewers), or_(*(mine.key.startswith(p) for p in NAME_KEYS)))
        .distinct()
        .limit(MAX_PAIRS)
    )
    shared: dict[int, set[int]] = defaultdict(set)
    for reviewer, other in rows.all():
        shared[reviewer].add(other)
    return shared


async def _wrote_recently(session: AsyncSession, customers: set[int]) -> dict[int, set[int | None]]:
    """Per customer, the teams (None: no team) whose conversations he wrote in lately."""
    if not customers:
        return {}
    rows = await session.execute(
        select(Message.customer_id, Conversation.team_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.customer_id.in_(customers), Message.direction == Direction.inbound.value, Message.kind != MessageKind.review.value,
            Message.created_at >= utcnow() - timedelta(days=RECENT_DAYS),
        )
        .distinct()
    )  # fmt: skip
    wrote: dict[int, set[int | None]] = defaultdict(set)
    for customer_id, team_id in rows.all():
        wrote[customer_id].add(team_id)
    return wrote


async def _drop_known_pairs(session: AsyncSession, pairs: dict[tuple[int, int], list[dict]]) -> None:
    """A pair already decided or queued the other way round (the customer's side) is left alone."""
    if not pairs:
        return
    reversed_pairs = await session.execute(
        select(MatchSuggestion.customer_id, MatchSuggestion.other_customer_id).where(
            MatchSuggestion.customer_id.in_({o for _, o in pairs}), MatchSuggestion.other_customer_id.in_({r for r, _ in pairs})
        )
    )
    for customer_id, other in reversed_pairs.all():
        pairs.pop((other, customer_id), None)
