""""Not the same person": an operator's answer to a suggested pair, remembered so the matcher
never offers that pair again (in the profile or the review queue), with the reason audited."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.models import MatchSuggestion

MAX_REASON = 2000


async def not_the_same_person(session: AsyncSession, customer_id: int, other_id: int, *, actor_id: int, reason: str) -> int:
    """Dismisses the pair (either way round) and returns the suggestion row's id."""
    reason = reason.strip()
    if customer_id == other_id:
        raise Invalid("a profile is always the same person as itself")
    if not reason or len(reason) > MAX_REASON:
        raise Invalid("reason is required (at most %(num)s character): say how you know they are different people",
            plural="reason is required (at most %(num)s characters): say how you know they are different people", num=MAX_REASON,)
    rows = list(
        await session.scalars(
            select(MatchSuggestion).where(
                or_(
                    (MatchSuggestion.customer_id == customer_id) & (MatchSuggestion.other_customer_id == other_id),
                    (MatchSuggestion.customer_id == other_id) & (MatchSuggestion.other_customer_id == customer_id),
                )
            )
        )
    )
    now = utcnow()
    if not rows:
        row = MatchSuggestion(customer_id=customer_id, other_customer_id=other_id, score=0.0, contributions=[], status="open", created_at=now)
        session.add(row)
        rows = [row]
    for row in rows:
        if row.status == "open":
            row.status, row.decided_at, row.decided_by_id = "dismissed", now, actor_id
    await session.flush()
    await audit(
        session, actor_id=actor_id, action="merge_suggestion.dismissed", subject=("customer", customer_id),
        data={"other_customer_id": other_id, "reason": reason},
    )
    return rows[0].id
