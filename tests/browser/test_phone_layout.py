"""The operator window on a phone (390 px): nothing wider than the screen, one pane at a time —
the list, then the conversation with the profile below it, and back."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

PHONE = {"width": 390, "height": 844}


async def _page_width(page) -> int:  # noqa: ANN001
    return await page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


async def test_an_operator_works_a_conversation_on_a_phone(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for n, name in enumerate(("Зоя Телефонова", "Пётр Смартфонов")):
        sent = await post_inbound(client, channel, {"message_id": f"p{n}", "from": {"phone": f"+7916000770{n}", "name": name}, "text": "Где мой заказ 104577?"})
        assert sent.status_code == 200
    await ctx.settle()
    operator = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU", viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await expect(page.locator("#inbox-list .row", has_text="Зоя")).to_be_visible()
        assert await _page_width(page) <= PHONE["width"]
        await expect(page.get_by_test_id("pane-back")).to_be_hidden()

        await page.locator("#inbox-list .row", has_text="Зоя").click()
        await expect(page.get_by_test_id("conversation-title")).to_have_text("Зоя Телефонова")
        await expect(page.get_by_test_id("conversation-title")).to_be_in_viewport()
        await expect(page.get_by_test_id("inbox-list")).to_be_hidden()  # one pane at a time
        await expect(page.get_by_test_id("reply-text")).to_be_visible()
        assert await _page_width(page) <= PHONE["width"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "phone-conversation.png"))
        for control in ("assign-me", "reply-text", "send"):  # within the screen, not cut off at its edge
            box = await page.get_by_test_id(control).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (control, box)
        profile = page.locator(".profile")
        await profile.scroll_into_view_if_needed()
        await expect(profile).to_be_in_viewport()  # the customer's profile below the conversation

        await page.get_by_test_id("pane-back").click()
        await expect(page.get_by_test_id("inbox-list")).to_be_visible()
        await expect(page.get_by_test_id("conversation-title")).to_be_hidden()
        await page.locator("#inbox-list .row", has_text="Пётр").click()
        await expect(page.get_by_test_id("conversation-title")).to_have_text("Пётр Смартфонов")
        await expect(page.get_by_test_id("conversation-title")).to_be_in_viewport()
