"""An operator offers choices from the reply box: two buttons to a Telegram customer (with the
keyboard only, then beside a file), and a WhatsApp refusal shown in the choices editor."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from tests.browser.screens import SCREENSHOTS
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import make_operator
from tests.files.helpers import channel_with_fake, tiny_pdf


def _keyboard(sent: dict) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in sent["reply_markup"]["inline_keyboard"] for b in row]


async def test_operator_offers_two_buttons_to_a_telegram_customer(app, client, ctx, browser, tmp_path) -> None:
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as provider, LoopbackServer(app) as okno:
        fake.base_url = provider.url
        await channel_with_fake(client, ctx, "telegram", fake)
        await fake.deliver_text("700000201", "Заказ не пришёл", first_name="Анна")
        operator = await make_operator(ctx, name="Ольга")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Анна").click()

            # keyboard only: the toggle opens the editor on the first option, Enter moves to the next
            await page.get_by_test_id("reply-text").fill("С чем помочь?")
            toggle = page.get_by_test_id("choices-toggle")
            await expect(toggle).to_have_attribute("aria-expanded", "false")
            await toggle.focus()
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("choices-editor")).to_be_visible()
            await expect(toggle).to_have_attribute("aria-expanded", "true")
            await expect(page.get_by_label("Вариант 1", exact=True)).to_be_focused()
            await page.keyboard.type("Доставка")
            await page.keyboard.press("Enter")
            await expect(page.get_by_label("Вариант 2", exact=True)).to_be_focused()
            await page.keyboard.type("Возврат")
            await page.keyboard.press("Enter")  # the last one: a third option only once this one has a title
            await expect(page.get_by_label("Вариант 3", exact=True)).to_be_focused()
            await page.keyboard.press("Tab")
            await page.keyboard.press("Enter")  # its ✕ removes the empty third option
            await expect(page.get_by_test_id("choices-options").locator("li")).to_have_count(2)
            await page.screenshot(path=str(SCREENSHOTS / "reply-choices.png"))
            await page.get_by_test_id("reply-text").focus()
            await page.keyboard.press("Control+Enter")

            prompt = page.locator(".msg-out", has_text="С чем помочь?")
            await expect(prompt.locator("ol.choices")).to_have_attribute("data-rendering", "buttons", timeout=5000)
            await expect(prompt.locator("ol.choices li")).to_have_text(["Доставка", "Возврат"])
            await expect(prompt.locator(".delivery")).to_have_attribute("data-status", "sent", timeout=5000)
            question = fake.sent[-1]
            assert question["text"] == "С чем помочь?"
            assert _keyboard(question) == [("Доставка", "dostavka"), ("Возврат", "vozvrat")]
            await expect(page.get_by_test_id("choices-editor")).to_be_hidden()
            await expect(page.get_by_test_id("reply-text")).to_have_value("")

            # the customer presses a button: the answer shows in the conversation
            await fake.deliver_button_press("700000201", question["message_id"], "vozvrat", first_name="Анна")
            await expect(page.locator(".msg-in .answer")).to_have_text("Ответ: Возврат", timeout=5000)

            # choices beside a file: multipart with `interactive` as a JSON field
            invoice = tmp_path / "счёт.pdf"
            invoice.write_bytes(tiny_pdf())
            await page.get_by_test_id("attach-files").set_input_files(str(invoice))
            await page.get_by_test_id("reply-text").fill("Счёт верный?")
            await page.get_by_test_id("choices-toggle").click()
            await expect(page.get_by_test_id("choice-title-1")).to_have_value("")  # a fresh editor after the last send
            await page.get_by_test_id("choice-title-1").fill("Да")
            await page.get_by_test_id("choice-title-2").fill("Нет")
            await page.get_by_test_id("send").click()
            with_file = page.locator(".msg-out", has_text="Счёт верный?")
            await expect(with_file.locator("a.file")).to_contain_text("счёт.pdf", timeout=5000)
            await expect(with_file.locator(".delivery")).to_have_attribute("data-status", "sent", timeout=5000)
            assert [u["method"] for u in fake.uploads][-1] == "sendDocument" and fake.uploads[-1]["content"] == tiny_pdf()
            assert fake.sent[-1]["text"] == "Счёт верный?" and _keyboard(fake.sent[-1]) == [("Да", "da"), ("Нет", "net")]
            assert errors == []
        finally:
            settling.cancel()


async def test_the_servers_refusal_of_choices_shows_in_the_editor(app, client, ctx, browser) -> None:
    fake = FakeWhatsApp()
    async with LoopbackServer(fake.app) as provider, LoopbackServer(app) as okno:
        fake.base_url = provider.url
        await channel_with_fake(client, ctx, "whatsapp", fake)
        await fake.deliver_text("79160000201", "Когда доставка?", name="Пётр")
        operator = await make_operator(ctx, name="Ольга")
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU")).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, operator["email"], operator["password"])
            await page.locator("#inbox-list .row", has_text="Пётр").click()
            await expect(page.locator(".msg-in")).to_have_count(1)
            sent_before = len(fake.sent)

            await page.get_by_test_id("reply-text").fill("Когда удобно принять курьера?")
            await page.get_by_test_id("choices-toggle").click()
            await page.get_by_test_id("choice-title-1").fill("Утром")
            await page.get_by_test_id("choice-title-2").fill("Днём")
            for title in ("Вечером", "Ночью"):
                await page.get_by_test_id("choices-add").click()
                await page.get_by_role("textbox", name=f"Вариант {await page.get_by_test_id('choices-options').locator('li').count()}", exact=True).fill(title)
            await page.get_by_test_id("send").click()

            refusal = page.get_by_test_id("choices-error")
            await expect(refusal).to_have_text("Не отправлено: WhatsApp показывает в этом виде не больше 3 вариантов (передано: 4)")  # said in Russian
            await expect(refusal).to_have_attribute("role", "alert")
            await page.screenshot(path=str(SCREENSHOTS / "reply-choices-refused.png"))
            await expect(page.get_by_test_id("reply-text")).to_have_value("Когда удобно принять курьера?")  # nothing lost
            assert await page.locator(".msg-out").count() == 0 and len(fake.sent) == sent_before

            # a list takes four; it needs the label of the button that opens it (said before sending)
            await page.get_by_test_id("choices-style").select_option("list")
            await expect(refusal).to_be_hidden()
            await page.get_by_test_id("send").click()
            await expect(refusal).to_have_text("Списку нужна надпись на кнопке: по ней клиент открывает список")
            await expect(page.get_by_test_id("choices-button")).to_be_focused()
            await page.get_by_test_id("choices-button").fill("Выбрать время")
            await page.get_by_test_id("send").click()

            prompt = page.locator(".msg-out", has_text="Когда удобно принять курьера?")
            await expect(prompt.locator("ol.choices")).to_have_attribute("data-rendering", "list", timeout=5000)
            await expect(prompt.locator(".delivery")).to_have_attribute("data-status", "sent", timeout=5000)
            interactive = fake.sent[-1]["body"]["interactive"]
            assert interactive["type"] == "list" and interactive["action"]["button"] == "Выбрать время"
            assert [r["title"] for s in interactive["action"]["sections"] for r in s["rows"]] == ["Утром", "Днём", "Вечером", "Ночью"]
            assert errors == []
        finally:
            settling.cancel()
