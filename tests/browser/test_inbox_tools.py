"""The inbox's tools in a real browser: unread markers (per operator, cleared by opening, back
live when the customer writes again), tag chips with a timeline entry and the tag filter, a
saved view in the queues strip, bulk selection with shift-click that changes nothing until its
in-page confirm, and the emoji picker."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import Conversation, Customer, Message
from tests.browser.steps import russian_page, keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def _conversations(ctx) -> dict[str, int]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = await session.execute(select(Customer.name, Conversation.id).join(Customer, Customer.id == Conversation.customer_id))
        return dict(rows.all())


async def _statuses(ctx, ids: list[int]) -> list[str]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(Conversation.status).where(Conversation.id.in_(ids)).order_by(Conversation.id)))


async def test_unread_tags_views_bulk_and_emoji(app, client, ctx, browser) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for n, name in enumerate(["Анна", "Борис", "Вера", "Глеб"]):
        await post_inbound(client, channel, {"message_id": f"t{n}", "from": {"phone": f"+7916123000{n}", "name": name}, "text": f"Вопрос {n}"})
        await ctx.settle()
    ids = await _conversations(ctx)
    me = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            page, errors = await russian_page(browser, okno.url, me["email"], me["password"])

            # unread: every new conversation is marked with its count until I open it
            anna = page.get_by_test_id(f"row-{ids['Анна']}")
            await expect(anna).to_have_class("row unread")
            await expect(page.get_by_test_id(f"unread-{ids['Анна']}")).to_have_text("1")
            await anna.click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Анна")
            await expect(anna).not_to_have_class("row unread active")
            await expect(page.get_by_test_id(f"unread-{ids['Анна']}")).to_have_count(0)
            await page.reload()  # stored on the server, not in the page
            await expect(page.get_by_test_id(f"row-{ids['Анна']}")).to_have_attribute("data-unread", "0")
            await expect(page.get_by_test_id(f"row-{ids['Борис']}")).to_have_attribute("data-unread", "1")
            # Борис writes twice more: his row's count goes up live, without a reload
            await page.mouse.move(1400, 880)
            for n in (1, 2):
                await post_inbound(client, channel, {"message_id": f"b{n}", "from": {"phone": "+79161230001", "name": "Борис"}, "text": f"Алло {n}"})
            await expect(page.get_by_test_id(f"unread-{ids['Борис']}")).to_have_text("3", timeout=10_000)

            # tags: a chip editor on the open conversation; each change is a timeline entry
            await page.get_by_test_id(f"row-{ids['Анна']}").click()
            await page.get_by_test_id("tag-input").fill("Возврат")
            await page.get_by_test_id("tag-input").press("Enter")
            await expect(page.get_by_test_id("tag-возврат")).to_be_visible()
            await expect(page.get_by_test_id("event-tagged")).to_contain_text("возврат")
            await page.get_by_test_id("tag-input").fill("срочно")
            await page.get_by_test_id("tag-input").press("Enter")
            await expect(page.get_by_test_id("tag-срочно")).to_be_visible()
            await page.get_by_test_id("remove-tag-срочно").click()
            await expect(page.get_by_test_id("tag-срочно")).to_have_count(0)
            await expect(page.get_by_test_id("event-untagged")).to_contain_text("срочно")
            # the tag field suggests tags in use
            await page.get_by_test_id("filters").locator("summary").click()
            await page.get_by_test_id("filter-tag").fill("воз")
            await expect(page.locator("#tag-suggestions option[value='возврат']")).to_have_count(1)
            await page.get_by_test_id("filter-tag").fill("возврат")
            await page.get_by_test_id("filter-apply").click()
            await expect(page.locator("#inbox-list a.row")).to_have_count(1)
            await expect(page.get_by_test_id(f"row-{ids['Анна']}")).to_be_visible()
            assert "tag=" in page.url

            # saved view: the filter under a name, in the queues strip
            await page.get_by_test_id("view-name").fill("Возвраты")
            await page.get_by_test_id("save-view").click()
            view = page.get_by_test_id("saved-views").get_by_text("Возвраты")
            await expect(view).to_be_visible()
            await page.get_by_test_id("filter-clear").click()
            await expect(page.locator("#inbox-list a.row")).to_have_count(4)
            await view.click()
            await expect(page.locator("#inbox-list a.row")).to_have_count(1)
            await expect(page.get_by_test_id("filter-tag")).to_have_value("возврат")
            await page.get_by_test_id("queue-all").click()
            await expect(page.locator("#inbox-list a.row")).to_have_count(4)

            # bulk: click one box, shift-click another: the range between them is selected
            rows = [ids[n] for n in ("Анна", "Борис", "Вера", "Глеб")]
            order = [int(x) for x in await page.locator("#inbox-list a.row").evaluate_all("rows => rows.map(r => r.dataset.conversation)")]
            await page.get_by_test_id(f"select-{order[0]}").click()
            await page.get_by_test_id(f"select-{order[2]}").click(modifiers=["Shift"])
            await expect(page.get_by_test_id("bulk-count")).to_contain_text("3")
            await page.get_by_test_id("bulk-action").select_option("resolve")
            await page.get_by_test_id("bulk-reason").select_option("consultation")
            await page.get_by_test_id("bulk-apply").click()
            await expect(page.get_by_test_id("bulk-confirm")).to_be_visible()
            await expect(page.get_by_test_id("bulk-confirm-title")).to_contain_text("3")
            await page.keyboard.press("Escape")  # cancelled: nothing changes
            await page.wait_for_timeout(300)
            assert await _statuses(ctx, rows) == ["open"] * 4
            await page.get_by_test_id("bulk-apply").click()
            await page.get_by_test_id("bulk-comment").fill("закрыты разом")
            await page.get_by_test_id("bulk-confirm-ok").click()
            await expect(page.locator("#inbox-list a.row")).to_have_count(1)
            assert sorted(await _statuses(ctx, rows)) == ["open", "resolved", "resolved", "resolved"]
            await expect(page.get_by_test_id("bulk-count")).to_have_text("")
            # keyboard: "x" selects the focused row, and again unselects it
            last = page.locator("#inbox-list a.row").first
            await last.focus()
            await page.keyboard.press("x")
            await expect(page.get_by_test_id("bulk-count")).to_contain_text("1")
            await page.keyboard.press("x")
            await expect(page.get_by_test_id("bulk-count")).to_have_text("")

            # emoji: a built-in set, inserted at the cursor of the reply box
            left = await page.locator("#inbox-list a.row").first.get_attribute("data-conversation")
            await page.locator("#inbox-list a.row").first.click()
            await expect(page.locator(f"#conversation [data-conversation-id='{left}']")).to_be_visible()
            await page.get_by_test_id("reply-text").fill("Спасибо ")
            await page.get_by_test_id("emoji-picker").locator("summary").click()
            await page.get_by_test_id("emoji-6").click()
            await expect(page.get_by_test_id("reply-text")).to_have_value("Спасибо 👍")
            assert errors == []
    finally:
        settling.cancel()


async def test_a_note_mentions_a_colleague_who_is_notified(app, client, ctx, browser) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+79161239999", "name": "Дарья"}, "text": "Верните деньги"})
    await ctx.settle()
    conversation_id = (await _conversations(ctx))["Дарья"]
    me = await make_operator(ctx, name="Ольга Смирнова")
    peter = await make_operator(ctx, name="Пётр Иванов")
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            his = await (await browser.new_context(locale="ru-RU")).new_page()
            await sign_in(his, okno.url, peter["email"], peter["password"])
            await expect(his.locator("#live-status.on")).to_have_count(1)
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 900})).new_page()
            await sign_in(page, okno.url, me["email"], me["password"])
            await page.get_by_test_id(f"row-{conversation_id}").click()
            await page.get_by_test_id("as-note").check()
            box = page.get_by_test_id("reply-text")
            await box.press_sequentially("Прошу помочь @Пё", delay=20)
            await expect(page.get_by_test_id("mention-option")).to_have_text(["@Пётр Иванов"])
            await box.press("Enter")  # chooses the colleague, sends nothing
            await expect(box).to_have_value("Прошу помочь @Пётр Иванов ")
            await box.press_sequentially("с возвратом", delay=10)
            await box.press("Control+Enter")
            await expect(page.locator(".msg-note", has_text="@Пётр Иванов с возвратом")).to_be_visible()
            await expect(his.locator("#toast")).to_have_text("Коллега упомянул вас в заметке", timeout=10_000)
            async with ctx.db.reading() as session:
                note = await session.scalar(select(Message).where(Message.direction == "note"))
            assert note.content == {"mentions": [peter["id"]]}
    finally:
        settling.cancel()
