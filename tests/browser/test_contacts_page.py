"""The contacts page in Chromium: find a customer, create a contact, add a phone to it, and read a
refusal in the operator's language."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def test_an_operator_creates_finds_and_edits_a_contact(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    sent = await post_inbound(client, channel, {"message_id": "c1", "from": {"phone": "+79160001111", "name": "Зоя Контактова"}, "text": "Здравствуйте"})
    assert sent.status_code == 200
    await ctx.settle()
    operator = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU")
        page = await context.new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.set_extra_http_headers({"Accept-Language": "en-US,en"})  # the operator's saved language still wins
        await page.get_by_test_id("nav-contacts").click()
        await page.wait_for_url(f"{okno.url}/contacts")
        await expect(page.get_by_test_id("contacts-total")).to_have_text("1 контакт")
        row = page.locator("tr[data-customer]", has_text="Зоя Контактова")
        await expect(row).to_contain_text("+79160001111")
        await expect(row.get_by_test_id("contact-open")).to_have_attribute("href", "/inbox?c=1")

        await page.get_by_test_id("contact-new").click()
        dialog = page.get_by_test_id("contact-dialog")
        await expect(dialog).to_be_visible()
        await dialog.get_by_test_id("contact-name").fill("Пётр Новиков")
        await dialog.get_by_test_id("contact-phones").fill("не телефон")
        await dialog.get_by_test_id("contact-save").click()
        await expect(page.get_by_test_id("contact-error")).to_have_text("Это не номер телефона: 'не телефон'")
        await dialog.get_by_test_id("contact-phones").fill("8 916 222-33-44")
        await dialog.get_by_test_id("contact-emails").fill("petr@example.ru")
        await dialog.get_by_test_id("contact-attributes").fill("город: Тула")
        await dialog.get_by_test_id("contact-save").click()
        await expect(page.get_by_test_id("contacts-total")).to_have_text("2 контакта")
        new_row = page.locator("tr[data-customer]", has_text="Пётр Новиков")
        await expect(new_row).to_contain_text("+79162223344")
        await expect(new_row).to_contain_text("город: Тула")
        await expect(new_row).to_contain_text("Пока нет")

        await new_row.get_by_test_id("contact-edit").click()
        await expect(dialog.get_by_test_id("contact-name")).to_have_value("Пётр Новиков")
        await dialog.get_by_test_id("contact-phones").fill("+79160001111")  # Зоя's: refused, never moved
        await dialog.get_by_test_id("contact-save").click()
        await expect(page.get_by_test_id("contact-error")).to_contain_text("уже принадлежит другому клиенту")
        await dialog.get_by_test_id("contact-phones").fill("+7 903 555 66 77")
        await dialog.get_by_test_id("contact-save").click()
        await expect(new_row).to_contain_text("+79035556677")

        await page.get_by_test_id("contacts-q").fill("петр")
        await page.get_by_test_id("contacts-q").press("Enter")
        await expect(page.get_by_test_id("contacts-total")).to_have_text("0 контактов")  # "петр" ≠ "Пётр"
        await page.get_by_test_id("contacts-q").fill("+7 903 555-66-77")
        await page.get_by_test_id("contacts-q").press("Enter")
        await expect(page.locator("tr[data-customer]")).to_have_count(1)
        await expect(page.locator("tr[data-customer]")).to_contain_text("Пётр Новиков")
        await context.close()
