"""An operator attaches files in the reply box (picker), sees a refused file's reason, and sends a
WhatsApp template when the reply window has closed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from playwright.async_api import expect
from sqlalchemy import update

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.kit.time import utcnow
from okno.models import Message
from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import make_operator
from tests.files.helpers import channel_with_fake, tiny_png


async def test_operator_attaches_a_photo_and_sees_an_upload_refused(app, client, ctx, browser, tmp_path) -> None:
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as provider, LoopbackServer(app) as okno:
        fake.base_url = provider.url
        await channel_with_fake(client, ctx, "telegram", fake)
        await fake.deliver_text("700000101", "Пришлите, пожалуйста, фото чека", first_name="Анна")
        operator = await make_operator(ctx, name="Ольга")
        photo = tmp_path / "чек.png"
        photo.write_bytes(tiny_png())
        fake_image = tmp_path / "virus.png"
        fake_image.write_bytes(b"MZ" + b"\0" * 300)
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Анна").click()

            await page.get_by_test_id("attach-files").set_input_files(str(fake_image))
            await expect(page.get_by_test_id("reply-attachments")).to_contain_text("virus.png")
            await page.screenshot(path=str(SCREENSHOTS / "reply-attachments.png"))
            await page.get_by_test_id("send").click()
            await expect(page.locator("#toast")).to_contain_text("Файл не отправлен")
            await expect(page.locator("#toast")).to_contain_text("исполняемые файлы не принимаются")
            await page.locator("[data-remove-file='0']").click()
            await expect(page.get_by_test_id("reply-attachments")).not_to_contain_text("virus.png")

            await page.get_by_test_id("attach-files").set_input_files(str(photo))
            await page.get_by_test_id("reply-text").fill("Вот чек")
            await page.get_by_test_id("send").click()
            await expect(page.locator(".msg-out img.attachment")).to_be_visible(timeout=5000)
            await expect(page.locator(".msg-out .delivery").last).to_have_attribute("data-status", "sent", timeout=5000)
            assert [(u["method"], u["caption"], u["content"]) for u in fake.uploads] == [("sendPhoto", "Вот чек", tiny_png())]
            assert await page.get_by_test_id("reply-attachments").inner_text() == ""
            assert errors == []
        finally:
            settling.cancel()


async def test_operator_sends_a_template_when_the_window_has_closed(app, client, ctx, browser) -> None:
    fake = FakeWhatsApp()
    fake.templates = {("order_ready", "ru"): 1}
    async with LoopbackServer(fake.app) as provider, LoopbackServer(app) as okno:
        fake.base_url = provider.url
        config = fake.channel_config() | {"templates": [{"name": "order_ready", "language": "ru", "body_parameters": 1, "preview": "Заказ {{1}} готов."}]}
        fake.channel_config = lambda: config  # type: ignore[method-assign]
        await channel_with_fake(client, ctx, "whatsapp", fake)
        await fake.deliver_text("79160000101", "Когда заказ?", name="Пётр")
        await ctx.settle()
        async with ctx.db.transaction() as session:
            await session.execute(update(Message).values(created_at=utcnow() - timedelta(days=2)))
        operator = await make_operator(ctx, name="Ольга")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Пётр").click()
            await expect(page.get_by_test_id("template-picker")).to_be_visible()
            await expect(page.get_by_test_id("reply-text")).to_be_disabled()
            await page.get_by_test_id("template-param-1").fill("A-7")
            await expect(page.get_by_test_id("template-preview")).to_have_text("Заказ A-7 готов.")
            await page.screenshot(path=str(SCREENSHOTS / "reply-template.png"))
            await page.get_by_test_id("send").click()
            await expect(page.locator(".msg-out .text").last).to_have_text("Заказ A-7 готов.", timeout=5000)
            await expect(page.locator(".msg-out .delivery").last).to_have_attribute("data-status", "sent", timeout=5000)
            assert fake.sent[-1]["body"]["template"]["components"][0]["parameters"] == [{"type": "text", "text": "A-7"}]
        finally:
            settling.cancel()


async def test_a_website_visitor_sees_the_picture_and_the_document_an_operator_sent(app, client, ctx, browser) -> None:
    from tests.browser.test_widget_browser import shop_site
    from tests.conftest import free_port
    from tests.factories import admin_headers
    from tests.files.helpers import send_files, tiny_pdf

    headers = await admin_headers(ctx, client)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    channel = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [shop_origin]}}, headers=headers)).json()
    async with LoopbackServer(app) as okno:
        shop = LoopbackServer(shop_site(okno.url, channel["id"]))
        shop.port, shop.url = shop_port, shop_origin
        shop._server.config.port = shop_port  # noqa: SLF001
        async with shop:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            await page.goto(f"{shop.url}/product/42")
            await page.get_by_test_id("okno-launcher").click()
            await page.get_by_test_id("okno-input").fill("Пришлите фото и инструкцию")
            await page.get_by_test_id("okno-send").click()
            await expect(page.locator(".msg.visitor", has_text="инструкцию")).not_to_have_class("msg visitor pending")
            await ctx.settle()
            conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
            files = [("фото.png", tiny_png(8, 8), "image/png"), ("инструкция.pdf", tiny_pdf(), "application/pdf")]
            assert (await send_files(client, headers, conversation["id"], files, text="Держите")).status_code == 201
            await ctx.settle()
            answer = page.locator(".msg.agent", has_text="Держите")
            await expect(answer).to_be_visible(timeout=5000)
            picture = answer.locator("img")
            await expect(picture).to_have_attribute("alt", "фото.png")
            await page.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=await picture.element_handle(), timeout=5000)
            document = answer.locator("a.file", has_text="инструкция.pdf")
            href = await document.get_attribute("href")
            assert href.startswith(f"{okno.url}/widget/{channel['id']}/messages/") and "token=v_" in href
            await page.screenshot(path=str(SCREENSHOTS / "widget-files.png"))
