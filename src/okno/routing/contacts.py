"""Repeat contacts: how many conversations a customer began about the same reason lately.

Feeds the ``contact_count_same_reason`` condition of routing and automation rules ("escalate the
customer's third conversation about delivery within 30 days"). The conversation itself counts;
one without a reason counts nothing yet (the rule can run again when the reason is set).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import Conversation


async def contact_counts(session: AsyncSession, conversation: Conversation, windows: set[int], *, at: datetime) -> dict[int, int]:
    """``{window_days: conversations of this customer with this reason begun within it}``."""
    if not windows or conversation.reason is None:
        return {}
    started = list(
        await session.scalars(
            select(Conversation.created_at).where(
                Conversation.customer_id == conversation.customer_id,
                Conversation.reason == conversation.reason,
                Conversation.created_at >= at - timedelta(days=max(windows)),
            )
        )
    )
    return {days: sum(1 for created in started if created >= at - timedelta(days=days)) for days in windows}
