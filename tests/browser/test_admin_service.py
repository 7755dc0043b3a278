"""An admin sets up the service process on the admin page: a business-hours calendar and an SLA
policy, a routing rule built from conditions, an automation rule — and reads the API's reason
beside the form whenever the input is wrong."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import AutomationRule, BusinessHours, ClosingReason, RoutingRule, SlaPolicy, StatusDefinition
from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_operator


async def test_admin_sets_up_calendar_policy_routing_and_automation(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "VIP-линия"}, headers=headers)).json()
    fallback = {"name": "Все остальные", "actions": {"priority": 1}, "stop": False}
    assert (await client.post("/api/v1/routing/rules", json=fallback, headers=headers)).status_code == 201
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin")
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Статусы и причины закрытия").click()
        await expect(page).to_have_url(f"{okno.url}/admin/statuses")

        # a status of the admin's own (its type still changeable) and a closing reason, switched off
        status = page.get_by_test_id("status-form")
        await status.get_by_label("Ключ").fill("waiting_parts")
        await status.get_by_label("Тип").select_option("on_hold")
        await status.get_by_label("Русский").fill("Ждём запчасти")
        await status.get_by_label("Английский").fill("Waiting for parts")
        await status.get_by_role("button").click()
        await expect(page.get_by_test_id("statuses-table").locator('input[data-label-of="statuses/waiting_parts"][data-lang="ru"]')).to_have_value("Ждём запчасти")  # renamed in place
        await page.get_by_label("Тип: waiting_parts").select_option("pending")
        await expect(page.locator("#toast")).to_have_text("✓")
        reason = page.get_by_test_id("reason-form")
        await reason.get_by_label("Ключ").fill("duplicate")
        await reason.get_by_label("Русский").fill("Дубль")
        await reason.get_by_label("Английский").fill("Duplicate")
        await reason.get_by_role("button").click()
        await expect(page.get_by_test_id("reasons-table").locator('input[data-label-of="reasons/duplicate"][data-lang="ru"]')).to_have_value("Дубль")
        for name in ("Ключ", "Русский", "Английский"):
            await reason.get_by_label(name).fill("duplicate")
        await reason.get_by_role("button").click()
        await expect(page.locator("#reason-form-error")).to_contain_text("Причина 'duplicate' уже есть")
        await page.get_by_label("Используется: Дубль").uncheck()
        await expect(page.get_by_label("Используется: Дубль")).not_to_be_checked()

        # a calendar: a time that does not exist is refused, the Monday field is marked
        await page.goto(f"{okno.url}/admin/calendars")
        calendar = page.get_by_test_id("calendar-form")
        await calendar.get_by_label("Название").fill("Москва 9–18")
        await calendar.get_by_label("Понедельник").fill("09:00–25:00")
        await calendar.get_by_label("Праздники").fill("2026-12-31")
        await calendar.get_by_role("button", name="Добавить календарь").click()
        await expect(page.locator("#calendar-form-error")).to_contain_text("weekly.mon[0]: время не в формате ЧЧ:ММ")
        await expect(calendar.get_by_label("Понедельник")).to_have_attribute("aria-invalid", "true")
        await calendar.get_by_label("Понедельник").fill("09:00–18:00")
        await calendar.get_by_role("button", name="Добавить календарь").click()
        await expect(page.get_by_test_id("calendars-table")).to_contain_text("Москва 9–18")
        await expect(page.locator("#calendar-form-error")).to_be_hidden()
        await expect(calendar.get_by_label("Понедельник")).not_to_have_attribute("aria-invalid", "true")

        # a policy: 60 business minutes to the first reply on urgent conversations, the default
        await page.goto(f"{okno.url}/admin/sla")
        policy = page.get_by_test_id("policy-form")
        await policy.get_by_label("Название").fill("Стандарт")
        await policy.get_by_label("Срочный: Первый ответ").fill("60")
        await policy.get_by_label("Срочный: Решение").fill("480")
        await policy.get_by_label("Политика по умолчанию").check()
        await policy.get_by_role("button", name="Добавить политику").click()
        policies = page.get_by_test_id("policies-table")
        await expect(policies).to_contain_text("Стандарт")
        await expect(policies).to_contain_text("8 ч")
        await page.get_by_test_id("sla-section").screenshot(path=str(SCREENSHOTS / "admin-sla.png"))

        # a routing rule from conditions: a broken regular expression is refused with the reason
        await page.goto(f"{okno.url}/admin/routing")
        routing = page.get_by_test_id("routing-form")
        await routing.get_by_label("Название").fill("VIP")
        await routing.get_by_role("button", name="Добавить условие").click()
        first = routing.locator(".condition").nth(0)
        await first.get_by_label("Поле").select_option(label="Атрибут клиента")
        await first.get_by_label("Атрибут").fill("vip_tier")
        await first.get_by_label("Значение").fill("gold")
        await routing.get_by_role("button", name="Добавить условие").click()
        second = routing.locator(".condition").nth(1)
        await second.get_by_label("Поле").select_option(label="Текст сообщения")
        await second.get_by_label("Оператор").select_option(label="соответствует регулярному выражению")
        await second.get_by_label("Значение").fill("возврат(")
        await routing.get_by_label("Группа").select_option(label="VIP-линия")
        await routing.get_by_label("Приоритет").select_option(label="Срочный")
        await routing.get_by_label("Политика SLA").select_option(label="Стандарт")  # created a moment ago, no reload
        await routing.get_by_role("button", name="Добавить правило маршрутизации").click()
        await expect(page.locator("#routing-form-error")).to_contain_text("conditions[1].value: неверное регулярное выражение")
        await expect(second).to_have_class("condition row-fields invalid")
        await second.get_by_label("Значение").fill("возврат|refund")
        await routing.get_by_role("button", name="Добавить правило маршрутизации").click()
        rules = page.get_by_test_id("routing-table")
        vip_row = rules.locator("tr", has_text="VIP-линия")
        await expect(vip_row).to_contain_text("Атрибут клиента vip_tier равно gold")
        await expect(vip_row).to_contain_text("возврат|refund")
        await expect(vip_row).to_contain_text("Политика SLA: Стандарт")
        await page.get_by_role("button", name="Выше: VIP").click()  # the VIP rule now runs first
        await expect(rules.locator("tr[data-routing-rule]").first).to_contain_text("VIP-линия")
        await page.get_by_test_id("routing-section").screenshot(path=str(SCREENSHOTS / "admin-routing.png"))

        # an automation rule from the fields generated for each action: a wrong webhook URL is refused
        # with the reason and its field is marked; the action's type is then changed in place
        await page.goto(f"{okno.url}/admin/automation")
        automation = page.get_by_test_id("automation-form")
        await automation.get_by_label("Название").fill("Просрочка")
        await automation.get_by_label("Когда").select_option(label="срок SLA нарушен")
        first_action = automation.locator(".action").nth(0)
        await first_action.get_by_label("Действие", exact=True).select_option(label="Добавить теги")
        await first_action.get_by_label("Теги").fill("late, sla")
        await automation.get_by_role("button", name="Добавить действие").click()
        second_action = automation.locator(".action").nth(1)
        await second_action.get_by_label("Действие", exact=True).select_option(label="Вызвать вебхук")
        await second_action.get_by_label("URL").fill("ftp://crm.example/hook")
        await automation.get_by_role("button", name="Добавить правило автоматизации").click()
        await expect(page.locator("#automation-form-error")).to_contain_text("actions[1].url: Нужен адрес http:// или https://")
        await expect(second_action.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
        await second_action.get_by_label("Действие", exact=True).select_option(label="Эскалировать")
        await second_action.get_by_label("Комментарий").fill("SLA")
        await second_action.get_by_label("Группа").select_option(label="VIP-линия")
        await automation.get_by_role("button", name="Добавить правило автоматизации").click()
        automations = page.get_by_test_id("automation-table")
        await expect(automations).to_contain_text("срок SLA нарушен")
        await expect(automations).to_contain_text("Добавить теги: late, sla")  # each action's own describe()
        await expect(automations).to_contain_text("Эскалировать: VIP-линия: SLA")
        await expect(automation.locator(".action")).to_have_count(1)  # the form is ready for the next rule
        await page.get_by_label("Включено: Просрочка").uncheck()
        await expect(page.locator("#toast")).to_have_text("✓")
        await page.get_by_test_id("automation-section").screenshot(path=str(SCREENSHOTS / "admin-automation.png"))

        await page.goto(f"{okno.url}/admin/routing")
        await page.get_by_test_id("routing-table").get_by_role("button", name="Удалить").last.click()  # confirmed
        await expect(rules).not_to_contain_text("Все остальные")

    async with ctx.db.reading() as session:
        assert (await session.get(StatusDefinition, "waiting_parts")).type == "pending"
        assert (await session.get(ClosingReason, "duplicate")).active is False
        hours = await session.scalar(select(BusinessHours))
        assert hours.weekly["mon"] == [["09:00", "18:00"]] and hours.holidays == ["2026-12-31"]
        assert (await session.scalar(select(SlaPolicy))).targets == {"urgent": {"first_response": 60, "resolution": 480}}
        [rule] = (await session.scalars(select(RoutingRule))).all()
        assert rule.name == "VIP" and rule.actions["team_id"] == team["id"] and rule.actions["priority"] == 3
        assert rule.conditions[1] == {"field": "message.text", "op": "matches", "value": "возврат|refund"}
        automation_rule = await session.scalar(select(AutomationRule))
        assert automation_rule.event == "sla.breached" and automation_rule.enabled is False
        assert automation_rule.actions == [
            {"type": "add_tags", "tags": ["late", "sla"]}, {"type": "escalate", "comment": "SLA", "team_id": team["id"]},
        ]
