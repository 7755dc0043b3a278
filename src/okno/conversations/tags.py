"""The tags in use, for the tag editor's suggestions: read from the conversations the
principal may see (another team's tags are not suggested to him)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.models import Conversation

# the suggestions come from this many latest conversations: tags in use now, at a bounded cost
TAG_WINDOW = 5000


async def tags_in_use(session: AsyncSession, *, scope: Scope | None, prefix: str = "", limit: int = 20) -> list[tuple[str, int]]:
    """Tags starting with ``prefix`` (lower-cased), most used first, with how many of the
    latest conversations carry each."""
    query = select(Conversation.tags).order_by(Conversation.id.desc()).limit(TAG_WINDOW)
    if scope is not None:
        query = query.where(conversation_visible(scope))
    counts: Counter[str] = Counter()
    prefix = prefix.strip().lower()
    for tags in await session.scalars(query):
        counts.update(t for t in tags or () if isinstance(t, str) and t.startswith(prefix))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
