"""The customer's typing indicator: a visitor types in the website widget, the operator who has
his conversation open sees "… is typing…" for a few seconds; nothing is stored."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import func, select

from okno.models import Message
from tests.browser.test_widget_browser import shop_site
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers, make_operator


async def test_operator_sees_the_visitor_typing_and_it_expires(app, client, ctx, browser) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    channel = (
        await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [shop_origin]}}, headers=headers)
    ).json()
    me = await make_operator(ctx, role="admin", name="Ольга")
    async with LoopbackServer(app) as okno:
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            visitor = await (await browser.new_context(locale="ru-RU")).new_page()
            await visitor.goto(f"{shop.url}/product/42")
            await visitor.get_by_test_id("okno-launcher").click()
            await visitor.get_by_test_id("okno-input").fill("Здравствуйте!")
            await visitor.get_by_test_id("okno-send").click()
            await expect(visitor.locator(".msg.visitor", has_text="Здравствуйте")).not_to_have_class("msg visitor pending")
            await ctx.settle()
            conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]

            operator = await (await browser.new_context(locale="ru-RU", viewport={"width": 1300, "height": 800})).new_page()
            await operator.goto(f"{okno.url}/")
            await operator.get_by_label("E-mail").fill(me["email"])
            await operator.get_by_label("Пароль").fill(me["password"])
            await operator.get_by_label("Пароль").press("Enter")
            await operator.wait_for_url(f"{okno.url}/inbox")
            await operator.goto(f"{okno.url}/inbox?c={conversation['id']}")
            typing = operator.get_by_test_id("customer-typing")
            await expect(typing).to_be_hidden()
            await expect(operator.locator("#live-status.on")).to_have_count(1)  # the live stream is connected
            async with ctx.db.reading() as session:
                before = await session.scalar(select(func.count()).select_from(Message))

            # typed over four seconds: the widget sends a typing frame at most every three, and its first one
            # went out with the first message, before there was a conversation to show it in
            await visitor.get_by_test_id("okno-input").press_sequentially("А доставка", delay=400)
            await expect(typing).to_be_visible(timeout=5000)
            await expect(typing).to_contain_text("печатает")
            await expect(typing).to_be_hidden(timeout=10_000)  # expires when the visitor stops
            await ctx.settle()
            async with ctx.db.reading() as session:
                assert await session.scalar(select(func.count()).select_from(Message)) == before  # never a message
