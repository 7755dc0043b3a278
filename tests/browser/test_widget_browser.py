"""A visitor chats through the embedded widget in a real browser; the operator answers through the API."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from okno.models import Message
from tests.browser.screens import SCREENSHOTS
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers



def shop_site(okno_url: str, channel_id: int) -> Starlette:
    page = f"""<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Магазин</title></head>
<body style="font-family:sans-serif;background:#fafafa"><h1>Интернет-магазин «Пример»</h1><p>Робот-пылесос — 24 990 ₽</p>
<script src="{okno_url}/widget/{channel_id}.js" async></script></body></html>"""
    return Starlette(routes=[Route("/product/42", lambda request: HTMLResponse(page))])


async def test_visitor_chats_in_a_browser_and_gets_the_operators_answer(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    channel = (
        await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [shop_origin], "title": "Поддержка «Пример»"}}, headers=headers)
    ).json()
    async with LoopbackServer(app) as okno:
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 720})).new_page()
            await page.goto(f"{shop.url}/product/42?utm_source=newsletter&utm_campaign=spring")
            await page.get_by_test_id("okno-launcher").click()
            await expect(page.get_by_test_id("okno-title")).to_have_text("Поддержка «Пример»")
            await page.get_by_test_id("okno-input").fill("Здравствуйте! Пылесос есть в наличии?")
            await page.get_by_test_id("okno-send").click()
            bubble = page.locator(".msg.visitor", has_text="Пылесос есть в наличии?")
            await expect(bubble).to_be_visible()
            await expect(bubble).not_to_have_class("msg visitor pending")  # acknowledged: stored durably

            await ctx.settle()
            conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
            await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Да, есть! Доставим завтра."}, headers=headers)
            await ctx.settle()
            await expect(page.locator(".msg.agent", has_text="Доставим завтра")).to_be_visible(timeout=5000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "widget.png"))

            for _ in range(50):  # the widget reports delivery and reading
                await ctx.settle()
                async with ctx.db.reading() as session:
                    status = await session.scalar(select(Message.status).where(Message.direction == "out"))
                if status == "read":
                    break
                await asyncio.sleep(0.05)
            assert status == "read"

            await page.reload()  # a reload replays the history from the server
            await page.get_by_test_id("okno-launcher").click()
            await expect(page.locator(".msg.agent", has_text="Доставим завтра")).to_be_visible()
            await expect(page.locator(".msg.visitor", has_text="Пылесос есть в наличии?")).to_have_count(1)

    timeline = (await client.get(f"/api/v1/customers/{conversation['customer_id']}/timeline", headers=headers)).json()["items"]
    context = next(e for e in timeline if e["kind"] == "message.received")["data"]["context"]["widget"]
    assert context["page_url"].startswith(f"{shop_origin}/product/42") and context["utm"] == {"utm_source": "newsletter", "utm_campaign": "spring"}
