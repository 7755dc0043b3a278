"""Automation actions and rule conditions as registries: every action is complete, the API
publishes their schemas (a discriminated union in OpenAPI, a listing for the admin forms), bad
params are refused with the reason, and what a rule writes carries the rule as its actor."""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from sqlalchemy import select

from okno.automation import actions as registry
from okno.automation.actions import ACTIONS, ActionParams, ActionRun, AutomationAction, Names, published_models
from okno.kit.labels import Label, labelled
from okno.models import Message, TimelineEvent
from okno.routing.conditions import FIELDS
from tests.factories import admin_headers, make_operator
from tests.service.helpers import open_conversation, timeline_of


class _Names:
    """What the admin page passes to describe(): names for ids, in one language."""

    locale = "ru"

    def team(self, team_id: Any) -> str:
        return f"группа {team_id}"

    def operator(self, operator_id: Any) -> str:
        return f"оператор {operator_id}"

    def status(self, key: Any) -> str:
        return f"статус {key}"

    def reason(self, key: Any) -> str:
        return f"причина {key}"

    def priority(self, value: Any) -> str:
        return f"приоритет {value}"

    def canned_answer(self, answer_id: Any) -> str:
        return f"шаблон {answer_id}"


# one stored example per built-in action: what describe() is shown
EXAMPLES = {
    "set_priority": {"type": "set_priority", "priority": 3},
    "set_status": {"type": "set_status", "status": "pending", "reason": None},
    "add_tags": {"type": "add_tags", "tags": ["vip", "late"]},
    "assign": {"type": "assign", "team_id": 4},
    "escalate": {"type": "escalate", "comment": "SLA"},
    "add_note": {"type": "add_note", "text": "Клиент просит срочно"},
    "send_canned_answer": {"type": "send_canned_answer", "answer_id": 7},
    "call_webhook": {"type": "call_webhook", "url": "https://crm.example/hook", "secret_sealed": "sealed"},
}


@pytest.mark.parametrize("kind", list(ACTIONS))
def test_every_registered_action_has_a_schema_validate_perform_and_describe(kind: str) -> None:
    action = ACTIONS[kind]
    assert isinstance(action, AutomationAction) and action.type == kind
    assert action.label.en and action.label.ru and action.label.en != action.label.ru
    assert issubclass(action.params, ActionParams)
    schema = action.params.model_json_schema()
    for name, prop in schema.get("properties", {}).items():  # every field of the generated form has both names
        assert set(prop.get("x-label", {})) == {"en", "ru"}, (kind, name)
    for method in ("validate", "perform", "describe"):
        assert inspect.isfunction(getattr(type(action), method)) or inspect.ismethod(getattr(action, method)), (kind, method)
    assert inspect.iscoroutinefunction(action.validate) and inspect.iscoroutinefunction(action.perform)
    assert not getattr(type(action), "__abstractmethods__", None)
    if kind in EXAMPLES:  # built-ins: a sentence, not the JSON
        described = action.describe(EXAMPLES[kind], _Names())
        assert isinstance(described, str) and described and "{" not in described, (kind, described)


def test_describe_uses_names_and_never_shows_a_secret() -> None:
    names = _Names()
    assert ACTIONS["assign"].describe({"type": "assign", "operator_id": 2, "team_id": 4}, names) == "оператор 2, группа 4"
    assert ACTIONS["escalate"].describe(EXAMPLES["escalate"], names) == "выше по пути эскалации группы: SLA"
    assert ACTIONS["call_webhook"].describe(EXAMPLES["call_webhook"], names) == "https://crm.example/hook · с подписью"
    assert ACTIONS["set_status"].describe({"type": "set_status", "status": "resolved", "reason": "other"}, names) == "статус resolved (причина other)"


class _Shout(AutomationAction):
    """A third party's action: it comes through the entry point, okno is not edited."""

    type = "shout"
    label = Label(en="Shout", ru="Крикнуть")

    class params(ActionParams):  # the attribute the registry reads
        words: str = labelled("Words", "Слова")

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        raise NotImplementedError

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return action["words"].upper()


def test_a_plugin_adds_an_action_through_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {
        "okno.automation_actions": [
            EntryPoint(name="shout", value=f"{__name__}:_Shout", group="okno.automation_actions"),
            EntryPoint(name="not_mine", value=f"{__name__}:_FakeSetPriority", group="okno.automation_actions"),
        ]
    }
    monkeypatch.setattr(registry, "entry_points", lambda group: found.get(group, []))
    loaded = registry._load()
    assert list(loaded)[: len(registry._BUILT_IN)] == [a.type for a in registry._BUILT_IN]
    assert loaded["shout"].describe({"type": "shout", "words": "ау"}, _Names()) == "АУ"
    assert loaded["set_priority"] is ACTIONS["set_priority"]  # a plugin cannot replace a built-in action


class _FakeSetPriority(_Shout):
    type = "set_priority"


async def test_the_api_lists_actions_and_conditions_with_their_schemas(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    listed = (await client.get("/api/v1/automation/actions", headers=admin)).json()["items"]
    assert [a["type"] for a in listed] == list(ACTIONS)
    assign = next(a for a in listed if a["type"] == "assign")
    assert assign["label"] == {"en": "Assign", "ru": "Назначить"}
    assert assign["params_schema"]["properties"]["type"]["const"] == "assign"
    assert assign["params_schema"]["properties"]["team_id"]["x-options"] == "teams"
    conditions = (await client.get("/api/v1/routing/conditions", headers=admin)).json()
    assert [c["field"] for c in conditions["items"]] == list(FIELDS)
    weekday = next(c for c in conditions["items"] if c["field"] == "weekday")
    assert weekday["ops"] == ["in", "not_in"] and weekday["extras"] == ["timezone"]
    assert weekday["condition_schema"]["properties"]["value"]["anyOf"][0]["items"]["enum"][0] == "mon"
    assert conditions["ops"]["matches"]["ru"] == "соответствует регулярному выражению"
    routing = (await client.get("/api/v1/routing/actions", headers=admin)).json()["schema"]
    assert set(routing["properties"]) == {"team_id", "priority", "tags", "sla_policy_id", "skills"}


async def test_openapi_publishes_actions_as_a_discriminated_union_and_conditions_as_a_union(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for model in ("AutomationRuleIn", "AutomationRuleOut"):
        items = schemas[model]["properties"]["actions"]["items"]
        assert items["discriminator"]["propertyName"] == "type"
        assert set(items["discriminator"]["mapping"]) == set(ACTIONS)
        assert len(items["oneOf"]) == len(ACTIONS)
        conditions = schemas[model]["properties"]["conditions"]["items"]["anyOf"]
        assert len(conditions) == len(FIELDS) and all(c["$ref"].endswith("Condition") for c in conditions)
    for model in published_models():
        assert schemas[model.__name__]["properties"]["type"]["const"] in ACTIONS
    assert schemas["WeekdayCondition"]["properties"]["field"]["const"] == "weekday"
    routing = schemas["RoutingRuleIn"]["properties"]["actions"]
    assert routing["properties"]["priority"]["anyOf"][0]["enum"] == [0, 1, 2, 3]
    body = spec["paths"]["/api/v1/automation/rules"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/AutomationRuleIn")


async def test_bad_action_params_are_refused_with_the_reason(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    cases = [
        ({"type": "set_priority", "priority": 7}, "actions[0].priority must be 0, 1, 2 or 3"),
        ({"type": "set_priority", "priority": True}, "actions[0].priority must be 0, 1, 2 or 3"),
        ({"type": "assign", "team_id": 999}, "actions[0].team_id: team 999 does not exist"),
        ({"type": "assign", "operator_id": "Анна"}, "actions[0].operator_id: Input should be a valid integer"),
        ({"type": "assign", "operator_id": 999}, "actions[0].operator_id: operator 999 does not exist"),
        ({"type": "escalate"}, "actions[0].comment must say why (1–2000 characters)"),
        ({"type": "escalate", "comment": "x", "team_id": 999}, "actions[0].team_id: team 999 does not exist (leave it out"),
        ({"type": "add_tags", "tags": "vip"}, "actions[0].tags must be a list of 1–64 character words"),
        ({"type": "add_note", "text": "   "}, "actions[0].text must be 1–2000 characters"),
        ({"type": "set_status", "status": "pending", "reason": "nope"}, "actions[0]: reason 'nope' is unknown"),
        ({"type": "send_canned_answer"}, "actions[0].answer_id is missing"),
        ({"type": "set_status"}, "actions[0].status is missing"),
        ({"type": "call_webhook"}, "actions[0].url must be an http:// or https:// URL with a host"),
        ({"type": "call_webhook", "url": "https://crm.example/hook", "secret": "********"}, "actions[0].secret: must be 16–500"),
        ({"type": "call_webhook", "url": "https://crm.example/hook", "secret": "s3cret"}, "actions[0].secret must be 16–500"),
        ("add_tags", "actions[0].type must be one of: set_priority, set_status"),
    ]
    for action, expected in cases:
        body = {"name": "r", "event": "conversation.opened", "actions": [action]}
        response = await client.post("/api/v1/automation/rules", json=body, headers=admin)
        assert response.status_code == 422 and expected in response.json()["detail"], (action, response.text)
    assert (await client.get("/api/v1/automation/rules", headers=admin)).json()["items"] == []


async def test_what_the_api_returns_can_be_sent_back_unchanged(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    operator = await make_operator(ctx)
    team = (await client.post("/api/v1/teams", json={"name": "Вторая линия"}, headers=admin)).json()
    answer = (await client.post("/api/v1/canned-answers", json={"shortcut": "hi", "language": "ru", "title": "Привет", "body": "Здравствуйте!"},
                                headers=admin)).json()
    actions = [
        {"type": "set_priority", "priority": 2}, {"type": "set_status", "status": "pending", "reason": None}, {"type": "add_tags", "tags": ["vip"]},
        {"type": "assign", "operator_id": operator["id"], "team_id": team["id"]}, {"type": "escalate", "comment": "SLA", "team_id": team["id"]},
        {"type": "add_note", "text": "Заметка"}, {"type": "send_canned_answer", "answer_id": answer["id"]},
        {"type": "call_webhook", "url": "https://crm.example/hook", "secret": "s3cret-signing-key"},
    ]
    created = await client.post("/api/v1/automation/rules", json={"name": "Все", "event": "sla.breached", "actions": actions}, headers=admin)
    assert created.status_code == 201, created.text
    shown = created.json()["actions"]
    assert shown[:-1] == actions[:-1] and shown[-1] == {"type": "call_webhook", "url": "https://crm.example/hook", "secret": "********"}
    again = await client.patch(f"/api/v1/automation/rules/{created.json()['id']}", json={"actions": shown}, headers=admin)
    assert again.status_code == 200 and again.json()["actions"] == shown


async def test_what_a_rule_writes_carries_the_rule_as_its_actor(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    answer = (await client.post("/api/v1/canned-answers", json={"shortcut": "got-it", "language": "ru", "title": "Приняли",
                                                               "body": "Заявка принята."}, headers=admin)).json()
    rule = (await client.post("/api/v1/automation/rules", json={
        "name": "Приём", "event": "conversation.opened",
        "actions": [{"type": "set_priority", "priority": 2}, {"type": "add_note", "text": "Новая заявка"},
                    {"type": "send_canned_answer", "answer_id": answer["id"]}],
    }, headers=admin)).json()
    conversation = await open_conversation(client, ctx, admin)

    async with ctx.db.reading() as session:
        written = list(await session.scalars(select(Message).where(Message.conversation_id == conversation["id"]).order_by(Message.id)))
        entries = list(await session.scalars(select(TimelineEvent).where(TimelineEvent.conversation_id == conversation["id"]).order_by(TimelineEvent.id)))
    by_rule = ("automation", str(rule["id"]))
    assert [(m.direction, m.actor_type, m.actor_ref) for m in written] == [("in", "customer", None), ("note", *by_rule), ("out", *by_rule)]
    assert all(m.author_id is None for m in written)
    kinds = {e.kind: (e.actor_type, e.actor_ref) for e in entries}
    for kind in ("conversation.priority_changed", "note.added", "message.queued", "automation.applied"):
        assert kinds[kind] == by_rule, kind
    assert kinds["conversation.opened"] == ("customer", None)  # what the customer's message caused is not the rule's
    [applied] = await timeline_of(ctx, conversation["id"], "automation.applied")
    assert applied.actor_id is None


async def test_a_failed_rule_is_recorded_as_the_rule_s_and_leaves_nothing_else(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    rule = (await client.post("/api/v1/automation/rules", json={
        "name": "Закрыть", "event": "conversation.opened",
        "actions": [{"type": "add_note", "text": "закрываю"}, {"type": "set_status", "status": "resolved", "reason": "other"}],
    }, headers=admin)).json()
    await client.patch("/api/v1/reasons/other", json={"active": False}, headers=admin)
    conversation = await open_conversation(client, ctx, admin)
    [failed] = await timeline_of(ctx, conversation["id"], "automation.failed")
    assert (failed.actor_type, failed.actor_ref) == ("automation", str(rule["id"]))
    assert await timeline_of(ctx, conversation["id"], "note.added") == []  # the rule's savepoint was rolled back
