"""A threaded HTML message in a real browser: its subject, its kind badge, and its sanitised HTML
rendered in a frame where nothing runs."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

HOSTILE_HTML = (
    '<p onclick="window.parent.__pwned = 1">Добрый день! Заказ <b>№ 41</b> пришёл разбитым.</p>'
    "<script>window.parent.__pwned = 2; alert('x')</script>"
    '<img src="data:," onerror="window.parent.__pwned = 3">'
    '<a href="javascript:window.parent.__pwned = 4">подробнее</a>'
)


async def test_an_html_call_summary_is_shown_with_subject_and_badge_and_runs_nothing(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    async with LoopbackServer(app) as okno:
        channel = await make_api_channel(client, headers)
        payload = {
            "message_id": "h1", "from": {"phone": "+79161112233", "name": "Анна Петрова"}, "thread_id": "call-41",
            "kind": "call", "subject": "Звонок о заказе 41", "html": HOSTILE_HTML,
        }
        assert (await post_inbound(client, channel, payload)).status_code == 200
        operator = await make_operator(ctx, name="Ольга Смирнова")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
            page = await context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), asyncio.ensure_future(dialog.dismiss())))
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Анна Петрова").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Анна Петрова")

            bubble = page.locator(".msg-in").first
            await expect(bubble.locator(".subject")).to_have_text("Звонок о заказе 41")
            await expect(bubble.get_by_test_id("kind-badge")).to_have_text("Звонок")
            frame = page.frame_locator("iframe.html-body")
            await expect(frame.locator("b")).to_have_text("№ 41")
            await frame.locator("p").click()
            await frame.locator("a", has_text="подробнее").click()
            await asyncio.sleep(0.3)
            assert await page.evaluate("window.__pwned === undefined"), "something in the message ran"
            assert dialogs == []
            height = await page.locator("iframe.html-body").evaluate("f => f.getBoundingClientRect().height")
            assert height >= 40  # sized to its content
            await context.close()
        finally:
            settling.cancel()
