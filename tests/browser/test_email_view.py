"""An e-mail in the operator's window, in a real browser: the new text and the subject show, the
quoted history is hidden until «Показать цитату» is clicked and hides again, and the formatted
original opens in a sandboxed frame where nothing runs and the inline image loads from okno."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.steps import keep_settling, sign_in
from tests.channels.email_text.seeding import seed_email
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator


async def test_the_quoted_text_toggle_and_the_formatted_email(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    async with LoopbackServer(app) as okno:
        channel = await make_api_channel(client, headers)
        message_id = await seed_email(ctx, client, channel, name="Анна Петрова")
        operator = await make_operator(ctx, name="Ольга Смирнова")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
            page = await context.new_page()
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Анна Петрова").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Анна Петрова")

            await expect(page.get_by_test_id(f"subject-{message_id}")).to_have_text("Re: Payment not received")
            await expect(page.get_by_test_id(f"email-text-{message_id}")).to_have_text("The order number is 58213.")
            quoted = page.get_by_test_id(f"email-quoted-text-{message_id}")
            toggle = page.get_by_test_id(f"email-quoted-{message_id}").locator("summary")
            await expect(quoted).to_be_hidden()
            await expect(toggle.locator(".when-closed")).to_have_text("Показать цитату")
            await expect(toggle.locator(".when-closed")).to_be_visible()
            await expect(toggle.locator(".when-open")).to_be_hidden()
            await toggle.click()
            await expect(quoted).to_be_visible()
            await expect(quoted).to_contain_text("Подскажите номер заказа.")
            await expect(toggle.locator(".when-open")).to_have_text("Скрыть цитату")
            await expect(toggle.locator(".when-open")).to_be_visible()
            await expect(toggle.locator(".when-closed")).to_be_hidden()
            await toggle.click()
            await expect(quoted).to_be_hidden()

            formatted = page.get_by_test_id(f"email-html-{message_id}")
            await expect(formatted.locator("iframe.html-body")).to_be_hidden()
            await formatted.locator("summary").click()
            frame = page.frame_locator(f'[data-testid="html-body-{message_id}"]')
            await expect(frame.locator("b")).to_have_text("58213")
            await expect(page.locator(f'[data-testid="html-body-{message_id}"]')).to_be_visible()
            await page.wait_for_function(
                "id => document.querySelector(`[data-testid=html-body-${id}]`).getBoundingClientRect().height >= 40", arg=message_id
            )
            src = await frame.locator("img").get_attribute("src")
            assert src == f"/api/v1/messages/{message_id}/attachments/0"
            await asyncio.sleep(0.2)
            assert await page.evaluate("window.__pwned === undefined"), "something in the e-mail ran"
            await context.close()
        finally:
            settling.cancel()
