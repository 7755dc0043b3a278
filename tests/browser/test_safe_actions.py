"""Safe actions and complete lists in a real browser, keyboard only: moving through an action menu
changes nothing, Enter applies, undo reverts through the API (recorded on the timeline), ``e``
asks before it resolves; every conversation of a queue is reachable through "load more"."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import Conversation, TimelineEvent
from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def _state(ctx, conversation_id: int) -> tuple[int | None, str, list[str]]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        kinds = list(
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind.like("conversation.%"))
            )
        )
        return conversation.assignee_id, conversation.status, kinds


async def test_keyboard_only_menus_apply_on_enter_and_transfer_and_resolve_can_be_undone(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "s1", "from": {"phone": "+79161230000", "name": "Семён"}, "text": "Где посылка?"})
    await ctx.settle()
    me = await make_operator(ctx, name="Ольга Смирнова")
    anna = await make_operator(ctx, name="Анна Белова")
    boris = await make_operator(ctx, name="Борис Орлов")
    async with ctx.db.reading() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, me["email"], me["password"])
            await page.locator(f"#inbox-list .row[data-conversation='{conversation_id}']").focus()
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Семён")
            before = await _state(ctx, conversation_id)

            # «Передать…»: the arrow keys open the menu and move through it; nothing is applied
            transfer = page.get_by_test_id("assign-operator")
            await transfer.focus()
            await page.keyboard.press("ArrowDown")
            menu = page.get_by_test_id("assign-operator-menu")
            await expect(menu).to_be_visible()
            for key in ["ArrowDown", "ArrowDown", "ArrowUp", "End", "Home", "ArrowDown"]:
                await page.keyboard.press(key)
            await page.wait_for_timeout(400)  # time enough for a request the keys might have sent
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "action-menu.png"))
            assert await _state(ctx, conversation_id) == before
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("не назначено")
            # the customer writes meanwhile: the live refresh redraws the pane, the menu stays open
            # and the operator's focus stays on the item he was on
            focused_item = await page.evaluate("document.activeElement.dataset.menuValue")
            await post_inbound(client, channel, {"message_id": "s2", "from": {"phone": "+79161230000", "name": "Семён"}, "text": "Алло, вы тут?"})
            await expect(page.locator(".timeline", has_text="Алло, вы тут?")).to_be_visible(timeout=5000)
            await expect(menu).to_be_visible()
            assert await page.evaluate("document.activeElement.dataset.menuValue") == focused_item
            before = await _state(ctx, conversation_id)
            # Escape closes it, focus returns to the button, still nothing applied
            await page.keyboard.press("Escape")
            await expect(menu).to_be_hidden()
            await expect(transfer).to_be_focused()
            # Tab away from an open menu: closed, nothing applied
            await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Tab")
            await expect(menu).to_be_hidden()
            assert await _state(ctx, conversation_id) == before

            # Enter on an item applies it
            await transfer.focus()
            await page.keyboard.press("ArrowDown")
            target = menu.get_by_role("menuitem", name="Борис Орлов")
            while not await target.evaluate("el => el === document.activeElement"):
                await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("Борис Орлов")
            assert (await _state(ctx, conversation_id))[0] == boris["id"]

            # undo the transfer: back to nobody, both changes on the timeline, the undo named
            undo = page.get_by_test_id("undo-bar")
            await expect(undo).to_be_visible()
            await expect(page.get_by_test_id("undo-text")).to_have_text("Передано: Борис Орлов")
            await page.screenshot(path=str(SCREENSHOTS / "undo.png"))
            await page.get_by_test_id("undo").focus()
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("не назначено")
            await expect(undo).to_be_hidden()
            assignee, status, kinds = await _state(ctx, conversation_id)
            assert assignee is None and kinds.count("conversation.assigned") == 2
            await expect(page.locator(".event[data-kind='conversation.assigned']").last).to_contain_text("Отмена предыдущего действия")

            # the status menu: arrows change nothing either
            await page.get_by_test_id("set-status").focus()
            await page.keyboard.press("ArrowDown")
            await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Escape")
            await page.wait_for_timeout(300)
            assert (await _state(ctx, conversation_id))[1] == "open"

            # "e" asks; Escape keeps it open
            await page.locator("body").click(position={"x": 5, "y": 400})
            await page.keyboard.press("e")
            confirm = page.get_by_test_id("resolve-confirm")
            await expect(confirm).to_be_visible()
            await expect(page.get_by_test_id("resolve-confirm-ok")).to_be_focused()
            await page.keyboard.press("Escape")
            await expect(confirm).to_be_hidden()
            await page.wait_for_timeout(300)
            assert (await _state(ctx, conversation_id))[1] == "open"
            # "e" then Enter resolves; undo reopens it
            await page.keyboard.press("e")
            await expect(confirm).to_be_visible()
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("conversation-status")).to_have_text("Решено")
            await expect(page.get_by_test_id("undo-text")).to_have_text("Обращение решено")
            await page.get_by_test_id("undo").click()
            await expect(page.get_by_test_id("conversation-status")).to_have_text("Открыто")
            _, status, kinds = await _state(ctx, conversation_id)
            assert status == "open" and kinds.count("conversation.status_changed") == 2
            await expect(page.locator(".event[data-kind='conversation.status_changed']").last).to_contain_text("Решено → Открыто")
            assert anna["id"] not in {(await _state(ctx, conversation_id))[0]}
            assert errors == []
    finally:
        settling.cancel()
        await asyncio.gather(settling, return_exceptions=True)


async def test_every_conversation_of_a_queue_is_reachable_with_load_more(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for n in range(57):
        sender = {"phone": f"+7916555{n:04d}", "name": f"Клиент {n:02d}"}
        assert (await post_inbound(client, channel, {"message_id": f"p{n}", "from": sender, "text": f"Вопрос {n}"})).status_code == 200
    await ctx.settle()
    me = await make_operator(ctx, name="Ольга")
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})).new_page()
            await sign_in(page, okno.url, me["email"], me["password"])
            rows = page.locator("#inbox-list a.row")
            await expect(rows).to_have_count(50)
            await expect(page.get_by_test_id("list-total")).to_have_text("50 из 57 обращений")
            await expect(page.get_by_test_id("count-all")).to_have_text("57")
            more = page.get_by_test_id("load-more")
            await more.focus()
            await page.keyboard.press("Enter")
            await expect(rows).to_have_count(57)
            await expect(page.get_by_test_id("list-total")).to_have_text("57 из 57 обращений")
            await expect(more).to_have_count(0)
            await expect(page.locator("#inbox-list a.row", has_text="Клиент 56")).to_be_visible()  # the newest one too
            await expect(page.locator("#inbox-list a.row", has_text="Клиент 50")).to_be_focused()  # the keyboard goes on there
            # a live update keeps every loaded row and adds the new one: the whole list is loaded,
            # so its row goes in at its place (the end: it waits the least), without a list read
            lists: list[str] = []
            page.on("request", lambda r: lists.append(r.url) if "/ui/inbox/list" in r.url else None)
            await post_inbound(client, channel, {"message_id": "p-new", "from": {"phone": "+79165559999", "name": "Новый"}, "text": "Только что"})
            await expect(page.get_by_test_id("list-total")).to_have_text("58 из 58 обращений", timeout=5000)
            await expect(rows).to_have_count(58)
            await expect(rows.last).to_contain_text("Новый")
            await expect(page.get_by_test_id("load-more")).to_have_count(0)
            assert lists == []
    finally:
        settling.cancel()
        await asyncio.gather(settling, return_exceptions=True)
