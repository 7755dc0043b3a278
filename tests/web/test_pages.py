"""The UI's pages and fragments over HTTP: session cookie, rendering in both languages, live stream."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import update

from okno.models import Conversation, Operator
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

WEB = {"X-Okno-Client": "web"}


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/ui/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert "okno_session" in client.cookies
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


@pytest.mark.real_password_hashing
async def test_pages_need_a_session_and_wrong_passwords_are_refused(client, ctx) -> None:
    assert (await client.get("/inbox")).headers["location"] == "/login"
    assert (await client.get("/")).headers["location"] == "/login"
    assert (await client.get("/ui/inbox/list")).status_code == 401
    login = await client.get("/login")
    assert login.status_code == 200 and 'id="login-form"' in login.text and "Войти" in login.text
    assert "Sign in" in (await client.get("/login?lang=en")).text
    operator = await make_operator(ctx)
    refused = await client.post("/ui/session", json={"email": operator["email"], "password": "wrong password"})
    assert refused.status_code == 401 and "okno_session" not in client.cookies
    async with ctx.db.transaction() as session:  # an account imported with a hash okno can't read
        await session.execute(update(Operator).where(Operator.id == operator["id"]).values(password_hash="{SSHA}not-argon"))
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 401


async def test_the_inbox_shows_a_conversation_in_russian_then_english(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "x1", "from": {"phone": "+79160000001", "name": "Анна"}, "text": "Где заказ 1001?"})
    await ctx.settle()
    operator = await make_operator(ctx, name="Оля")
    await _sign_in(client, operator["email"])

    page = await client.get("/inbox")
    assert page.status_code == 200
    assert "Входящие" in page.text and "Где заказ 1001?" in page.text and "Анна" in page.text
    async with ctx.db.reading() as session:
        from sqlalchemy import select

        conversation_id = await session.scalar(select(Conversation.id))
    fragment = await client.get(f"/ui/conversations/{conversation_id}")
    assert fragment.status_code == 200
    assert "+79160000001" in fragment.text  # the profile panel lists identities
    assert "Ответить через" in fragment.text and "CRM" in fragment.text  # the reply channel is where she wrote

    # a state change authenticated by the cookie alone (no web-client header) is refused: CSRF
    assert (await client.post("/ui/preferences/language", json={"locale": "en"})).status_code == 403
    assert (await client.post("/ui/preferences/language", json={"locale": "de"}, headers=WEB)).status_code == 422
    assert (await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)).status_code == 200
    english = await client.get("/inbox")
    assert "Inbox" in english.text and "Входящие" not in english.text

    # the same cookie drives the JSON API, which the page uses for replies
    reply = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Уже в пути"}, headers=WEB)
    assert reply.status_code == 201, reply.text
    assert (await client.post("/ui/logout", headers=WEB)).status_code == 200
    assert (await client.get("/ui/inbox/counts")).status_code == 401


async def test_the_live_stream_replays_what_a_reconnecting_browser_missed(app, client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    operator = await make_operator(ctx)
    for n in range(3):
        await post_inbound(client, channel, {"message_id": f"s{n}", "from": {"phone": f"+7916000000{n}"}, "text": f"сообщение {n}"})
        await ctx.settle()

    async def first_events(
        browser: httpx.AsyncClient, after: int, wanted: int, topic: str = "", subscribed: asyncio.Event | None = None
    ) -> list[str]:
        lines: list[str] = []
        async with browser.stream("GET", "/ui/stream", headers={"Last-Event-ID": str(after)}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("retry:") and subscribed is not None:  # the stream's first line: it listens
                    subscribed.set()
                if line.startswith("data: ") and topic in line:
                    lines.append(line)
                    if len(lines) == wanted:
                        break
        return lines

    # the bounds are the asyncio.wait_for below (an event arrives, without a reconnect), not httpx's
    # 5 s read timeout, which a loaded machine reached between two events of the stream
    async with LoopbackServer(app) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        await _sign_in(browser, operator["email"])
        # a browser that saw event 1 reconnects: everything after it is replayed, in order
        replayed = await asyncio.wait_for(first_events(browser, 1, 3, topic="message.received"), timeout=20)
        assert [int(line.split('"message_id": ')[1].split(",")[0].rstrip("}")) for line in replayed] == [1, 2, 3]

        # a live event reaches an open stream without a reconnect (posted once the stream has
        # answered, i.e. listens: counting the feed's listeners could count the first stream's,
        # which the server lets go only when it sees the disconnect)
        subscribed = asyncio.Event()
        listening = asyncio.create_task(first_events(browser, 0, 1, topic="message.received", subscribed=subscribed))
        await asyncio.wait_for(subscribed.wait(), timeout=20)
        await post_inbound(client, channel, {"message_id": "live", "from": {"phone": "+79160000009"}, "text": "новое"})
        await ctx.settle()
        live = await asyncio.wait_for(listening, timeout=20)
        assert '"conversation_id"' in live[0]


async def test_sla_deadlines_show_in_the_list_and_the_conversation(client, ctx) -> None:
    from datetime import timedelta

    from okno.kit.time import utcnow

    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for n in range(2):
        await post_inbound(client, channel, {"message_id": f"sla{n}", "from": {"phone": f"+7916555000{n}"}, "text": f"вопрос {n}"})
        await ctx.settle()
    async with ctx.db.transaction() as session:
        from sqlalchemy import select

        late, soon = list(await session.scalars(select(Conversation.id).order_by(Conversation.id)))
        await session.execute(update(Conversation).where(Conversation.id == late).values(sla_due_at=utcnow() - timedelta(minutes=20)))
        await session.execute(update(Conversation).where(Conversation.id == soon).values(sla_due_at=utcnow() + timedelta(hours=2)))
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    listing = (await client.get("/ui/inbox/list?queue=all&sort=sla")).text
    assert listing.index(f'data-conversation="{late}"') < listing.index(f'data-conversation="{soon}"')
    assert "sla breached" in listing
    assert "SLA просрочен на 20" in (await client.get(f"/ui/conversations/{late}")).text
    assert "SLA: осталось 2" in (await client.get(f"/ui/conversations/{soon}")).text


async def test_attachments_show_as_images_players_contacts_and_file_links(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    attachments = [
        {"kind": "image", "url": "https://cdn.example/p.jpg", "name": "чек.jpg"},
        {"kind": "voice", "url": "https://cdn.example/v.ogg", "duration": 7},
        {"kind": "contact", "name": "Анна", "phone": "+79160001122"},
        {"kind": "file", "url": "https://cdn.example/a.pdf", "name": "акт.pdf", "size": 20480},
    ]
    await post_inbound(client, channel, {"message_id": "att", "from": {"phone": "+79160009999"}, "text": "Вот документы", "attachments": attachments})
    await ctx.settle()
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    async with ctx.db.reading() as session:
        from sqlalchemy import select

        from okno.models import Message

        message_id = await session.scalar(select(Message.id))
    page = (await client.get("/inbox")).text
    conversation_id = int(page.split('data-conversation="')[1].split('"')[0])
    html = (await client.get(f"/ui/conversations/{conversation_id}")).text
    assert f'<img class="attachment" src="/api/v1/messages/{message_id}/attachments/0" alt="чек.jpg"' in html
    assert f'<audio controls preload="none" src="/api/v1/messages/{message_id}/attachments/1"' in html and "0:07" in html
    assert "📇 Поделился контактом:" in html and "Анна +79160001122" in html
    assert f'href="/api/v1/messages/{message_id}/attachments/3"' in html and "акт.pdf" in html and "(20 КБ)" in html


async def test_the_admin_page_shows_the_service_process_in_readable_form(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "VIP-линия"}, headers=headers)).json()
    calendar = await client.post(
        "/api/v1/calendars",
        json={"name": "Москва 9–18", "timezone": "Europe/Moscow", "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, "holidays": ["2026-12-31"]},
        headers=headers,
    )
    assert calendar.status_code == 201, calendar.text
    policy = await client.post("/api/v1/sla/policies", json={"name": "VIP", "targets": {"urgent": {"first_response": 90}}, "is_default": True}, headers=headers)
    assert policy.status_code == 201, policy.text
    rule = {
        "name": "Золотые клиенты",
        "conditions": [{"field": "customer.vip_tier", "op": "eq", "value": "gold"}, {"field": "message.text", "op": "matches", "value": "возврат|refund"}],
        "actions": {"team_id": team["id"], "priority": 3, "tags": ["vip"], "sla_policy_id": policy.json()["id"]},
    }
    assert (await client.post("/api/v1/routing/rules", json=rule, headers=headers)).status_code == 201
    automation = {"name": "Эскалация просрочки", "event": "sla.breached", "actions": [{"type": "add_tags", "tags": ["late"]}, {"type": "call_later", "url": "x"}]}
    refused = await client.post("/api/v1/automation/rules", json=automation, headers=headers)
    assert refused.status_code == 422 and "actions[1].type" in refused.json()["detail"]  # what the page shows beside its form
    automation["actions"] = [
        automation["actions"][0],
        {"type": "escalate", "comment": "SLA нарушен"},
        {"type": "call_webhook", "url": "https://crm.example/okno-hook", "secret": "hook-secret-never-shown"},
    ]
    assert (await client.post("/api/v1/automation/rules", json=automation, headers=headers)).status_code == 201

    admin = await make_operator(ctx, role="admin", name="Админ")
    await _sign_in(client, admin["email"])
    assert (await client.get("/admin")).headers["location"] == "/admin/channels"
    sections = [await client.get(f"/admin/{key}") for key in ("statuses", "routing", "calendars", "sla", "automation")]
    assert [s.status_code for s in sections] == [200] * 5

    class page:  # the five sections read as one
        text = "".join(s.text for s in sections)

    for heading in ("Статусы и причины закрытия", "Правила маршрутизации", "Календари рабочего времени", "Политики SLA", "Правила автоматизации"):
        assert heading in page.text
    for form in ("status-form", "reason-form", "routing-form", "calendar-form", "policy-form", "automation-form"):
        assert f'id="{form}"' in page.text
    text = page.text
    assert "Атрибут клиента vip_tier" in text and "<code>gold</code>" in text
    assert "соответствует регулярному выражению" in text and "<code>возврат|refund</code>" in text
    assert "<span class=\"muted\">Группа:</span> VIP-линия" in text and "<span class=\"muted\">Приоритет:</span> Срочный" in text  # names, not ids
    assert "09:00–18:00" in text and "2026-12-31" in text
    assert "1 ч 30 мин" in text  # the 90-minute target, exact
    assert "срок SLA нарушен" in text and "Добавить теги" in text and "late" in text
    assert "выше по пути эскалации группы: SLA нарушен" in text  # an escalation without a team goes one step up
    assert "https://crm.example/okno-hook · с подписью" in text and "hook-secret-never-shown" not in text and "sealed" not in text
    assert '"secret": "********"' in text  # the edit form gets the mask: saved as is, the stored secret is kept

    # the fragment the page re-reads after a change, in the operator's language
    await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)
    fragment = await client.get("/ui/admin/service")
    assert fragment.status_code == 200 and 'data-swap="routing-rules"' in fragment.text
    assert "Customer attribute vip_tier" in fragment.text and "1 hr 30 min" in fragment.text


async def test_operators_may_not_open_the_admin_page_and_supervisors_only_look(client, ctx) -> None:
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    refused = await client.get("/admin")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"] and "для супервайзеров и администраторов" in refused.text
    assert (await client.get("/ui/admin/service")).status_code == 403
    supervisor = await make_operator(ctx, role="supervisor")
    await _sign_in(client, supervisor["email"])
    page = await client.get("/admin/routing")
    assert page.status_code == 200 and "Правила маршрутизации" in page.text
    assert 'id="routing-form"' not in page.text and 'id="calendar-form"' not in (await client.get("/admin/calendars")).text
    assert (await client.post("/api/v1/routing/rules", json={"name": "x", "actions": {"priority": 1}}, headers=WEB)).status_code == 403


def test_the_condition_builder_offers_what_the_routing_rules_accept() -> None:
    """The builder is fed from the condition registry the rules are checked against: every field
    and operator it offers is accepted, in both languages."""
    from okno.routing.conditions import FIELDS
    from okno.routing.matching import checked_conditions
    from okno.web.i18n import Translator
    from okno.web.service_admin import ServiceAdminView, service_context

    empty = ServiceAdminView(*([] for _ in range(10)))
    for locale in ("ru", "en"):
        offered = service_context(Translator(locale), empty)["condition_fields"]
        assert [f["key"] for f in offered["fields"]] == list(FIELDS)
        assert all(f["label"] == FIELDS[f["key"]].label.in_(locale) and set(f["ops"]) <= set(offered["ops"]) for f in offered["fields"])
    for field in FIELDS.values():
        for op in field.ops:
            name = f"{field.key}vip_tier" if field.is_prefix else field.key
            value = {"time_range": ["09:00", "18:00"], "weekdays": ["mon"], "number": 1}.get(field.widget, 1 if op in ("gte", "lte") else "x")
            value = [value] if op in ("in", "not_in") and not isinstance(value, list) else value
            assert checked_conditions([{"field": name, "op": op, "value": value}])[0]["op"] == op


async def test_the_rule_forms_are_generated_from_the_published_schemas(client, ctx) -> None:
    """Every installed action gets its fields from its params schema, labelled in the admin's
    language; the routing form's actions come from RoutingActions the same way."""
    from okno.automation.actions import ACTIONS
    from okno.routing.rules import RoutingActions

    admin = await make_operator(ctx, role="admin", name="Админ")
    await _sign_in(client, admin["email"])
    for locale, note, team in (("ru", "Добавить внутреннюю заметку", "Группа"), ("en", "Add an internal note", "Team")):
        await client.post("/ui/preferences/language", json={"locale": locale}, headers=WEB)
        page = (await client.get("/admin/routing")).text + (await client.get("/admin/automation")).text
        for kind, action in ACTIONS.items():
            assert f'data-action-params="{kind}"' in page and f'<option value="{kind}">{action.label.in_(locale)}</option>' in page
            for name in action.params.model_fields:
                assert f'data-param="{name}"' in page, (kind, name)
        assert f'<option value="add_note">{note}</option>' in page
        routing_form = page[page.index('id="routing-form"'):page.index("</form>", page.index('id="routing-form"'))]
        for name in RoutingActions.model_fields:
            assert f'data-param="{name}" data-type=' in routing_form and f'data-path="actions.{name}"' in routing_form
        assert f"<label>{team}\n" in routing_form and 'data-options="teams"' in routing_form


async def test_a_browser_gets_a_page_for_an_unknown_address_and_api_clients_json(client, ctx) -> None:
    operator = await make_operator(ctx, name="Ольга")
    await _sign_in(client, operator["email"])
    page = await client.get("/inbox/nowhere", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Страница не найдена" in page.text and "Ольга" in page.text and 'href="/inbox"' in page.text
    signed_out = await client.get("/nowhere", headers={"accept": "text/html", "accept-language": "en-US,en", "cookie": ""})
    assert signed_out.status_code == 404 and "Page not found" in signed_out.text
    api = await client.get("/api/v1/nowhere", headers={"accept": "text/html"})  # the API answers JSON, whoever asks
    assert api.status_code == 404 and api.json() == {"detail": "Not Found", "code": "not_found"}
    assert (await client.get("/nowhere")).json() == {"detail": "Not Found", "code": "not_found"}  # not a browser: JSON


async def test_the_list_says_who_answered_last_not_always_you(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    channel = await make_api_channel(client, admin)
    olga, boris = await make_operator(ctx, name="Ольга"), await make_operator(ctx, name="Борис")
    for n in (1, 2):
        await post_inbound(client, channel, {"message_id": f"w{n}", "from": {"phone": f"+7916000880{n}", "name": f"Клиент {n}"}, "text": "Здравствуйте"})
    await ctx.settle()
    conversations = {c["customer_id"]: c["id"] for c in (await client.get("/api/v1/conversations", headers=admin)).json()["items"]}
    first, second = (conversations[k] for k in sorted(conversations))
    for conversation_id, who in ((first, olga), (second, boris)):
        headers = {"Authorization": f"Bearer {(await client.post('/api/v1/auth/login', json={'email': who['email'], 'password': PASSWORD})).json()['access_token']}"}
        sent = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Уже смотрю"}, headers=headers)
        assert sent.status_code in (200, 201), sent.text
    await ctx.settle()
    await _sign_in(client, olga["email"])
    page = (await client.get("/inbox?queue=all")).text
    assert f'data-testid="preview-author-{first}">Вы:' in page
    assert f'data-testid="preview-author-{second}">Борис:' in page


async def test_the_why_panel_names_the_routing_rule_and_what_it_set(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Возвраты"}, headers=admin)).json()
    rule = {"name": "Возвраты товара", "conditions": [{"field": "message.text", "op": "contains", "value": ["вернуть"]}],
            "actions": {"team_id": team["id"], "priority": 2, "tags": ["возврат"]}}
    assert (await client.post("/api/v1/routing/rules", json=rule, headers=admin)).status_code == 201
    channel = await make_api_channel(client, admin)
    await post_inbound(client, channel, {"message_id": "why1", "from": {"phone": "+79160004411"}, "text": "Хочу вернуть чайник"})
    await post_inbound(client, channel, {"message_id": "why2", "from": {"phone": "+79160004412"}, "text": "Просто вопрос"})
    await ctx.settle()
    conversations = {c["customer_id"]: c["id"] for c in (await client.get("/api/v1/conversations", headers=admin)).json()["items"]}
    routed, plain = (conversations[k] for k in sorted(conversations))
    page = (await client.get(f"/ui/conversations/{routed}", headers=admin)).text
    why = page.split('data-testid="why"')[1].split("</details>")[0]
    assert "Почему обращение здесь" in why and "Возвраты товара" in why and "группа Возвраты" in why and "возврат" in why
    assert 'data-testid="why"' not in (await client.get(f"/ui/conversations/{plain}", headers=admin)).text  # nothing to explain
