"""An admin edits, disables and enables a channel from the administration page, and sees its health."""

from __future__ import annotations

from playwright.async_api import expect

from okno.channels.health import report_needs_action
from okno.channels.service import open_config
from okno.models import Channel
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

SECRET = "browser-channel-secret-0123"


async def test_admin_edits_a_channel_keeping_its_secret_and_sees_health(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers, secret=SECRET, outbound_url="https://crm.example/okno")
    async with ctx.db.transaction() as session:
        await report_needs_action(session, channel["id"], "access token expired or invalid (190)")
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin/channels")
        row = page.locator(f'#channel-rows tr[data-channel="{channel["id"]}"]')
        await expect(row.get_by_test_id("channel-health")).to_contain_text("Требует внимания")
        await expect(row.get_by_test_id("channel-health")).to_contain_text("access token expired")

        await row.get_by_role("button", name="Изменить").click()
        await expect(page.locator("#channel-form-title")).to_have_text("Изменение канала «CRM»")
        # the kind's settings in the admin's language (labels and hints from the adapter's schema)
        await expect(page.locator("#channel-config legend")).to_have_text("API / CRM-система")
        await expect(page.locator("#channel-config")).to_contain_text("куда okno отправляет (POST) ответы операторов")
        await expect(page.get_by_label("Секрет", exact=False)).to_have_value("")  # never shown again
        await page.get_by_test_id("channel-name").fill("CRM продаж")
        await page.get_by_label("Адрес для ответов").fill("https://crm.example/v2")
        await page.get_by_test_id("channel-create").click()
        await expect(page.locator("#channel-rows")).to_contain_text("CRM продаж")
        await expect(page.locator("#channel-form-title")).to_have_text("Подключить канал")

        await row.get_by_role("button", name="Отключить").click()
        await expect(row.get_by_role("button", name="Включить")).to_be_visible()
        assert (await post_inbound(client, channel, {"message_id": "x", "from": {"external_id": "1"}, "text": "?"})).status_code == 403
        await row.get_by_role("button", name="Включить").click()
        await expect(row.get_by_role("button", name="Отключить")).to_be_visible()

    async with ctx.db.reading() as session:
        stored = await session.get(Channel, channel["id"])
        config = open_config(ctx.box, stored)
    assert stored.name == "CRM продаж" and stored.is_active
    assert config.secret.get_secret_value() == SECRET and str(config.outbound_url) == "https://crm.example/v2"
