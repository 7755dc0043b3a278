"""Everything an admin creates can be edited, disabled and deleted through the API, each change
audited; what history still names is refused with 409 and says, in Russian and English, what to
do instead (disable the channel or policy, deactivate the operator, choose another calendar)."""

from __future__ import annotations

import httpx

from tests.factories import admin_headers, make_api_channel
from tests.service.helpers import open_conversation

OFFICE = {"mon": [["09:00", "18:00"]], "fri": [["10:00", "17:00"]]}


async def _actions(client: httpx.AsyncClient, headers: dict[str, str], subject_type: str, subject_id: int) -> list[str]:
    entries = (await client.get("/api/v1/audit", params={"limit": 200}, headers=headers)).json()["items"]
    return [e["action"] for e in entries if e["subject_type"] == subject_type and e["subject_id"] == str(subject_id)]


def _refusal(response: httpx.Response, *, en: str, ru: str) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert en in body["detail"] and body["detail_i18n"]["en"] == body["detail"] and ru in body["detail_i18n"]["ru"], body


async def test_a_channel_nothing_came_through_is_deleted_one_with_conversations_is_disabled_instead(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    spare = await make_api_channel(client, headers)
    renamed = await client.patch(f"/api/v1/channels/{spare['id']}", json={"name": "CRM (тест)"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "CRM (тест)"
    assert (await client.delete(f"/api/v1/channels/{spare['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/channels/{spare['id']}", headers=headers)).status_code == 404
    assert await _actions(client, headers, "channel", spare["id"]) == ["channel.deleted", "channel.updated", "channel.created"]

    used = await make_api_channel(client, headers)
    await open_conversation(client, ctx, headers, channel=used)
    _refusal(await client.delete(f"/api/v1/channels/{used['id']}", headers=headers), en="disable it instead", ru="отключите его")
    assert (await client.post(f"/api/v1/channels/{used['id']}/disable", headers=headers)).json()["is_active"] is False
    assert (await client.delete("/api/v1/channels/9999999", headers=headers)).status_code == 404


async def test_the_widget_shows_the_script_tag_to_paste_not_a_webhook_url(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    made = await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": ["https://shop.example"]}}, headers=headers)
    assert made.status_code == 201, made.text
    widget = made.json()
    assert widget["webhook_url"] is None
    assert widget["embed_code"] == f'<script src="http://okno.test/widget/{widget["id"]}.js" async></script>'  # the address okno is reached at
    api = await make_api_channel(client, headers)
    assert api["embed_code"] is None and api["webhook_url"].endswith(f"/webhooks/{api['id']}")


async def test_an_operator_is_renamed_and_an_unused_account_deleted_one_with_history_only_deactivated(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    typo = (await client.post("/api/v1/operators", json={"email": "olga@okno.test", "password": "password-123", "name": "Ольга"}, headers=headers)).json()
    changed = await client.patch(f"/api/v1/operators/{typo['id']}", json={"name": "Ольга Петрова", "email": "Olga.P@okno.test"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["name"] == "Ольга Петрова" and changed.json()["email"] == "olga.p@okno.test"
    clash = await client.patch(f"/api/v1/operators/{typo['id']}", json={"email": me["email"]}, headers=headers)
    assert clash.status_code == 409 and "уже есть" in clash.json()["detail_i18n"]["ru"]
    assert (await client.delete(f"/api/v1/operators/{typo['id']}", headers=headers)).status_code == 204
    actions = await _actions(client, headers, "operator", typo["id"])
    assert actions[:3] == ["operator.deleted", "operator.email_changed", "operator.renamed"]

    worker = (await client.post("/api/v1/operators", json={"email": "ivan@okno.test", "password": "password-123", "name": "Иван"}, headers=headers)).json()
    conversation = await open_conversation(client, ctx, headers)
    assigned = await client.post(f"/api/v1/conversations/{conversation['id']}/assign", json={"operator_id": worker["id"]}, headers=headers)
    assert assigned.status_code == 200, assigned.text
    _refusal(await client.delete(f"/api/v1/operators/{worker['id']}", headers=headers), en="deactivate him instead", ru="деактивируйте его")
    assert (await client.patch(f"/api/v1/operators/{worker['id']}", json={"is_active": False}, headers=headers)).json()["is_active"] is False
    own = await client.delete(f"/api/v1/operators/{me['id']}", headers=headers)
    assert own.status_code == 409 and own.json()["detail_i18n"]["ru"] == "Нельзя удалить собственную учётную запись"


async def test_a_team_is_renamed_and_deleted_unless_something_names_it(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Склад"}, headers=headers)).json()
    other = (await client.post("/api/v1/teams", json={"name": "Доставка"}, headers=headers)).json()
    renamed = await client.patch(f"/api/v1/teams/{team['id']}", json={"name": "Склад и возвраты"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Склад и возвраты"
    taken = await client.patch(f"/api/v1/teams/{team['id']}", json={"name": "Доставка"}, headers=headers)
    assert taken.status_code == 409 and taken.json()["detail_i18n"]["ru"] == "Группа «Доставка» уже есть"

    channel = await make_api_channel(client, headers, team_id=team["id"])
    _refusal(await client.delete(f"/api/v1/teams/{team['id']}", headers=headers), en="move them to another team first", ru="передайте их другой группе")
    await client.patch(f"/api/v1/channels/{channel['id']}", json={"team_id": None}, headers=headers)
    rule = {"name": "На склад", "conditions": [], "actions": {"team_id": team["id"]}}
    made = await client.post("/api/v1/routing/rules", json=rule, headers=headers)
    assert made.status_code == 201, made.text
    _refusal(await client.delete(f"/api/v1/teams/{team['id']}", headers=headers), en="change the rule first", ru="сначала измените правило")
    assert (await client.delete(f"/api/v1/routing/rules/{made.json()['id']}", headers=headers)).status_code == 204

    assert (await client.delete(f"/api/v1/teams/{team['id']}", headers=headers)).status_code == 204
    assert [t["id"] for t in (await client.get("/api/v1/teams", headers=headers)).json()["items"]] == [other["id"]]
    assert (await _actions(client, headers, "team", team["id"]))[0] == "team.deleted"

    busy = await make_api_channel(client, headers, team_id=other["id"])
    await open_conversation(client, ctx, headers, channel=busy)
    await client.patch(f"/api/v1/channels/{busy['id']}", json={"team_id": None}, headers=headers)
    _refusal(await client.delete(f"/api/v1/teams/{other['id']}", headers=headers), en="it can only be renamed", ru="можно только переименовать")


async def test_calendars_are_edited_and_deleted_once_no_team_uses_them(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    made = await client.post("/api/v1/calendars", json={"name": "Офис", "timezone": "Europe/Moscow", "weekly": OFFICE, "holidays": []}, headers=headers)
    calendar = made.json()
    edited = await client.patch(f"/api/v1/calendars/{calendar['id']}", json={"name": "Офис Москва", "holidays": ["2026-12-31"]}, headers=headers)
    assert edited.status_code == 200 and edited.json()["name"] == "Офис Москва" and edited.json()["holidays"] == ["2026-12-31"]
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": calendar["id"]}, headers=headers)
    _refusal(await client.delete(f"/api/v1/calendars/{calendar['id']}", headers=headers), en="choose another one for the team first",
             ru="Календарь «Офис Москва» использует группа")  # fmt: skip
    await client.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": None}, headers=headers)
    assert (await client.delete(f"/api/v1/calendars/{calendar['id']}", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/calendars", headers=headers)).json()["items"] == []
    assert await _actions(client, headers, "calendar", calendar["id"]) == ["calendar.deleted", "calendar.changed", "calendar.added"]
    assert (await client.delete(f"/api/v1/calendars/{calendar['id']}", headers=headers)).status_code == 404


async def test_a_policy_with_sla_results_is_disabled_not_deleted_and_the_default_takes_over(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    spare = (await client.post("/api/v1/sla/policies", json={"name": "Черновик", "targets": {"normal": {"first_response": 5}}}, headers=headers)).json()
    edited = await client.patch(f"/api/v1/sla/policies/{spare['id']}", json={"name": "Черновик 2", "warning_minutes": 2}, headers=headers)
    assert edited.status_code == 200 and edited.json()["warning_minutes"] == 2 and edited.json()["is_active"] is True
    assert (await client.delete(f"/api/v1/sla/policies/{spare['id']}", headers=headers)).status_code == 204
    assert await _actions(client, headers, "sla_policy", spare["id"]) == ["sla_policy.deleted", "sla_policy.changed", "sla_policy.added"]

    fallback = (await client.post("/api/v1/sla/policies", json={"name": "Обычная", "targets": {"normal": {"first_response": 240}}, "is_default": True}, headers=headers)).json()
    strict = (await client.post("/api/v1/sla/policies", json={"name": "Строгая", "targets": {"normal": {"first_response": 10}}}, headers=headers)).json()
    team = (await client.post("/api/v1/teams", json={"name": "VIP"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"sla_policy_id": strict["id"]}, headers=headers)
    channel = await make_api_channel(client, headers, team_id=team["id"])
    conversation = await open_conversation(client, ctx, headers, channel=channel)
    first = (await client.get(f"/api/v1/conversations/{conversation['id']}/sla", headers=headers)).json()["items"][0]
    assert first["target_seconds"] == 600

    _refusal(await client.delete(f"/api/v1/sla/policies/{strict['id']}", headers=headers), en="choose another one for the team first",
             ru="Политику SLA «Строгая» использует группа")  # fmt: skip
    await client.patch(f"/api/v1/teams/{team['id']}", json={"sla_policy_id": None}, headers=headers)
    _refusal(await client.delete(f"/api/v1/sla/policies/{strict['id']}", headers=headers), en="disable it instead", ru="отключите её вместо удаления")

    await client.patch(f"/api/v1/teams/{team['id']}", json={"sla_policy_id": strict["id"]}, headers=headers)
    disabled = await client.patch(f"/api/v1/sla/policies/{strict['id']}", json={"is_active": False}, headers=headers)
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False and disabled.json()["is_default"] is False
    await ctx.settle()
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/sla", headers=headers)).json()["items"][0]
    assert after["target_seconds"] == 240 * 60  # the team's policy is off: the default governs its running deadline
    refused = await client.patch(f"/api/v1/sla/policies/{strict['id']}", json={"is_default": True}, headers=headers)
    assert refused.status_code == 422 and "включите её" in refused.json()["detail_i18n"]["ru"]
    assert (await _actions(client, headers, "sla_policy", strict["id"]))[0] == "sla_policy.disabled"
    enabled = await client.patch(f"/api/v1/sla/policies/{strict['id']}", json={"is_active": True}, headers=headers)
    assert enabled.json()["is_active"] is True and (await _actions(client, headers, "sla_policy", strict["id"]))[0] == "sla_policy.enabled"
    assert fallback["is_default"] is True


async def test_a_survey_nothing_was_sent_by_is_deleted_one_already_sent_is_switched_off(client, ctx) -> None:
    from okno.kit.time import utcnow
    from okno.models.surveys import SurveyRequest

    headers = await admin_headers(ctx, client)
    made = await client.post("/api/v1/surveys", json={"kind": "csat", "name": "Черновик", "question": {"ru": "Как мы справились?"}}, headers=headers)
    draft = made.json()
    assert (await client.patch(f"/api/v1/surveys/{draft['id']}", json={"name": "Черновик 2"}, headers=headers)).json()["name"] == "Черновик 2"
    assert (await client.delete(f"/api/v1/surveys/{draft['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/surveys/{draft['id']}", headers=headers)).status_code == 404
    assert await _actions(client, headers, "survey", draft["id"]) == ["survey.deleted", "survey.changed", "survey.created"]

    sent = (await client.post("/api/v1/surveys", json={"kind": "nps", "name": "NPS", "question": {"ru": "Порекомендуете?"}}, headers=headers)).json()
    conversation = await open_conversation(client, ctx, headers)
    async with ctx.db.transaction() as session:
        session.add(SurveyRequest(survey_id=sent["id"], conversation_id=conversation["id"], customer_id=conversation["customer_id"], kind="nps",
                                  state="sent", due_at=utcnow(), sent_at=utcnow()))  # fmt: skip
    _refusal(await client.delete(f"/api/v1/surveys/{sent['id']}", headers=headers), en="switch it off instead", ru="выключите его вместо удаления")
    assert (await client.patch(f"/api/v1/surveys/{sent['id']}", json={"is_active": False}, headers=headers)).json()["is_active"] is False
