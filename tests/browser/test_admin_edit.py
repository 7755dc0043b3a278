"""An admin edits, disables and deletes what he created, section by section: channels (the widget
shows its <script> tag with a copy button), operators, teams, calendars, SLA policies, routing
and automation rules — and reads in Russian why okno keeps what history still names. An operator
who opens the administration gets a page that says it is not for him."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import AutomationRule, BusinessHours, ClosingReason, Operator, RoutingRule, SlaPolicy, StatusDefinition, Team
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator
from tests.service.helpers import open_conversation


async def _admin_page(browser, okno, admin):  # noqa: ANN001, ANN202
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # every "Delete …?" is confirmed
    await sign_in(page, okno.url, admin["email"], admin["password"])
    return page


async def test_admin_deletes_channels_operators_and_teams_unless_history_names_them(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    spare = await make_api_channel(client, headers)
    await client.patch(f"/api/v1/channels/{spare['id']}", json={"name": "Лишний"}, headers=headers)
    used = await make_api_channel(client, headers)
    await client.patch(f"/api/v1/channels/{used['id']}", json={"name": "Рабочий"}, headers=headers)
    conversation = await open_conversation(client, ctx, headers, channel=used)
    widget = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": ["*"]}}, headers=headers)).json()
    olga = await make_operator(ctx, name="Ольга")
    ivan = await make_operator(ctx, name="Иван")
    await client.post(f"/api/v1/conversations/{conversation['id']}/assign", json={"operator_id": ivan["id"]}, headers=headers)
    team = (await client.post("/api/v1/teams", json={"name": "Склад"}, headers=headers)).json()
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await _admin_page(browser, okno, admin)
        await page.goto(f"{okno.url}/admin")
        await expect(page).to_have_url(f"{okno.url}/admin/channels")

        # the website chat: the tag to paste, not a webhook URL, and a button that copies it
        site = page.locator(f'#channel-rows tr[data-channel="{widget["id"]}"]')
        await expect(site.get_by_test_id("channel-embed")).to_contain_text(f'<script src="{okno.url}/widget/{widget["id"]}.js" async></script>')
        await expect(site).not_to_contain_text("/webhooks/")
        await site.get_by_test_id("embed-copy").click()
        await expect(site.get_by_test_id("embed-copy")).to_have_text("Скопировано")
        assert await page.evaluate("navigator.clipboard.readText()") == f'<script src="{okno.url}/widget/{widget["id"]}.js" async></script>'

        await page.locator(f'#channel-rows tr[data-channel="{spare["id"]}"]').get_by_role("button", name="Удалить").click()
        await expect(page.locator(f'#channel-rows tr[data-channel="{spare["id"]}"]')).to_have_count(0)
        await page.locator(f'#channel-rows tr[data-channel="{used["id"]}"]').get_by_role("button", name="Удалить").click()
        await expect(page.locator("#toast")).to_contain_text("По каналу «Рабочий» шли сообщения; отключите его: история останется")
        await expect(page.locator(f'#channel-rows tr[data-channel="{used["id"]}"]')).to_have_count(1)

        # operators: a name and e-mail corrected, an unused account deleted, one with history kept
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Операторы").click()
        olga_row = page.locator(f'tr[data-operator="{olga["id"]}"]')
        await olga_row.get_by_role("button", name="Изменить").click()
        form = page.get_by_test_id("operator-form")
        await expect(form.get_by_label("Пароль")).to_be_hidden()
        await form.locator("input[name=name]").fill("Ольга Петрова")
        await form.get_by_label("E-mail").fill("olga.petrova@okno.test")
        await form.get_by_role("button", name="Сохранить изменения").click()
        await expect(olga_row).to_contain_text("olga.petrova@okno.test")
        await expect(olga_row).to_contain_text("Ольга Петрова")
        await olga_row.get_by_role("button", name="Удалить").click()
        await expect(olga_row).to_have_count(0)
        await page.locator(f'tr[data-operator="{ivan["id"]}"]').get_by_role("button", name="Удалить").click()
        await expect(page.locator("#toast")).to_contain_text("У оператора Иван есть обращения; деактивируйте его: история сохранит имя")

        # teams: renamed in place, then deleted
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Группы").click()
        await page.get_by_label("Название группы: Склад").fill("Склад и возвраты")
        await page.get_by_label("Название группы: Склад").press("Tab")
        await expect(page.locator("#toast")).to_have_text("✓")
        await page.reload()
        team_row = page.locator(f'tr[data-team="{team["id"]}"]')
        await expect(team_row.get_by_label("Название группы: Склад и возвраты")).to_have_value("Склад и возвраты")
        await team_row.get_by_role("button", name="Удалить").click()
        await expect(team_row).to_have_count(0)

        await page.get_by_test_id("admin-nav").get_by_role("link", name="Журнал аудита").click()
        table = page.get_by_test_id("audit-table")
        for done in ("удалил канал", "переименовал оператора", "изменил e-mail оператора", "удалил оператора", "изменил группу", "удалил группу"):
            await expect(table).to_contain_text(done)

    async with ctx.db.reading() as session:
        assert await session.get(Operator, olga["id"]) is None and await session.get(Operator, ivan["id"]) is not None
        assert await session.get(Team, team["id"]) is None


async def test_admin_edits_calendars_policies_and_rules_and_disables_a_policy_in_use(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    calendar = (await client.post("/api/v1/calendars", json={"name": "Офис", "timezone": "Europe/Moscow", "weekly": {"mon": [["09:00", "18:00"]]}, "holidays": []}, headers=headers)).json()
    standard = (await client.post("/api/v1/sla/policies", json={"name": "Стандарт", "targets": {"normal": {"first_response": 60}}, "is_default": True}, headers=headers)).json()
    draft = (await client.post("/api/v1/sla/policies", json={"name": "Черновик", "targets": {"urgent": {"first_response": 5}}}, headers=headers)).json()
    await open_conversation(client, ctx, headers)  # its deadline is counted by the default policy: history
    routing = {"name": "VIP", "conditions": [{"field": "customer.vip_tier", "op": "eq", "value": "gold"}], "actions": {"priority": 3}, "stop": True}
    rule = (await client.post("/api/v1/routing/rules", json=routing, headers=headers)).json()
    automation = {"name": "Просрочка", "event": "sla.breached", "actions": [{"type": "add_tags", "tags": ["late"]}]}
    auto = (await client.post("/api/v1/automation/rules", json=automation, headers=headers)).json()
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await _admin_page(browser, okno, admin)

        # a status's and a reason's names are edited in place
        await page.goto(f"{okno.url}/admin/statuses")
        await page.locator('input[data-label-of="statuses/pending"][data-lang="en"]').fill("Waiting for the customer")
        async with page.expect_response(lambda r: "/ui/admin/service" in r.url) as refreshed:  # the lists are drawn again after a save
            async with page.expect_response(lambda r: r.url.endswith("/api/v1/statuses/pending") and r.request.method == "PATCH") as saved:
                await page.locator('input[data-label-of="statuses/pending"][data-lang="en"]').press("Tab")
        assert (await saved.value).status == 200 and (await refreshed.value).ok
        await page.wait_for_load_state("networkidle")  # typed into the redrawn table, not the one being replaced
        reason = page.get_by_test_id("reasons-table").locator("input[data-lang=ru]").first
        reason_key = (await reason.get_attribute("data-label-of") or "").split("/")[1]
        await reason.fill("Решено по телефону")
        async with page.expect_response(lambda r: f"/api/v1/reasons/{reason_key}" in r.url and r.request.method == "PATCH") as saved:
            await reason.press("Tab")
        assert (await saved.value).status == 200

        # a calendar: "Edit" fills the form with what is stored; Friday added, then deleted
        await page.goto(f"{okno.url}/admin/calendars")
        await page.get_by_role("button", name="Изменить: Офис").click()
        form = page.get_by_test_id("calendar-form")
        await expect(form.get_by_label("Понедельник")).to_have_value("09:00–18:00")
        await expect(form.get_by_label("Название")).to_have_value("Офис")
        await form.get_by_label("Пятница").fill("10:00–16:00")
        await form.get_by_role("button", name="Сохранить изменения").click()
        calendars = page.get_by_test_id("calendars-table")
        await expect(calendars).to_contain_text("10:00–16:00")
        await expect(form.get_by_role("button", name="Добавить календарь")).to_be_visible()  # back to adding
        await calendars.get_by_role("button", name="Удалить").click()
        await expect(calendars).to_contain_text("Календарей пока нет.")

        # policies: one edited and deleted; the one deadlines were counted by is switched off instead
        await page.goto(f"{okno.url}/admin/sla")
        await page.get_by_role("button", name="Изменить: Черновик").click()
        form = page.get_by_test_id("policy-form")
        await expect(form.get_by_label("Срочный: Первый ответ")).to_have_value("5")
        await form.get_by_label("Название").fill("Черновик 2")
        await form.get_by_label("Срочный: Первый ответ").fill("7")
        await form.get_by_role("button", name="Сохранить изменения").click()
        policies = page.get_by_test_id("policies-table")
        draft_row = policies.locator(f'tr[data-policy="{draft["id"]}"]')
        await expect(draft_row).to_contain_text("Черновик 2")
        await expect(draft_row).to_contain_text("7 мин")
        await draft_row.get_by_role("button", name="Удалить").click()
        await expect(draft_row).to_have_count(0)
        standard_row = policies.locator(f'tr[data-policy="{standard["id"]}"]')
        await standard_row.get_by_role("button", name="Удалить").click()
        await expect(page.locator("#toast")).to_contain_text("По политике SLA «Стандарт» уже считались сроки обращений; отключите её вместо удаления")
        await page.get_by_label("Используется: Стандарт").uncheck()
        await expect(policies.locator(f'tr[data-policy="{standard["id"]}"]')).to_have_class("muted")
        await expect(page.get_by_label("По умолчанию: Стандарт")).not_to_be_checked()

        # a routing rule: its conditions and actions back in the form, one value changed
        await page.goto(f"{okno.url}/admin/routing")
        await page.get_by_role("button", name="Изменить: VIP").click()
        form = page.get_by_test_id("routing-form")
        await expect(form.locator("h3")).to_have_text("Правка правила маршрутизации")
        condition = form.locator(".condition").nth(0)
        await expect(condition.get_by_label("Атрибут")).to_have_value("vip_tier")
        await expect(condition.get_by_label("Значение")).to_have_value("gold")
        await expect(form.get_by_label("Приоритет")).to_have_value("3")
        await condition.get_by_label("Значение").fill("platinum")
        await form.get_by_role("button", name="Сохранить изменения").click()
        await expect(page.get_by_test_id("routing-table")).to_contain_text("Атрибут клиента vip_tier равно platinum")
        await expect(page.get_by_test_id("routing-table").locator("tr[data-routing-rule]")).to_have_count(1)

        # an automation rule: its actions back in their rows, a tag added
        await page.goto(f"{okno.url}/admin/automation")
        await page.get_by_role("button", name="Изменить: Просрочка").click()
        form = page.get_by_test_id("automation-form")
        await expect(form.locator(".action")).to_have_count(1)
        await expect(form.get_by_label("Теги")).to_have_value("late")
        await form.get_by_label("Теги").fill("late, vip")
        await form.get_by_role("button", name="Сохранить изменения").click()
        await expect(page.get_by_test_id("automation-table")).to_contain_text("Добавить теги: late, vip")

    async with ctx.db.reading() as session:
        assert (await session.get(StatusDefinition, "pending")).label["en"] == "Waiting for the customer"
        assert (await session.get(ClosingReason, reason_key)).label["ru"] == "Решено по телефону"
        assert await session.scalar(select(BusinessHours).where(BusinessHours.id == calendar["id"])) is None
        assert await session.get(SlaPolicy, draft["id"]) is None
        kept = await session.get(SlaPolicy, standard["id"])
        assert kept.is_active is False and kept.is_default is False
        assert (await session.get(RoutingRule, rule["id"])).conditions[0]["value"] == "platinum"
        assert (await session.get(AutomationRule, auto["id"])).actions == [{"type": "add_tags", "tags": ["late", "vip"]}]


async def test_an_operator_opening_the_administration_gets_a_page_not_json(app, ctx, browser) -> None:
    operator = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU")).new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        for path in ("/admin", "/admin/sla", "/admin/audit"):
            response = await page.goto(f"{okno.url}{path}")
            assert response is not None and response.status == 403
            await expect(page.get_by_test_id("error-page")).to_contain_text("Недоступно")
            await expect(page.get_by_role("link", name="Вернуться во входящие")).to_be_visible()
        await expect(page.get_by_test_id("error-page")).to_contain_text("Эта страница — для администраторов.")
        await page.goto(f"{okno.url}/admin/sla")
        await expect(page.get_by_test_id("error-page")).to_contain_text("Эта страница — для супервайзеров и администраторов.")
        await page.get_by_role("link", name="Вернуться во входящие").click()
        await expect(page).to_have_url(f"{okno.url}/inbox")
        missing = await page.goto(f"{okno.url}/admin/no-such-section")
        assert missing is not None and missing.status == 404
        await expect(page.get_by_test_id("error-page")).to_contain_text("Страница не найдена")
