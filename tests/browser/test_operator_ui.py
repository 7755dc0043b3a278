"""An operator works a conversation in a real browser: the page never reloads, changes arrive live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from okno.channels.adapters.api.fake import FakeApiReceiver
from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

SECRET = "browser-test-secret-0123"


async def test_operator_answers_assigns_resolves_and_switches_language(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    receiver = FakeApiReceiver()
    receiver.add_box("crm", SECRET)
    async with LoopbackServer(receiver.app) as crm, LoopbackServer(app) as okno:
        channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=f"{crm.url}/boxes/crm/messages")
        await post_inbound(client, channel, {"message_id": "a1", "from": {"phone": "+79161112233", "name": "Анна Петрова"}, "text": "Где мой заказ 1001?"})
        operator = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
        colleague = await make_operator(ctx, name="Борис Орлов")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            context = await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.evaluate("window.__noReload = true")  # survives only if the page is never reloaded

            await expect(page.get_by_test_id("count-unassigned")).to_have_text("1")
            await page.locator("#inbox-list .row", has_text="Анна Петрова").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Анна Петрова")
            await expect(page.get_by_test_id("identities")).to_contain_text("+79161112233")

            # a new message from another customer arrives without a reload
            await post_inbound(client, channel, {"message_id": "b1", "from": {"email": "boris@example.ru", "name": "Борис"}, "text": "Хочу вернуть товар"})
            await expect(page.locator("#inbox-list .row", has_text="Хочу вернуть товар")).to_be_visible(timeout=5000)
            await expect(page.get_by_test_id("count-unassigned")).to_have_text("2")

            # reply: queued, then sent once the CRM accepted it
            await page.get_by_test_id("reply-text").fill("Заказ 1001 уже в пути, курьер привезёт завтра.")
            await page.get_by_test_id("reply-text").press("Control+Enter")
            reply = page.locator(".msg-out", has_text="курьер привезёт завтра")
            await expect(reply).to_be_visible()
            await expect(reply.locator(".delivery")).to_have_attribute("data-status", "sent", timeout=8000)
            assert any("курьер привезёт завтра" in d["body"]["text"] for d in receiver.boxes["crm"].deliveries.values())

            # take it, then transfer it to a colleague
            await page.get_by_test_id("assign-me").click()
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("Ольга Смирнова")
            await expect(page.get_by_test_id("count-mine")).to_have_text("1")
            await page.get_by_test_id("assign-operator").click()  # a menu: the click on an item applies
            await page.get_by_test_id(f"assign-operator-{colleague['id']}").click()
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("Борис Орлов")
            await expect(page.get_by_test_id("count-mine")).to_have_text("0")

            # an internal note stays inside okno
            await page.get_by_test_id("as-note").check()
            await page.get_by_test_id("reply-text").fill("Клиент постоянный, можно предложить скидку")
            await page.get_by_test_id("send").click()
            await expect(page.locator(".msg-note", has_text="можно предложить скидку")).to_be_visible()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

            # resolve: the conversation leaves the open queues
            await page.get_by_test_id("close-reason").select_option("delivery")
            await page.get_by_test_id("resolve").click()
            await expect(page.get_by_test_id("conversation-status")).to_have_text("Решено")
            await expect(page.get_by_test_id("conversation-reason")).to_have_text("Вопрос о доставке")
            await expect(page.get_by_test_id("reopen")).to_be_visible()
            await expect(page.get_by_test_id("count-all")).to_have_text("1")
            await expect(page.locator(".event", has_text="Статус: Открыто → Решено")).to_be_visible()
            await expect(page.locator(".event", has_text="Назначено: Борис Орлов")).to_be_visible()

            assert await page.evaluate("window.__noReload === true"), "the page reloaded while the operator worked"

            # switch the language: the operator's choice is stored (this one reloads the page)
            await page.get_by_test_id("language").select_option("en")
            await expect(page.get_by_role("link", name="Inbox")).to_be_visible()
            await expect(page.get_by_test_id("queue-mine")).to_contain_text("Mine")

            await page.goto(f"{okno.url}/supervisor")
            await expect(page.get_by_test_id("operator-load")).to_contain_text("Борис Орлов")
            await page.wait_for_function("document.querySelector('#volume-chart').width > 0")
            await page.screenshot(path=str(SCREENSHOTS / "supervisor.png"))
            assert errors == []
        finally:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)


async def test_live_updates_resume_after_the_stream_drops(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    operator = await make_operator(ctx, name="Оля")
    async with LoopbackServer(app) as okno:
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await expect(page.get_by_test_id("live-status")).to_have_class("live on")
            await page.context.set_offline(True)
            await post_inbound(client, channel, {"message_id": "while-away", "from": {"phone": "+79160000077", "name": "Вера"}, "text": "Пока вас не было"})
            await page.context.set_offline(False)
            await expect(page.locator("#inbox-list .row", has_text="Пока вас не было")).to_be_visible(timeout=10000)
        finally:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)


async def test_admin_connects_a_channel_from_its_schema_form_and_sees_the_webhook_url(app, client, ctx, browser) -> None:
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.get_by_test_id("presence").select_option("online")
        await page.get_by_role("link", name="Администрирование").click()
        await page.get_by_test_id("channel-kind").select_option("api")
        await page.get_by_test_id("channel-name").fill("Наша CRM")
        await page.get_by_label("Секрет").fill("a-long-enough-shared-secret")
        await page.get_by_label("Адрес для ответов").fill("not a url")
        await page.get_by_test_id("channel-create").click()
        await expect(page.locator("#channel-error")).to_contain_text("Адрес для ответов: ")  # the adapter's validation, naming the field as the form does
        await page.get_by_label("Адрес для ответов").fill("https://crm.example/okno")
        await page.get_by_test_id("channel-create").click()
        row = page.locator("#channel-rows tr", has_text="Наша CRM")
        await expect(row).to_contain_text("/webhooks/")
        await page.screenshot(path=str(SCREENSHOTS / "admin.png"))
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Операторы").click()
        await expect(page.get_by_test_id("operators-table")).to_contain_text("В сети")  # her presence
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Шаблоны ответов").click()
        form = page.get_by_test_id("canned-form")
        await form.get_by_label("Код").fill("privet")
        await form.get_by_label("Заголовок").fill("Приветствие")
        await form.get_by_label("Текст").fill("Здравствуйте, {{ customer.name }}!")
        await form.get_by_role("button").click()
        await expect(page.get_by_test_id("canned-table")).to_contain_text("/privet")
        await form.get_by_label("Код").fill("broken")
        await form.get_by_label("Заголовок").fill("Сломанный")
        await form.get_by_label("Текст").fill("Здравствуйте, {{ customer.name")
        await form.get_by_role("button").click()
        await expect(page.locator("#canned-error")).to_be_visible()
        # what he created he can edit and delete
        await form.get_by_label("Текст").fill("")
        privet = page.locator("#canned-rows tr", has_text="/privet")
        await privet.get_by_role("button", name="Изменить").click()
        await expect(form.get_by_label("Заголовок")).to_have_value("Приветствие")
        await form.get_by_label("Заголовок").fill("Приветствие по имени")
        await form.get_by_role("button", name="Сохранить изменения").click()
        await expect(privet).to_contain_text("Приветствие по имени")
        await expect(page.locator("#canned-rows tr", has_text="/privet")).to_have_count(1)  # changed, not added
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await privet.get_by_role("button", name="Удалить").click()
        await expect(page.locator("#canned-rows tr", has_text="/privet")).to_have_count(0)

        # a team: created, its strategy chosen, the admin made a member
        await page.get_by_test_id("admin-nav").get_by_role("link", name="Группы").click()
        await page.get_by_test_id("team-form").get_by_label("Название").fill("Поддержка")
        await page.get_by_test_id("team-form").get_by_role("button").click()
        team_row = page.locator('tr[data-team]:has(input[value="Поддержка"])')  # its name is a field the admin can rename
        await team_row.get_by_label("Распределение: Поддержка").select_option("least_loaded")
        await team_row.locator(f'input[data-member="{admin["id"]}"]').check()
        await expect(page.locator("#toast")).to_have_text("✓")
    async with ctx.db.reading() as session:
        from sqlalchemy import select

        from okno.models import Channel

        assert (await session.scalars(select(Channel.name))).all() == ["Наша CRM"]
        from okno.models import Team, team_members

        team = await session.scalar(select(Team).where(Team.name == "Поддержка"))
        assert team.assignment_strategy == "least_loaded"
        assert (await session.scalars(select(team_members.c.operator_id).where(team_members.c.team_id == team.id))).all() == [admin["id"]]


async def test_two_operators_see_each_other_in_the_same_conversation(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "c1", "from": {"phone": "+79160001234", "name": "Глеб"}, "text": "Кто мне ответит?"})
    await ctx.settle()
    olga = await make_operator(ctx, name="Ольга")
    boris = await make_operator(ctx, name="Борис")
    async with LoopbackServer(app) as okno:
        pages = []
        for who in (olga, boris):
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})).new_page()
            await sign_in(page, okno.url, who["email"], who["password"])
            await expect(page.get_by_test_id("live-status")).to_have_class("live on")
            await page.locator("#inbox-list .row", has_text="Глеб").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Глеб")
            pages.append(page)
        first, second = pages
        await expect(first.get_by_test_id("collision")).to_contain_text("Борис: смотрит", timeout=15000)
        await second.get_by_test_id("reply-text").press_sequentially("Сейчас отвечу", delay=20)
        await expect(first.get_by_test_id("collision")).to_contain_text("Борис: печатает", timeout=5000)


async def test_a_canned_answer_by_its_short_code_fills_the_reply_box(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "k1", "from": {"phone": "+79160004321", "name": "Дарья"}, "text": "Где мой заказ №104577?"})
    await ctx.settle()
    answer = {
        "shortcut": "dostavka", "language": "ru", "title": "Срок доставки",
        "body": "{{ customer.name }}, заказ {{ order_number }} приедет завтра. {{ operator.name }}",
    }
    assert (await client.post("/api/v1/canned-answers", json=answer, headers=headers)).status_code == 201
    operator = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})).new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.locator("#inbox-list .row", has_text="Дарья").click()
        await page.get_by_test_id("reply-text").press_sequentially("/dost", delay=30)
        menu = page.get_by_test_id("canned-menu")
        await expect(menu).to_contain_text("Срок доставки")
        await page.get_by_test_id("reply-text").press("Enter")
        await expect(page.get_by_test_id("reply-text")).to_have_value("Дарья, заказ 104577 приедет завтра. Ольга")
        await expect(menu).to_be_hidden()

        # a click on the open conversation's own row refreshes it and keeps the half-written reply
        async with page.expect_response(lambda r: "/ui/conversations/" in r.url):
            await page.locator("#inbox-list .row", has_text="Дарья").click()
        await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        await expect(page.get_by_test_id("reply-text")).to_have_value("Дарья, заказ 104577 приедет завтра. Ольга")


async def test_an_operator_snoozes_a_conversation_and_wakes_it_early(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "z1", "from": {"phone": "+79160005555", "name": "Зоя"}, "text": "Жду поставку, напишу позже"})
    await ctx.settle()
    operator = await make_operator(ctx, name="Ольга")  # her zone: the default, Europe/Moscow
    async with LoopbackServer(app) as okno:
        # her browser is in Novosibirsk (UTC+7): "tomorrow 09:00" still means 09:00 in her own zone
        context = await browser.new_context(locale="ru-RU", timezone_id="Asia/Novosibirsk", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.locator("#inbox-list .row", has_text="Зоя").click()
        await expect(page.get_by_test_id("conversation-title")).to_have_text("Зоя")

        await page.get_by_test_id("snooze").click()
        await page.get_by_test_id("snooze-tomorrow").click()
        await expect(page.get_by_test_id("conversation-status")).to_have_text("Отложено")
        await expect(page.get_by_test_id("conversation-snoozed")).to_contain_text("отложено до")
        await expect(page.locator(".timeline [data-kind='conversation.snoozed']")).to_contain_text("Отложено до")
        conversation_id = int(await page.get_by_test_id("conversation").get_attribute("data-conversation-id"))
        snoozed = (await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()
        assert snoozed["status"] == "on_hold" and snoozed["snoozed_until"] is not None
        until = datetime.fromisoformat(snoozed["snoozed_until"])
        moscow = until.astimezone(ZoneInfo("Europe/Moscow"))
        assert until > datetime.now(UTC) + timedelta(hours=1) and (moscow.hour, moscow.minute) == (9, 0)  # her zone, not the browser's
        await expect(page.get_by_test_id("conversation-snoozed")).to_contain_text("09:00")  # and the page says so in her zone

        await page.get_by_test_id("unsnooze").click()
        await expect(page.get_by_test_id("conversation-status")).to_have_text("Открыто")
        await expect(page.get_by_test_id("conversation-snoozed")).to_have_count(0)
        await expect(page.locator(".timeline [data-kind='conversation.snooze_ended']")).to_contain_text("Возвращено досрочно")
