"""Each operator's own time zone: set in his profile, used for the times pages show and for the
snooze presets, whatever zone his browser is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from okno.models import AuditEntry, Conversation
from okno.operators.time_zones import snooze_until
from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound


def test_presets_are_nine_in_the_morning_where_the_operator_lives() -> None:
    novosibirsk = ZoneInfo("Asia/Novosibirsk")  # UTC+7
    friday_late = datetime(2026, 12, 4, 20, 30, tzinfo=UTC)  # Saturday 03:30 in Novosibirsk
    assert snooze_until("tomorrow", friday_late, novosibirsk) == datetime(2026, 12, 6, 9, 0, tzinfo=novosibirsk)
    assert snooze_until("monday", friday_late, novosibirsk) == datetime(2026, 12, 7, 9, 0, tzinfo=novosibirsk)
    monday = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # a Monday noon there: "Monday" is the next one
    assert snooze_until("monday", monday, novosibirsk) == datetime(2026, 12, 14, 9, 0, tzinfo=novosibirsk)
    assert snooze_until("3h", monday, novosibirsk) == monday + timedelta(hours=3)


async def test_an_operator_sets_his_zone_and_snoozes_until_his_morning(client, ctx) -> None:
    olga = await make_operator(ctx, name="Ольга")
    headers = await login(client, email=olga["email"])
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["time_zone"] is None

    refused = await client.patch("/api/v1/auth/me", json={"time_zone": "Mars/Olympus"}, headers=headers)
    assert refused.status_code == 422 and "Mars/Olympus" in refused.text
    changed = await client.patch("/api/v1/auth/me", json={"time_zone": "Asia/Novosibirsk", "name": "Ольга Н."}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["time_zone"] == "Asia/Novosibirsk" and changed.json()["name"] == "Ольга Н."

    admin = await admin_headers(ctx, client)
    channel = await make_api_channel(client, admin)
    assert (await post_inbound(client, channel, {"message_id": "tz1", "from": {"phone": "+79160001111"}, "text": "?"})).status_code == 200
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=admin)).json()["items"][0]
    snoozed = await client.post(f"/api/v1/conversations/{conversation['id']}/snooze", json={"preset": "tomorrow"}, headers=headers)
    assert snoozed.status_code == 200, snoozed.text
    async with ctx.db.reading() as session:
        until = await session.scalar(select(Conversation.snoozed_until).where(Conversation.id == conversation["id"]))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "operator.profile_changed"))
    local = until.astimezone(ZoneInfo("Asia/Novosibirsk"))
    assert (local.hour, local.minute) == (9, 0) and local.date() > datetime.now(UTC).astimezone(ZoneInfo("Asia/Novosibirsk")).date() - timedelta(days=1)
    assert entry.actor_id == olga["id"] and entry.data == {"name": "Ольга Н.", "time_zone": "Asia/Novosibirsk"}

    both = await client.post(f"/api/v1/conversations/{conversation['id']}/snooze", json={"preset": "1h", "until": "2030-01-01T00:00:00Z"}, headers=headers)
    assert both.status_code == 422


async def test_an_api_token_has_no_profile(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    token = (await client.post("/api/v1/api-tokens", json={"name": "CRM", "role": "operator"}, headers=admin)).json()["token"]
    refused = await client.patch("/api/v1/auth/me", json={"time_zone": "Europe/Moscow"}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
