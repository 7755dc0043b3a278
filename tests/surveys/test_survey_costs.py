"""What the survey hook costs the ingest batch: nothing while no survey is defined (the pinned
counts in tests/test_statement_counts.py), and one lookup for the whole batch once one is — at
any batch size, whether or not anyone has an open survey."""

from __future__ import annotations

import pytest

from okno.context import AppContext
from tests.statements import assert_statement_count
from tests.test_statement_counts import INGEST_RETURNING_CUSTOMERS, _dialect, _new_phones, _touches, channel_id  # noqa: F401


@pytest.mark.parametrize("size", [1, 100])
async def test_with_a_survey_defined_a_batch_of_returning_customers_costs_one_statement_more(client, ctx: AppContext, channel_id: int, size: int) -> None:  # noqa: F811
    from tests.factories import admin_headers

    headers = await admin_headers(ctx, client)
    survey = {"kind": "csat", "name": "CSAT", "question": {"ru": "Оцените"}}
    assert (await client.post("/api/v1/surveys", json=survey, headers=headers)).status_code == 201
    senders = _new_phones(size)
    await ctx.intake.submit(channel_id, _touches(senders, tag=f"first-{size}"), b"{}")
    with assert_statement_count(ctx.db, INGEST_RETURNING_CUSTOMERS[_dialect(ctx.db)] + 1):
        accepted = await ctx.intake.submit(channel_id, _touches(senders, tag=f"again-{size}"), b"{}")
    assert accepted.stored == size
