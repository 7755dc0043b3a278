"""Merge suggestions: scored live for a profile, queued for operators above the review
threshold, merged automatically above the auto threshold (off unless an admin sets it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import pair_visible
from okno.bus.inprocess import EventByEvent
from okno.customers.matching.fields import comparison_fields
from okno.customers.matching.model import MatchModel
from okno.customers.matching.profiles import UNVERIFIED, person_of, refresh_profiles
from okno.customers.matching.realtime import Candidate, current_model, remember_model, score_record
from okno.kit.audit import audit
from okno.kit.db import insert_ignoring_duplicates
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import Customer, Identity, MatcherSettings, MatchProfile, MatchSuggestion

if TYPE_CHECKING:
    from okno.bus.events import Event
    from okno.bus.deps import SubscriberDeps


async def profile_fields(session: AsyncSession, customer: Customer) -> dict:
    stored = await session.scalar(select(MatchProfile.fields).where(MatchProfile.customer_id == customer.id))
    if stored is not None:
        return stored
    keys = [(k, v) for k, v in (await session.execute(select(Identity.kind, Identity.value).where(Identity.customer_id == customer.id))).all()]
    return comparison_fields(person_of(customer, keys))


async def suggestions_for(session: AsyncSession, customer_id: int, *, min_score: float | None = None, limit: int = 10) -> tuple[list[Candidate], MatchModel]:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    if customer.merged_into_id is not None:
        raise Conflict("customer %(customer_id)s was merged into %(merged_into_id)s", customer_id=customer_id, merged_into_id=customer.merged_into_id)
    model = await current_model(session)
    fields = await profile_fields(session, customer)
    threshold = model.review_threshold if min_score is None else min_score
    dismissed = await _dismissed_partners(session, customer_id)
    found = [c for c in await score_record(session, fields, exclude=customer_id, model=model) if c.score >= threshold and c.customer_id not in dismissed]
    return found[:limit], model


async def _dismissed_partners(session: AsyncSession, customer_id: int) -> set[int]:
    rows = await session.execute(
        select(MatchSuggestion.customer_id, MatchSuggestion.other_customer_id).where(
            MatchSuggestion.status == "dismissed",
            or_(MatchSuggestion.customer_id == customer_id, MatchSuggestion.other_customer_id == customer_id),
        )
    )
    return {a if b == customer_id else b for a, b in rows.all()}


async def queue_suggestions(session: AsyncSession, customer_id: int, found: list[Candidate]) -> None:
    if not found:
        return
    rows = [
        {"customer_id": customer_id, "other_customer_id": c.customer_id, "score": c.score, "contributions": c.contributions, "status": "open", "created_at": utcnow()}
        for c in found
    ]
    statement = insert_ignoring_duplicates(MatchSuggestion.__table__, session.bind.dialect.name, ["customer_id", "other_customer_id"])
    await session.execute(statement, rows)


async def index_and_suggest(session: AsyncSession, customer_id: int) -> int | None:
    """Files a new or changed profile, queues suggestions; merges it into its best match when
    that scores above the auto threshold. Returns the merge id, if one happened."""
    await refresh_profiles(session, [customer_id])
    customer = await session.get(Customer, customer_id)
    if customer is None or customer.merged_into_id is not None:
        return None
    found, model = await suggestions_for(session, customer_id)
    await queue_suggestions(session, customer_id, found)
    # a profile holding keys it only claims (typed, unproven) is never merged automatically: the
    # claim would hand its sender the other customer's conversations (docs/identity-proof.md)
    claims = (customer.attributes or {}).get(UNVERIFIED)
    if found and model.auto_threshold is not None and found[0].score >= model.auto_threshold and not claims:
        from okno.customers.merge import merge_customers

        best = found[0]
        merge = await merge_customers(
            session, survivor_id=best.customer_id, merged_id=customer_id, actor_id=None,
            reason=f"automatic: match probability {best.score:.4f} ≥ {model.auto_threshold}", origin="auto", score=best.score,
        )  # fmt: skip
        await _close_suggestion(session, customer_id, best.customer_id, "merged", None)
        return merge.id
    return None


async def on_customer_created(deps: SubscriberDeps, event: Event) -> None:
    """Subscriber of ``customer.created`` (after the ingest commit, off the hot path). Ingest
    already filed the new profile in the blocking index; here it is scored only when automatic
    merges are on. Otherwise its suggestions are computed when asked for (the profile panel)
    and queued by ``okno customers dedupe``: scoring every new sender would cost the relay a
    write transaction per customer (bench/ingest: −30 % processed msg/s)."""
    customer_id = event.payload.get("customer_id")
    if customer_id is None:
        return
    async with deps.db.reading() as session:
        if (await current_model(session)).auto_threshold is None:
            return
    async with deps.db.transaction() as session:
        await index_and_suggest(session, int(customer_id))


async def on_customers_created(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form of :func:`on_customer_created`: the model is read once; with automatic merges
    off nothing is scored, else event by event (each event its own retry)."""
    if all(event.payload.get("customer_id") is None for event in events):
        return
    async with deps.db.reading() as session:
        if (await current_model(session)).auto_threshold is None:
            return
    raise EventByEvent


async def open_suggestions(session: AsyncSession, *, after_id: int | None, limit: int, scope: Scope | None = None) -> list[MatchSuggestion]:
    """``scope``: only suggestions about two customers that principal may see."""
    query = select(MatchSuggestion).where(MatchSuggestion.status == "open").order_by(MatchSuggestion.score.desc(), MatchSuggestion.id).limit(limit)
    if scope is not None:
        query = query.where(pair_visible(scope, MatchSuggestion.customer_id, MatchSuggestion.other_customer_id))
    if after_id is not None:
        query = query.where(MatchSuggestion.id > after_id)
    return list((await session.scalars(query)).all())


async def decide_suggestion(session: AsyncSession, *, suggestion_id: int, accept: bool, actor_id: int, reason: str) -> MatchSuggestion:
    suggestion = await session.get(MatchSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound("%(what)s %(id)s not found", what="suggestion", id=suggestion_id)
    if suggestion.status != "open":
        raise Conflict("suggestion %(suggestion_id)s is already %(status)s", suggestion_id=suggestion_id, status=suggestion.status)
    if accept:
        from okno.customers.merge import merge_customers

        await merge_customers(
            session, survivor_id=suggestion.other_customer_id, merged_id=suggestion.customer_id, actor_id=actor_id,
            reason=reason or f"accepted suggestion {suggestion_id}", origin="suggestion", score=suggestion.score,
        )  # fmt: skip
    suggestion.status = "merged" if accept else "dismissed"
    suggestion.decided_at, suggestion.decided_by_id = utcnow(), actor_id
    await session.flush()
    return suggestion


async def _close_suggestion(session: AsyncSession, a: int, b: int, status: str, actor_id: int | None) -> None:
    await session.execute(
        update(MatchSuggestion)
        .where(MatchSuggestion.customer_id == a, MatchSuggestion.other_customer_id == b)
        .values(status=status, decided_at=utcnow(), decided_by_id=actor_id)
    )


async def save_model(session: AsyncSession, model: MatchModel, *, actor_id: int | None) -> MatchModel:
    if not 0 < model.prior < 1 or not 0 < model.review_threshold < 1:
        raise Invalid("prior and review_threshold must be between 0 and 1")
    if model.auto_threshold is not None and not model.review_threshold <= model.auto_threshold < 1:
        raise Invalid("auto_threshold must be at least review_threshold and below 1 (or null: off)")
    for side in (model.m, model.u):
        for name, values in side.items():
            if any(v <= 0 for v in values) or abs(sum(values) - 1) > 1e-3:
                raise Invalid("%(name)s: probabilities must be positive and sum to 1", name=name)
    row = await session.get(MatcherSettings, 1)
    if row is None:
        row = MatcherSettings(id=1, params=model.saved_params(), updated_by_id=actor_id, updated_at=utcnow())
        session.add(row)
    else:
        row.params, row.updated_by_id, row.updated_at = model.saved_params(), actor_id, utcnow()
    await audit(session, actor_id=actor_id, action="matcher.settings", subject=("matcher", 1), data=model.saved_params())
    await session.flush()
    remember_model(session, model, row.updated_at)
    return model
