"""Keys that don't prove identity, kept on the profile as evidence for the matcher only.

A key that doesn't prove (a phone typed into the website chat) never attaches the sender to the
key's owner. When another customer owns it, the pair goes to the operators' merge-suggestion
queue with the key as the evidence (:func:`suggest_owners`); an operator merges or dismisses.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey
from okno.customers.matching.profiles import UNVERIFIED, refresh_profiles
from okno.customers.matching.realtime import base_size, current_model, score_candidates
from okno.customers.resolution import owners_of
from okno.kit.db import insert_ignoring_duplicates
from okno.kit.time import utcnow
from okno.models import Customer, MatchProfile, MatchSuggestion

# the contribution that says why the pair was queued (the matcher's own contributions follow it)
UNVERIFIED_KEY = "unverified_key"


async def keep_as_evidence(session: AsyncSession, found: dict[int, list[IdentityKey]]) -> None:
    """Adds ``kind:value`` strings to ``attributes["unverified_identities"]`` (no repeats) and
    queues a merge suggestion for each key another customer owns."""
    if not found:
        return
    rows = await session.execute(select(Customer.id, Customer.attributes).where(Customer.id.in_(found)))
    changed = []
    for customer_id, attributes in rows.all():
        known = list((attributes or {}).get(UNVERIFIED) or [])
        new = [str(k) for k in found[customer_id] if str(k) not in known]
        if new:
            await session.execute(
                update(Customer).where(Customer.id == customer_id).values(attributes={**(attributes or {}), UNVERIFIED: known + new}, updated_at=utcnow())
            )
            changed.append(customer_id)
    await refresh_profiles(session, changed)
    await suggest_owners(session, found)


async def suggest_owners(session: AsyncSession, found: dict[int, list[IdentityKey]]) -> int:
    """Queues ``(claimant, owner)`` suggestions for unproven keys another customer owns, scored
    by the matcher on the two profiles; returns how many pairs were offered (a pair already
    queued or dismissed is left as it is)."""
    owner = await owners_of(session, {k for keys in found.values() for k in keys})
    pairs: dict[tuple[int, int], list[IdentityKey]] = {}
    for claimant, keys in found.items():
        for key in keys:
            ref = owner.get(key)
            if ref is not None and ref.id is not None and ref.id != claimant:
                pairs.setdefault((claimant, ref.id), []).append(key)
    return await queue_suggestions(
        session, {pair: [{"field": UNVERIFIED_KEY, "comparison": "typed, not proven", "weight": 0.0, "evidence": str(k)} for k in keys] for pair, keys in pairs.items()}
    )


async def queue_suggestions(session: AsyncSession, pairs: dict[tuple[int, int], list[dict]]) -> int:
    """Queues ``(customer, other)`` merge suggestions, each with the evidence that put it there
    followed by the matcher's own contributions and score on the two profiles. A pair already
    queued, merged or dismissed is left as it is; nothing is ever merged here. Returns how many
    pairs were offered."""
    if not pairs:
        return 0
    ids = {cid for pair in pairs for cid in pair}
    profiles = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(ids)))).all())
    model = await current_model(session)
    rows = []
    for (claimant, owner_id), evidence in pairs.items():
        score, contributions = 0.0, []
        if claimant in profiles and owner_id in profiles:
            size = await base_size(session) if model.match_rate is not None else None
            scored = score_candidates(model, profiles[claimant], [owner_id], [profiles[owner_id]], {}, base_size=size)[0]
            score, contributions = scored.score, scored.contributions
        rows.append({
            "customer_id": claimant, "other_customer_id": owner_id, "score": score, "contributions": evidence + contributions,
            "status": "open", "created_at": utcnow(),
        })  # fmt: skip
    statement = insert_ignoring_duplicates(MatchSuggestion.__table__, session.bind.dialect.name, ["customer_id", "other_customer_id"])
    await session.execute(statement, rows)
    return len(rows)
