"""API refusals speak the request's language and carry a machine ``code`` (okno.api.problems)."""

from __future__ import annotations

import ast
from pathlib import Path

from okno.api.problems import accepted_language
from okno.web.i18n import translations
from tests.factories import PASSWORD, admin_headers, make_operator

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}
SRC = Path(__file__).resolve().parents[2] / "src" / "okno"
ERRORS = {"NotFound", "Invalid", "InvalidIdentity", "Conflict", "Forbidden", "Unauthorized", "TooLarge", "TooManyRequests", "OknoError"}


def test_accept_language_is_ranked_by_quality() -> None:
    assert accepted_language("ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert accepted_language("de;q=1, en;q=0.5, ru;q=0.7") == "ru"
    assert accepted_language("en-GB") == "en"
    assert accepted_language("fr, ru;q=0") is None and accepted_language("") is None


async def test_own_refusals_in_russian_with_a_stable_code(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    english = await client.get("/api/v1/customers/999999", headers=headers)
    russian = await client.get("/api/v1/customers/999999", headers={**headers, **RU})
    assert english.status_code == russian.status_code == 404
    assert english.json() == {"detail": "customer 999999 not found", "code": "not_found"}
    assert russian.json() == {"detail": "Не найдено: клиент 999999", "code": "not_found"}
    unsigned = await client.get("/api/v1/customers", headers=RU)
    assert unsigned.status_code == 401 and unsigned.json() == {"detail": "Нет токена доступа (Bearer)", "code": "unauthorized"}
    operator = await make_operator(ctx)
    login = await client.post("/api/v1/auth/login", json={"email": operator["email"], "password": PASSWORD})
    plain = {"Authorization": f"Bearer {login.json()['access_token']}", **RU}
    refused = await client.get("/api/v1/api-tokens", headers=plain)
    assert refused.status_code == 403 and refused.json() == {"detail": "Нужна роль: admin", "code": "forbidden"}
    missing = await client.get("/api/v1/no-such-thing", headers=RU)
    assert missing.status_code == 404 and missing.json() == {"detail": "Не найдено", "code": "not_found"}


async def test_schema_failures_are_said_by_type_with_russian_plurals(client, ctx) -> None:
    headers = {**await admin_headers(ctx, client), **RU}
    response = await client.post("/api/v1/api-tokens", headers=headers, json={"name": "", "role": 5})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    by_field = {tuple(item["loc"]): item for item in body["detail"]}
    assert by_field[("body", "name")]["msg"] == "Нужен хотя бы 1 символ"
    assert by_field[("body", "name")]["type"] == "string_too_short"  # the machine code beside the words
    english = await client.post("/api/v1/api-tokens", headers={**headers, "Accept-Language": "en"}, json={"name": ""})
    assert "at least 1 character" in english.json()["detail"][0]["msg"]
    missing = await client.post("/api/v1/api-tokens", headers=headers, json={})
    assert {item["msg"] for item in missing.json()["detail"]} == {"Обязательное поле"}


async def test_the_web_ui_hears_the_operators_saved_language(client, ctx) -> None:
    """A call from the web UI (its session cookie) answers in the operator's language, whatever
    the browser's Accept-Language says."""
    admin = await make_operator(ctx, role="admin")
    assert (await client.post("/ui/session", json={"email": admin["email"], "password": PASSWORD})).status_code == 200
    web = {"X-Okno-Client": "web", "Accept-Language": "en-US,en;q=0.9"}
    assert (await client.patch("/api/v1/auth/me", headers=web, json={"locale": "ru"})).status_code == 200
    refused = await client.get("/api/v1/customers/424242", headers=web)
    assert refused.json() == {"detail": "Не найдено: клиент 424242", "code": "not_found"}
    assert (await client.patch("/api/v1/auth/me", headers=web, json={"locale": "en"})).status_code == 200
    refused = await client.get("/api/v1/customers/424242", headers={**web, **RU})
    assert refused.json()["detail"] == "customer 424242 not found"


async def test_a_channel_config_refusal_names_the_field_in_russian(client, ctx) -> None:
    headers = {**await admin_headers(ctx, client), **RU}
    response = await client.post("/api/v1/channels", headers=headers, json={"kind": "api", "name": "x", "config": {"secret": 5}})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith("Неверные настройки канала api: Секрет: ")  # the field as the form names it
    assert "Input should" not in response.json()["detail"]
    english = await client.post("/api/v1/channels", headers={**headers, "Accept-Language": "en"}, json={"kind": "api", "name": "x", "config": {"secret": 5}})
    assert english.json()["detail"].startswith("invalid api channel config: secret: ")


async def test_adapter_checks_of_their_own_are_said_in_russian(client, ctx) -> None:
    """A check an adapter adds (a secret's minimum length, an origin, a phone number, a validator's
    sentence) is said in Russian too, with its values and plural, never "the value is not accepted"."""
    headers = {**await admin_headers(ctx, client), **RU}

    async def refusal(kind: str, config: dict) -> str:
        response = await client.post("/api/v1/channels", headers=headers, json={"kind": kind, "name": "x", "config": config})
        assert response.status_code == 422, response.text
        return response.json()["detail"]

    assert await refusal("telegram", {"bot_token": "1:x", "secret_token": "short"}) == (
        "Неверные настройки канала telegram: Секрет вебхука: Не короче 16 символов: более короткий секрет можно подобрать"
    )
    assert "'shop' — не источник вида https://shop.example" in await refusal("widget", {"allowed_origins": ["shop"]})
    assert "'12ab' — не номер телефона (цифры, можно с +)" in await refusal("novofon", {"api_key": "k", "api_secret": "s" * 20, "numbers": ["12ab"]})
    assert "Нужен адрес e-mail (name@example.com)" in await refusal("email", {"address": "nobody"})


async def test_automation_action_refusals_in_russian(client, ctx) -> None:
    headers = {**await admin_headers(ctx, client), **RU}

    async def refusal(action: dict) -> str:
        rule = {"name": "r", "event": "message.received", "conditions": [], "actions": [action]}
        response = await client.post("/api/v1/automation/rules", headers=headers, json=rule)
        assert response.status_code == 422, response.text
        return response.json()["detail"]

    assert await refusal({"type": "add_note", "text": ""}) == "actions[0].text: Нужно от 1 до 2000 символов"
    assert await refusal({"type": "assign", "team_id": 999}) == "actions[0].team_id: группы 999 нет"
    assert await refusal({"type": "set_priority", "priority": 9}) == "actions[0].priority: Нужно 0, 1, 2 или 3"
    english = await client.post("/api/v1/automation/rules", headers={**headers, "Accept-Language": "en"},
                                json={"name": "r", "event": "message.received", "conditions": [], "actions": [{"type": "assign", "team_id": 999}]})
    assert english.json()["detail"] == "actions[0].team_id: team 999 does not exist"


def _templated_refusals() -> list[tuple[str, str, list[str]]]:
    """(file, template, row kinds) for every ``raise Error("template", name=value)`` in okno."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            named = isinstance(call.func, ast.Name) and call.func.id in ERRORS
            params = [k for k in call.keywords if k.arg not in {"code", "retry_after", "field_errors", None}]
            plural = any(k.arg in ("plural", "ru") for k in call.keywords)  # checked in test_refusals_translated
            if named and params and not plural and call.args and isinstance(call.args[0], ast.Constant):
                kinds = [k.value.value for k in params if k.arg == "what" and isinstance(k.value, ast.Constant)]
                found.append((str(path.relative_to(SRC)), call.args[0].value, kinds))
    return found


def test_every_templated_refusal_has_a_russian_sentence() -> None:
    refusals = _templated_refusals()
    assert len(refusals) > 40
    catalog = translations("ru")
    missing = sorted({t for _f, t, _k in refusals if catalog.gettext(t) == t and not _said_the_same(t)} | {k for *_x, kinds in refusals for k in kinds if catalog.gettext(k) == k})
    assert missing == [], f"add to messages.po: {missing}"


def _said_the_same(template: str) -> bool:
    """A template whose Russian is the same text ("%(problems)s": the parts are said one by one)."""
    from babel.messages.pofile import read_po

    with (SRC / "web/locale/ru/LC_MESSAGES/messages.po").open("rb") as fp:
        message = read_po(fp, locale="ru").get(template)
    return message is not None and message.string == template
