"""The SLA subscriber derives a conversation's targets from its state when it runs
(sla/tracking.py). A resolution undone (the conversation reopened) before the subscriber has seen
it must leave the targets as they would be had it run in between: two conversations get the same
story — resolved in time, reopened, resolved again late — one with the relay run between the
resolution and the reopening, one without; their targets end the same (docs/analytics.md)."""

from __future__ import annotations

from tests.factories import admin_headers
from tests.service.helpers import open_conversation
from tests.service.test_sla import msk, office_team, targets_of


async def _story(client, ctx, travel, headers, setup, *, settle_between: bool) -> dict:  # noqa: ANN001
    travel(msk(2026, 11, 30, 9, 30))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])  # resolution due 17:30
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Смотрим"}, headers=headers)
    await ctx.settle()
    travel(msk(2026, 11, 30, 17, 20))
    resolved = await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "resolved"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    if settle_between:
        await ctx.settle()
    travel(msk(2026, 11, 30, 17, 25))  # the customer writes again; the operator reopens it
    reopened = await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "open"}, headers=headers)
    assert reopened.status_code == 200, reopened.text
    await ctx.settle()
    travel(msk(2026, 11, 30, 18, 10))
    await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "resolved"}, headers=headers)
    await ctx.settle()
    return {key: (t["state"], t["breached_at"]) for key, t in (await targets_of(client, headers, conversation["id"])).items()}


async def test_a_resolution_undone_before_the_relay_ran_leaves_the_targets_as_after(client, ctx, travel) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    seen = await _story(client, ctx, travel, headers, setup, settle_between=True)
    unseen = await _story(client, ctx, travel, headers, setup, settle_between=False)
    assert seen["resolution:1"][0] == "missed"  # the final resolution (18:10) decides, past 17:30
    assert unseen == seen
