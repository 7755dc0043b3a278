"""A visitor chats through the embedded widget in a real browser; the operator answers through the API."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from okno.channels.adapters.telegram.fake import FakeTelegram
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


async def test_visitor_taps_an_offered_choice_and_it_arrives_as_an_answer(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    config = {"allowed_origins": [shop_origin], "title": "Поддержка «Пример»"}
    channel = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": config}, headers=headers)).json()
    async with LoopbackServer(app) as okno:
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 720})).new_page()
            await page.goto(f"{shop.url}/product/42")
            await page.get_by_test_id("okno-launcher").click()
            await page.get_by_test_id("okno-input").fill("Хочу вернуть пылесос")
            await page.get_by_test_id("okno-send").click()
            await expect(page.locator(".msg.visitor", has_text="вернуть")).not_to_have_class("msg visitor pending")
            await ctx.settle()
            conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
            menu = {"style": "list", "button": "Выбрать причину", "options": [
                {"id": "broken", "title": "Сломался", "description": "Не включается или шумит"},
                {"id": "changed_mind", "title": "Передумал"},
            ]}
            sent = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Почему возвращаете?", "interactive": menu}, headers=headers)
            assert sent.status_code == 201, sent.text
            await ctx.settle()
            choices = page.get_by_test_id("okno-choices")
            await expect(choices.get_by_role("button", name="Выбрать причину")).to_be_visible(timeout=5000)
            await choices.get_by_role("button", name="Выбрать причину").click()
            await expect(choices.get_by_text("Не включается или шумит")).to_be_visible()
            await choices.get_by_role("button", name="Сломался").click()
            await expect(page.locator(".msg.visitor", has_text="Сломался")).not_to_have_class("msg visitor pending")
            await expect(choices).to_have_class("choices list answered")

            for _ in range(50):
                await ctx.settle()
                async with ctx.db.reading() as session:
                    answer = await session.scalar(select(Message).where(Message.kind == "answer"))
                if answer is not None:
                    break
                await asyncio.sleep(0.05)
            assert answer is not None and answer.content["answer"]["option_id"] == "broken" and answer.text == "Сломался"

            await page.reload()  # the replayed history shows the choice already made
            await page.get_by_test_id("okno-launcher").click()
            await expect(page.get_by_test_id("okno-choices")).to_have_class("choices list answered")
            await expect(page.locator(".choice.chosen")).to_have_text("СломалсяНе включается или шумит")


async def test_visitor_confirms_a_typed_phone_with_the_code_from_his_telegram(app, client, ctx, browser) -> None:
    """The code entry of docs/identity-proof.md: the code reaches the customer's Telegram (the fake's
    log), a wrong code is refused with the attempts left, the right one attaches the visitor."""
    headers = await admin_headers(ctx, client)
    fake = FakeTelegram()
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    config = {"allowed_origins": [shop_origin], "title": "Поддержка «Пример»"}
    channel = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": config}, headers=headers)).json()
    async with LoopbackServer(fake.app) as tg, LoopbackServer(app) as okno:
        fake.base_url = tg.url
        telegram = (await client.post("/api/v1/channels", json={"kind": "telegram", "name": "Бот", "config": fake.channel_config()}, headers=headers)).json()
        fake.connect(client, f"/webhooks/{telegram['id']}")
        await fake.deliver_contact("7001", "+7 903 555-01-01", first_name="Пётр")
        customer = (await client.get("/api/v1/customers", params={"identity": "phone:+79035550101"}, headers=headers)).json()["items"][0]
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 720})).new_page()
            await page.goto(f"{shop.url}/product/42")
            await page.get_by_test_id("okno-launcher").click()
            await page.get_by_test_id("okno-contact-toggle").click()
            await page.get_by_label("Телефон").fill("+7 903 555-01-01")
            await page.get_by_role("button", name="Сохранить").click()
            await expect(page.get_by_test_id("okno-verify")).to_be_visible()
            await page.get_by_test_id("okno-verify-send").click()
            await expect(page.locator(".note", has_text="код отправлен в мессенджер")).to_be_visible()
            [code] = re.findall(r"\b(\d{6})\b", fake.sent_texts()[-1])
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "widget-code-entry.png"))

            await page.get_by_test_id("okno-verify-code").fill(f"{(int(code) + 1) % 1_000_000:06d}")
            await page.get_by_test_id("okno-verify-confirm").click()
            await expect(page.locator(".note", has_text="Неверный код. Осталось попыток: 4")).to_be_visible()
            await page.get_by_test_id("okno-verify-code").fill(code)
            await page.get_by_test_id("okno-verify-confirm").click()
            await expect(page.locator(".note", has_text="контакт подтверждён")).to_be_visible()
            await expect(page.get_by_test_id("okno-verify")).to_be_hidden()
            await page.screenshot(path=str(SCREENSHOTS / "widget-verify.png"))
    merges = (await client.get(f"/api/v1/customers/{customer['id']}/merges", headers=headers)).json()["items"]
    assert [m["origin"] for m in merges] == ["verified"]
    web = [i for i in (await client.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()["identities"] if i["kind"] == "web"]
    assert len(web) == 1


async def test_the_chat_speaks_the_shops_language_not_the_browsers(app, client, ctx, browser) -> None:
    """A Russian shop (``<html lang="ru">``) visited from an English browser: the chat's buttons and
    hints are Russian; a channel set to English speaks English on the same page."""
    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"

    async def channel(language: str) -> dict:
        config = {"allowed_origins": [shop_origin], "language": language}
        created = await client.post("/api/v1/channels", json={"kind": "widget", "name": f"Сайт {language}", "config": config}, headers=headers)
        assert created.status_code == 201, created.text
        return created.json()

    auto, english = await channel("auto"), await channel("en")
    async with LoopbackServer(app) as okno:
        for chat, placeholder, contact in ((auto, "Напишите сообщение…", "Оставить контакты"), (english, "Type a message…", "Leave contact details")):
            shop = LoopbackServer(shop_site(okno.url, chat["id"]))
            shop.port, shop.url = shop_port, shop_origin
            shop._server.config.port = shop_port  # noqa: SLF001
            async with shop:
                page = await (await browser.new_context(locale="en-US")).new_page()
                await page.goto(f"{shop.url}/product/42")
                await page.get_by_test_id("okno-launcher").click()
                await expect(page.get_by_test_id("okno-input")).to_have_attribute("placeholder", placeholder)
                await expect(page.get_by_test_id("okno-contact-toggle")).to_have_text(contact)
                await page.close()
