"""Estimating the model's parameters from the stored profiles."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.matching.batch import candidate_pairs
from okno.customers.matching.compare_table import TableComparer
from okno.customers.matching.em import estimate_m, estimate_u
from okno.customers.matching.model import MatchModel
from okno.customers.matching.sessions import training_sessions
from okno.customers.matching.table import table_from_fields
from okno.kit.errors import Invalid
from okno.models import MatchProfile

MIN_PROFILES = 100


async def estimate_from_profiles(session: AsyncSession, current: MatchModel, *, sample: int) -> tuple[MatchModel, dict]:
    return estimate_from_records(await sample_profiles(session, sample), current)


async def sample_profiles(session: AsyncSession, sample: int) -> list[dict]:
    records = [f for (f,) in (await session.execute(select(MatchProfile.fields).order_by(MatchProfile.customer_id).limit(sample))).all()]
    check_enough_profiles(len(records))
    return records


async def count_profiles(session: AsyncSession, *, up_to: int) -> int:
    limited = select(MatchProfile.customer_id).limit(up_to).subquery()
    return int(await session.scalar(select(func.count()).select_from(limited)) or 0)


def check_enough_profiles(found: int) -> None:
    if found < MIN_PROFILES:
        raise Invalid("estimating needs at least %(num)s profile, found %(found)s", plural="estimating needs at least %(num)s profiles, found %(found)s", num=MIN_PROFILES, found=found)


def estimate_from_records(records: list[dict], current: MatchModel) -> tuple[MatchModel, dict]:
    table = table_from_fields(records)
    compare = TableComparer(table)
    li, ri, _ = candidate_pairs(table)
    model = MatchModel(m=current.m, u=estimate_u(table.size, compare) or current.u, prior=current.prior,
                       review_threshold=current.review_threshold, auto_threshold=current.auto_threshold)  # fmt: skip
    if len(li):
        pick = np.random.default_rng(11).choice(len(li), size=min(400_000, len(li)), replace=False)
        gamma = compare(li[pick], ri[pick])
        model = estimate_m(model, gamma, sessions=training_sessions(table, compare, gamma, sample=100_000),
                           first_name_shares=table.term_shares("first_name")[li[pick]])  # fmt: skip
        model.match_rate = model.prior * len(li) * 2 / table.size  # matches among the candidates, per record
    return model, {"profiles": len(records), "candidate_pairs": int(len(li))}
