"""While the operator's tab is in the background, a conversation assigned to him counts in the
tab's title and raises a desktop notification; looking at the tab clears it. "?" shows the keys."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

# the page's visibility and the Notification API, under the test's control
BACKGROUND_TAB = """
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", { get() { return window.__hidden; }, configurable: true });
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push(title); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


async def test_a_background_tab_counts_new_assignments_and_notifies(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "n1", "from": {"phone": "+79160009911", "name": "Нина"}, "text": "Добрый день"})
    await ctx.settle()
    olga = await make_operator(ctx, name="Ольга")
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU")
        await context.add_init_script(BACKGROUND_TAB)
        page = await context.new_page()
        await sign_in(page, okno.url, olga["email"], olga["password"])
        await expect(page.get_by_test_id("live-status")).to_have_class("live on")
        title = await page.title()

        await page.evaluate("window.__hidden = true")
        assigned = await client.post(f"/api/v1/conversations/{conversation['id']}/assign", json={"operator_id": olga["id"]}, headers=headers)
        assert assigned.status_code == 200, assigned.text
        await ctx.settle()
        await expect(page).to_have_title(f"(1) {title}", timeout=5000)
        assert await page.evaluate("window.__notes") == ["Вам назначено обращение"]

        await page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
        await expect(page).to_have_title(title)

        await page.keyboard.press("?")
        await expect(page.get_by_test_id("shortcuts")).to_be_visible()
        await expect(page.get_by_test_id("shortcuts")).to_contain_text("следующее / предыдущее обращение")
        await page.keyboard.press("Escape")
        await expect(page.get_by_test_id("shortcuts")).to_be_hidden()
