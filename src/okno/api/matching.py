"""Merge suggestions with explanations, the operators' queue, and the matcher's parameters."""

from __future__ import annotations

from fastapi import APIRouter, Query

from okno.access.guards import access_suggestion, visible_customers_among
from okno.api.access import ManagerScope, OperatorScope
from okno.api.deps import AdminOperator, CurrentOperator, ReadSession, WriteSession
from okno.api.identity_schemas import DecisionIn, MatcherSettingsIn, QueuedSuggestionOut, SuggestionOut
from okno.api.jobs import JobOut
from okno.api.pagination import Limit
from okno.customers.matching.jobs import ESTIMATE, REINDEX
from okno.customers.queries import get_customer
from okno.customers.matching.model import MatchModel
from okno.customers.matching.realtime import current_model
from okno.customers.matching.suggestions import decide_suggestion, open_suggestions, save_model, suggestions_for
from okno.customers.matching.training import MIN_PROFILES, check_enough_profiles, count_profiles
from okno.jobs.queue import enqueue_job

router = APIRouter(tags=["identity"])


@router.get("/api/v1/customers/{customer_id}/merge-suggestions")
async def customer_suggestions(
    customer_id: int,
    scope: OperatorScope,
    session: ReadSession,
    min_score: float | None = Query(default=None, ge=0, le=1, description="default: the review threshold"),
    limit: int = Query(default=10, ge=1, le=100),
) -> dict:
    await get_customer(session, customer_id, scope=scope)
    found, model = await suggestions_for(session, customer_id, min_score=min_score, limit=limit)
    visible = await visible_customers_among(session, scope, [c.customer_id for c in found])
    found = [c for c in found if c.customer_id in visible]
    return {
        "items": [SuggestionOut(customer_id=c.customer_id, score=round(c.score, 6), match_weight=c.match_weight, contributions=c.contributions) for c in found],
        "review_threshold": model.review_threshold,
        "auto_threshold": model.auto_threshold,
    }


@router.get("/api/v1/merge-suggestions")
async def suggestion_queue(scope: OperatorScope, session: ReadSession, after_id: int | None = None, limit: Limit = 50) -> dict:
    rows = await open_suggestions(session, after_id=after_id, limit=limit, scope=scope)
    return {"items": [QueuedSuggestionOut.model_validate(s) for s in rows]}


@router.post("/api/v1/merge-suggestions/{suggestion_id}/accept", response_model=QueuedSuggestionOut)
async def accept(
    suggestion_id: int, operator: CurrentOperator, scope: ManagerScope, session: WriteSession, body: DecisionIn | None = None
) -> QueuedSuggestionOut:
    await access_suggestion(session, scope, suggestion_id)
    row = await decide_suggestion(session, suggestion_id=suggestion_id, accept=True, actor_id=operator.id, reason=body.reason if body else "")
    return QueuedSuggestionOut.model_validate(row)


@router.post("/api/v1/merge-suggestions/{suggestion_id}/dismiss", response_model=QueuedSuggestionOut)
async def dismiss(
    suggestion_id: int, operator: CurrentOperator, scope: ManagerScope, session: WriteSession, body: DecisionIn | None = None
) -> QueuedSuggestionOut:
    await access_suggestion(session, scope, suggestion_id)
    row = await decide_suggestion(session, suggestion_id=suggestion_id, accept=False, actor_id=operator.id, reason=body.reason if body else "")
    return QueuedSuggestionOut.model_validate(row)


def _settings_out(model: MatchModel) -> dict:
    """The parameters, and which comparisons run on defaults because their saved weights no
    longer fit (re-estimate, or PUT weights for them)."""
    return {**model.params(), "weights_out_of_date": list(model.out_of_date)}


@router.get("/api/v1/matcher")
async def matcher_settings(_: CurrentOperator, session: ReadSession) -> dict:
    return _settings_out(await current_model(session, fresh=True))


@router.put("/api/v1/matcher")
async def override_matcher(body: MatcherSettingsIn, admin: AdminOperator, session: WriteSession) -> dict:
    current = await current_model(session, fresh=True)
    params = current.params()
    for side in ("m", "u"):
        for name, values in (getattr(body, side) or {}).items():
            if name not in params[side] or len(values) != len(params[side][name]):
                from okno.kit.errors import Invalid

                raise Invalid("%(side)s.%(name)s: unknown comparison or wrong number of levels", side=side, name=name)
            params[side][name] = values
    for name in ("prior", "review_threshold"):
        if getattr(body, name) is not None:
            params[name] = getattr(body, name)
    if "auto_threshold" in body.model_fields_set:
        params["auto_threshold"] = body.auto_threshold
    for name in ("match_rate", "household_share"):
        if name in body.model_fields_set:
            params[name] = getattr(body, name)
    model = MatchModel.from_params(params)
    model.out_of_date = tuple(c for c in current.out_of_date if c not in (body.m or {}) and c not in (body.u or {}))
    return _settings_out(await save_model(session, model, actor_id=admin.id))


@router.post("/api/v1/matcher/estimate", status_code=202, response_model=JobOut)
async def estimate(admin: AdminOperator, session: WriteSession, sample: int = Query(default=200_000, ge=100, le=2_000_000)) -> JobOut:
    """Queues re-estimating m, u and the prior from the stored profiles (EM; thresholds are
    kept). The work runs in a worker: follow it at ``GET /api/v1/jobs/{id}``; its result holds
    the new parameters and the sample's statistics."""
    check_enough_profiles(await count_profiles(session, up_to=MIN_PROFILES))
    return JobOut.of(await enqueue_job(session, ESTIMATE, {"sample": sample, "actor_id": admin.id}, created_by=admin.id))


@router.post("/api/v1/matcher/reindex", status_code=202, response_model=JobOut)
async def reindex(admin: AdminOperator, session: WriteSession, after_id: int = Query(default=0, ge=0)) -> JobOut:
    """Queues re-filing the stored profiles whose fields or blocking keys are stale (after the
    matcher learnt a new field or key), customers with ids above ``after_id``, a chunk per
    transaction. Follow it at ``GET /api/v1/jobs/{id}``."""
    return JobOut.of(await enqueue_job(session, REINDEX, {"after_id": after_id}, created_by=admin.id, max_attempts=5))
