"""A relay batch's SLA syncs read the team, its calendar and the policy once, not once a
conversation: ``SlaLookups`` keeps the rows it read alive, since the session's identity map holds
them only weakly (before, every sync of a batch read its team and calendar again)."""

from __future__ import annotations

from datetime import UTC, datetime

from okno.kit.time import utcnow
from okno.models import Conversation, Customer
from okno.sla.policies import SlaLookups
from okno.sla.tracking import sync_conversation_sla
from tests.factories import admin_headers
from tests.statements import count_statements

OFFICE = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


async def _team_with_calendar_and_policy(client, headers) -> int:  # noqa: ANN001
    calendar = (await client.post("/api/v1/calendars", json={"name": "Офис", "timezone": "Europe/Moscow", "weekly": OFFICE}, headers=headers)).json()
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": calendar["id"]}, headers=headers)
    targets = {"normal": {"first_response": 45, "resolution": 240}}
    response = await client.post("/api/v1/sla/policies", json={"name": "Общая", "targets": targets, "is_default": True}, headers=headers)
    assert response.status_code == 201, response.text
    return team["id"]


async def test_a_batch_of_syncs_reads_the_team_and_its_calendar_once(client, ctx) -> None:  # noqa: ANN001
    team_id = await _team_with_calendar_and_policy(client, await admin_headers(ctx, client))
    async with ctx.db.transaction() as session:
        customer = Customer(name="Клиент")
        session.add(customer)
        await session.flush()
        conversations = [Conversation(customer_id=customer.id, team_id=team_id, created_at=datetime(2026, 3, 2, 9, n, tzinfo=UTC)) for n in range(5)]
        session.add_all(conversations)
        await session.flush()
        ids = [c.id for c in conversations]
    with count_statements(ctx.db) as log:
        async with ctx.db.transaction() as session:
            lookups = SlaLookups()
            for conversation_id in ids:
                assert await sync_conversation_sla(session, conversation_id, at=utcnow(), lookups=lookups)
    reads = {table: sum(f"FROM {table}" in " ".join(s.split()) for s in log.statements) for table in ("teams", "business_calendars", "sla_policies")}
    assert reads == {"teams": 1, "business_calendars": 1, "sla_policies": 1}, log.listing()
