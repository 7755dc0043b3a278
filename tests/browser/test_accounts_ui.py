"""An admin manages accounts on the admin page (deactivates an operator, creates and revokes an
API token, reads the audit log), and a guessed-at login shows the throttling message."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.browser.test_operator_ui import _sign_in
from tests.conftest import LoopbackServer
from tests.factories import make_operator


async def test_admin_deactivates_an_operator_creates_and_revokes_a_token(app, client, ctx, browser) -> None:
    admin = await make_operator(ctx, name="Админ", role="admin")
    olga = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await _sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin")

        await page.get_by_label("Учётная запись включена: Ольга").uncheck()
        await expect(page.locator("#toast")).to_have_text("✓")
        refused = await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": olga["password"]})
        assert refused.status_code == 401

        form = page.get_by_test_id("token-form")
        await form.get_by_label("Название").fill("CRM")
        await form.get_by_role("button", name="Создать токен").click()
        await expect(page.get_by_test_id("token-created")).to_be_visible()
        secret = (await page.locator("#token-secret").text_content()) or ""
        assert secret.startswith("okno_")
        async with httpx.AsyncClient(base_url=okno.url, headers={"Authorization": f"Bearer {secret}"}) as integration:
            assert (await integration.get("/api/v1/customers")).status_code == 200
            await page.get_by_role("button", name="Готово").click()
            await expect(page.get_by_test_id("token-form")).to_be_visible()  # the page was read again
            await expect(page.get_by_test_id("tokens-table")).to_contain_text("бессрочно")
            await expect(page.get_by_test_id("tokens-table")).to_contain_text("действует")
            await page.get_by_role("button", name="Отозвать").click()
            await expect(page.get_by_test_id("tokens-table")).to_contain_text("отозван")
            assert (await integration.get("/api/v1/customers")).status_code == 401

        await page.get_by_test_id("audit-link").click()
        table = page.get_by_test_id("audit-table")
        await expect(table).to_contain_text("отозвал API-токен")
        await expect(table).to_contain_text("отключил сотрудника")


async def test_the_login_page_says_when_logins_are_throttled(app, ctx, browser) -> None:
    olga = await make_operator(ctx, name="Ольга")
    ctx.settings.login_max_failures_per_account = 2
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU")).new_page()
        await page.goto(f"{okno.url}/login")
        await page.get_by_label("E-mail").fill(olga["email"])
        for _ in range(2):
            await page.get_by_label("Пароль").fill("wrong password")
            await page.get_by_role("button", name="Войти").click()
            await expect(page.locator("#login-error")).to_be_visible()
        await page.get_by_label("Пароль").fill(olga["password"])
        await page.get_by_role("button", name="Войти").click()
        await expect(page.locator("#login-throttled")).to_have_text("Слишком много неудачных попыток. Попробуйте через несколько минут.")
        await expect(page.locator("#login-error")).to_be_hidden()
