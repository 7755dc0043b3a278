"""SLA over the API: business-hours deadlines, pauses, warnings, breaches, results per conversation."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import admin_headers, make_api_channel
from tests.service.helpers import open_conversation, timeline_of

MSK = ZoneInfo("Europe/Moscow")
OFFICE = {"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]], "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]]}


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def near(value: str | datetime | None, expected: datetime) -> bool:
    """Equal up to the few milliseconds okno's running clock moves while a test step runs."""
    moment = at(value) if isinstance(value, str) else value
    return moment is not None and timedelta(0) <= moment - expected < timedelta(seconds=5)


async def office_team(client, headers, *, first_response: int = 60, warning: int = 0, holidays=()) -> dict:  # noqa: ANN001
    calendar = await client.post("/api/v1/calendars", json={"name": "Офис", "timezone": "Europe/Moscow", "weekly": OFFICE, "holidays": list(holidays)}, headers=headers)
    assert calendar.status_code == 201, calendar.text
    targets = {"normal": {"first_response": first_response, "next_response": 120, "resolution": 8 * 60}, "urgent": {"first_response": 15}}
    policy = await client.post("/api/v1/sla/policies", json={"name": "Стандарт", "targets": targets, "warning_minutes": warning}, headers=headers)
    assert policy.status_code == 201, policy.text
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    configured = await client.patch(
        f"/api/v1/teams/{team['id']}", json={"calendar_id": calendar.json()["id"], "sla_policy_id": policy.json()["id"]}, headers=headers
    )
    assert configured.status_code == 200, configured.text
    channel = await make_api_channel(client, headers, team_id=team["id"])
    return {"team": configured.json(), "calendar": calendar.json(), "policy": policy.json(), "channel": channel}


async def targets_of(client, headers, conversation_id: int) -> dict[str, dict]:  # noqa: ANN001
    items = (await client.get(f"/api/v1/conversations/{conversation_id}/sla", headers=headers)).json()["items"]
    return {f"{t['metric']}:{t['cycle']}": t for t in items}


async def test_the_issues_deadlines_friday_evening_to_monday_and_a_holiday_to_tuesday(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 27, 17, 30))
    late = await open_conversation(client, ctx, headers, channel=setup["channel"])
    travel(msk(2026, 11, 27, 19, 30))
    later = await open_conversation(client, ctx, headers, channel=setup["channel"])

    assert near(late["sla_due_at"], msk(2026, 11, 30, 9, 30))
    assert near(later["sla_due_at"], msk(2026, 11, 30, 10, 0))
    first = (await targets_of(client, headers, late["id"]))["first_response:1"]
    assert first["target_seconds"] == 3600 and first["state"] == "running" and near(first["due_at"], msk(2026, 11, 30, 9, 30))

    holiday = await client.patch(f"/api/v1/calendars/{setup['calendar']['id']}", json={"holidays": ["2026-11-30"]}, headers=headers)
    assert holiday.status_code == 200
    await ctx.settle()
    for conversation, due in ((late, msk(2026, 12, 1, 9, 30)), (later, msk(2026, 12, 1, 10, 0))):
        now = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
        assert near(now["sla_due_at"], due)


async def test_a_reply_meets_the_target_and_results_are_stored_in_business_and_wall_time(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 27, 17, 30))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    travel(msk(2026, 11, 30, 9, 20))  # Monday, 50 business minutes later
    reply = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Заказ уже в пути"}, headers=headers)
    assert reply.status_code == 201, reply.text
    await ctx.settle()

    targets = await targets_of(client, headers, conversation["id"])
    first = targets["first_response:1"]
    assert first["state"] == "met" and first["breached_at"] is None
    # okno's clock runs on after each travel: the customer's message is stamped a moment after
    # 17:30 and the reply a moment after 09:20, and either moment may be the longer one
    assert abs(first["business_seconds"] - 50 * 60) <= 5
    assert abs(first["wall_seconds"] - (63 * 3600 + 50 * 60)) <= 5
    assert targets["resolution:1"]["state"] == "running"
    assert at((await client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()["sla_due_at"]) == at(
        targets["resolution:1"]["due_at"]
    )


async def test_notes_do_not_count_as_a_response(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "проверю склад", "internal": True}, headers=headers)
    await ctx.settle()
    assert (await targets_of(client, headers, conversation["id"]))["first_response:1"]["state"] == "running"


async def test_on_hold_pauses_the_clock_and_resuming_extends_the_deadline(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    assert near(conversation["sla_due_at"], msk(2026, 11, 30, 11, 0))

    travel(msk(2026, 11, 30, 10, 20))
    held = await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "on_hold"}, headers=headers)
    await ctx.settle()
    assert held.status_code == 200
    paused = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
    assert paused["sla_due_at"] is None
    assert (await targets_of(client, headers, conversation["id"]))["first_response:1"]["state"] == "paused"

    travel(msk(2026, 11, 30, 15, 0))  # held for 4 h 40 min of business time
    await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "open"}, headers=headers)
    await ctx.settle()
    resumed = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
    assert near(resumed["sla_due_at"], msk(2026, 11, 30, 15, 40))  # 40 minutes were left


async def test_priority_change_recomputes_the_deadline(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    await client.post(f"/api/v1/conversations/{conversation['id']}/priority", json={"priority": 3}, headers=headers)
    await ctx.settle()
    first = (await targets_of(client, headers, conversation["id"]))["first_response:1"]
    assert first["target_seconds"] == 15 * 60 and near(first["due_at"], msk(2026, 11, 30, 10, 15))
    # urgent has no resolution target in this policy: that clock is cancelled, not left running
    assert (await targets_of(client, headers, conversation["id"]))["resolution:1"]["state"] == "cancelled"


async def test_warning_then_breach_fire_once_and_are_on_the_timeline(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers, warning=10)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])

    travel(msk(2026, 11, 30, 10, 51))
    await ctx.settle()
    assert [e.data["metric"] for e in await timeline_of(ctx, conversation["id"], "sla.warning")] == ["first_response"]
    assert await timeline_of(ctx, conversation["id"], "sla.breached") == []

    travel(msk(2026, 11, 30, 11, 1))
    await ctx.settle()
    await ctx.settle()
    [breach] = await timeline_of(ctx, conversation["id"], "sla.breached")
    assert breach.data["metric"] == "first_response" and near(breach.occurred_at, msk(2026, 11, 30, 11, 0))
    first = (await targets_of(client, headers, conversation["id"]))["first_response:1"]
    assert near(first["breached_at"], msk(2026, 11, 30, 11, 0))
    assert len(await timeline_of(ctx, conversation["id"], "sla.warning")) == 1

    travel(msk(2026, 11, 30, 11, 30))
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Извините за ожидание"}, headers=headers)
    await ctx.settle()
    assert (await targets_of(client, headers, conversation["id"]))["first_response:1"]["state"] == "missed"


async def test_timers_survive_a_restart(client, ctx, travel, app) -> None:  # noqa: ANN001
    from okno.context import build_context

    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    travel(msk(2026, 11, 30, 11, 5))
    fresh = build_context(ctx.settings)  # a new process: nothing in memory, only the database
    try:
        assert await fresh.timers.drain_once() >= 1
        assert await fresh.timers.drain_once() == 0  # fired once
    finally:
        await fresh.close()
    assert len(await timeline_of(ctx, conversation["id"], "sla.breached")) == 1


async def test_policy_and_calendar_input_mistakes_are_explained(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    cases = [
        ("/api/v1/calendars", {"name": "x", "timezone": "Mars/Olympus", "weekly": OFFICE}, "time zone"),
        ("/api/v1/calendars", {"name": "x", "timezone": "Europe/Moscow", "weekly": {"monday": [["09:00", "18:00"]]}}, "unknown days"),
        ("/api/v1/calendars", {"name": "x", "timezone": "Europe/Moscow", "weekly": {"mon": [["9am", "18:00"]]}}, "HH:MM"),
        ("/api/v1/calendars", {"name": "x", "timezone": "Europe/Moscow", "weekly": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "overlapping"),
        ("/api/v1/calendars", {"name": "x", "timezone": "Europe/Moscow", "weekly": OFFICE, "holidays": ["30.11.2026"]}, "not a date"),
        ("/api/v1/sla/policies", {"name": "p", "targets": {"critical": {"first_response": 5}}}, "unknown priorities"),
        ("/api/v1/sla/policies", {"name": "p", "targets": {"high": {"first_reply": 5}}}, "unknown metrics"),
        ("/api/v1/sla/policies", {"name": "p", "targets": {"high": {"first_response": 0}}}, "whole minutes"),
    ]
    for url, body, expected in cases:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 422 and expected in response.json()["detail"], (body, response.text)
    team = (await client.post("/api/v1/teams", json={"name": "T"}, headers=headers)).json()
    wrong = await client.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": 999}, headers=headers)
    assert wrong.status_code == 422 and "calendar 999 does not exist" in wrong.json()["detail"]
    strategy = await client.patch(f"/api/v1/teams/{team['id']}", json={"assignment_strategy": "random"}, headers=headers)
    assert strategy.status_code == 422 and "least_loaded" in strategy.json()["detail"]
