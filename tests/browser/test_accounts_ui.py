"""An admin manages accounts on the admin page (deactivates an operator, creates and revokes an
API token, reads the audit log), and a guessed-at login shows the throttling message."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import make_operator


async def test_admin_deactivates_an_operator_creates_and_revokes_a_token(app, client, ctx, browser) -> None:
    admin = await make_operator(ctx, name="Админ", role="admin")
    olga = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin/operators")

        await page.get_by_label("Учётная запись включена: Ольга").uncheck()
        await expect(page.locator("#toast")).to_have_text("✓")
        refused = await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": olga["password"]})
        assert refused.status_code == 401

        await page.locator("[data-section-link=tokens]").click()
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

        await page.locator("[data-section-link=audit]").click()
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


async def test_an_operator_chooses_her_time_zone_and_language_in_her_profile(app, client, ctx, browser) -> None:
    operator = await make_operator(ctx, name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", timezone_id="Europe/Berlin")).new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.get_by_test_id("me").click()
        await expect(page.get_by_test_id("profile-page")).to_be_visible()
        await expect(page.get_by_test_id("profile-time-zone")).to_have_value("Europe/Moscow")  # the installation's default

        await page.get_by_test_id("profile-time-zone").fill("Not/AZone")
        await page.get_by_test_id("profile-save").click()
        await expect(page.locator("#profile-error")).to_contain_text("Not/AZone")

        await page.get_by_test_id("profile-time-zone").fill("Asia/Vladivostok")
        await page.get_by_test_id("profile-signature").fill("Ольга, отдел заботы")
        await page.get_by_test_id("profile-locale").select_option("en")
        await page.get_by_test_id("profile-save").click()
        await expect(page.get_by_role("heading", name="My profile")).to_be_visible()  # the page again, in English
        await expect(page.get_by_test_id("profile-time-zone")).to_have_value("Asia/Vladivostok")
        assert await page.evaluate("document.body.dataset.tz") == "Asia/Vladivostok"

    me = (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {await _token(client, operator)}"})).json()
    assert me["time_zone"] == "Asia/Vladivostok" and me["locale"] == "en" and me["signature"] == "Ольга, отдел заботы"


async def _token(client: httpx.AsyncClient, operator: dict) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": operator["email"], "password": operator["password"]})
    return response.json()["access_token"]
