"""In Chromium, after the pages' scripts have run: a Russian operator's pages (inbox, conversation,
profile, contacts, admin with every channel kind's form, reports, surveys, supervisor, login, 404)
and the website widget on a Russian shop show no English (tests/web/test_no_english_in_russian.py
holds the checker and its allow-list)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.steps import sign_in
from tests.browser.test_widget_browser import shop_site
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound
from tests.web.test_no_english_in_russian import english_in


async def _english_on(page) -> list[str]:  # noqa: ANN001
    await page.wait_for_load_state("networkidle")
    return english_in(await page.content())


async def test_a_russian_operator_sees_no_english_after_scripts_run(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    sent = await post_inbound(client, channel, {"message_id": "r1", "from": {"phone": "+79160003333", "name": "Зоя Русская"}, "text": "Где мой заказ?"})
    assert sent.status_code == 200
    await ctx.settle()
    admin = await make_operator(ctx, role="admin", name="Анна Админова")
    leaks: dict[str, list[str]] = {}
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU")
        page = await context.new_page()
        await page.goto(f"{okno.url}/login")
        leaks["/login"] = await _english_on(page)
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.locator("#inbox-list .row", has_text="Зоя").click()
        await expect(page.get_by_test_id("conversation-title")).to_have_text("Зоя Русская")
        leaks["/inbox?c="] = await _english_on(page)
        for path in ("/profile", "/contacts", "/reports", "/admin/surveys", "/supervisor", "/admin/audit", "/no-such-page"):
            await page.goto(f"{okno.url}{path}")
            leaks[path] = await _english_on(page)
        await page.goto(f"{okno.url}/admin")
        kinds = page.get_by_test_id("channel-kind")
        await expect(kinds.locator("option").first).to_be_attached()
        for value in await kinds.locator("option").evaluate_all("options => options.map(o => o.value)"):
            await kinds.select_option(value)
            leaks[f"/admin channel form: {value}"] = await _english_on(page)
        await context.close()
    leaks = {url: found for url, found in leaks.items() if found}
    assert leaks == {}, "\n".join(f"{url}:\n  " + "\n  ".join(found) for url, found in leaks.items())


async def test_the_widget_on_a_russian_shop_shows_no_english(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    created = await client.post("/api/v1/channels", headers=headers, json={
        "kind": "widget", "name": "Сайт", "config": {"allowed_origins": [shop_origin], "title": "Поддержка «Пример»"}})
    channel = created.json()
    async with LoopbackServer(app) as okno:
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            context = await browser.new_context(locale="en-US")  # an English browser on a Russian shop: the shop's language wins
            page = await context.new_page()
            await page.goto(f"{shop.url}/product/42")
            await page.get_by_test_id("okno-launcher").click()
            await page.get_by_test_id("okno-contact-toggle").click()
            shadow = await page.evaluate("document.querySelector('[data-okno-chat]').shadowRoot.innerHTML")
            assert "Оставить контакты" in shadow
            assert english_in(shadow) == []
            await context.close()
