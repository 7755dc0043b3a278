"""The operator UI issue's acceptance: a newcomer's shift on `make run`'s setup — `okno demo`, then
`okno serve` with the fake providers and the traffic simulator — worked in a real browser."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.screens import SCREENSHOTS
from tests.test_server_process import OknoProcess, server_env  # noqa: F401  (fixture)

DEMO_LOGIN = ("admin@okno.local", "okno-demo")


async def _open_latest_from(page: Page, badge: str) -> str:
    """Open the first conversation whose latest message came through the channel with this badge.

    The inbox re-sorts under live demo traffic, so the row is clicked by its conversation id,
    not by position: between reading the first row and clicking it, another row may take its place."""
    first = page.locator("#inbox-list .row", has=page.locator(f".ch:text-is('{badge}')")).first
    await expect(first).to_be_visible(timeout=30_000)
    conversation_id = await first.get_attribute("data-conversation")
    assert conversation_id
    for _ in range(3):  # a live re-sort can move the row under the pointer mid-click: click it again
        await page.locator(f"#inbox-list .row[data-conversation='{conversation_id}']").click()
        try:
            await expect(page.get_by_test_id("conversation")).to_have_attribute("data-conversation-id", conversation_id, timeout=5000)
            break
        except AssertionError:
            continue
    await expect(page.get_by_test_id("conversation")).to_have_attribute("data-conversation-id", conversation_id)
    return conversation_id


async def _answer(page: Page, badge: str, channel: str, text: str) -> None:
    """Answer the latest conversation on this channel, choosing that channel in the reply box
    (the customer may have moved on to another channel meanwhile: the box proposes that one)."""
    await _open_latest_from(page, badge)
    option = page.locator("#reply-channel option:not([disabled])", has_text=channel)
    chosen = await option.get_attribute("value")
    await page.locator("#reply-channel").select_option(chosen)
    await page.get_by_test_id("reply-text").fill(text)
    await page.get_by_test_id("send").click()
    reply = page.locator(".msg-out", has_text=text).last
    await expect(reply.locator(".delivery")).not_to_have_attribute("data-status", "queued", timeout=15_000)
    assert await reply.locator(".delivery").get_attribute("data-status") in ("sent", "delivered", "read")
    assert await reply.get_attribute("data-channel-id") == chosen


async def test_a_newcomers_shift_on_the_demo(server_env, browser) -> None:  # noqa: F811
    okno = OknoProcess({**server_env, "OKNO_FAKE_PROVIDERS": "1", "OKNO_SIMULATE_RATE": "40"})
    okno.env["OKNO_PUBLIC_URL"] = okno.url
    seeded = okno.cli("demo", "--base-url", okno.url)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    await okno.start()
    try:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 900})).new_page()
        await page.goto(f"{okno.url}/")
        await page.get_by_label("E-mail").fill(DEMO_LOGIN[0])
        await page.get_by_label("Пароль").fill(DEMO_LOGIN[1])
        await page.get_by_role("button", name="Войти").click()
        await page.wait_for_url(f"{okno.url}/inbox")
        await page.get_by_test_id("sort").select_option("recent")  # live demo traffic on top

        await _answer(page, "TG", "Telegram", "Добрый день! Отвечаю из окна в Telegram.")
        await _answer(page, "WA", "WhatsApp", "Здравствуйте! Отвечаю из окна в WhatsApp.")

        # the WhatsApp customer began in Telegram: one profile holds both, and the timeline both channels
        identities = page.get_by_test_id("identities")
        await expect(identities).to_contain_text("WhatsApp")
        if "telegram" in await identities.inner_text():
            await expect(page.locator(".timeline .ch", has_text="TG").first).to_be_visible()

        # transfer this one to a colleague (the demo desk may already have given it to Мария), resolve another
        colleague = "Иван Петров" if (await page.get_by_test_id("conversation-assignee").inner_text()).strip() == "Мария Соколова" else "Мария Соколова"
        await page.get_by_test_id("assign-operator").click()
        await page.get_by_test_id("assign-operator-menu").get_by_role("menuitem", name=colleague).click()
        await expect(page.get_by_test_id("conversation-assignee")).to_have_text(colleague)
        await _open_latest_from(page, "API")
        await page.get_by_test_id("close-reason").select_option("consultation")
        await page.get_by_test_id("resolve").click()
        await expect(page.get_by_test_id("conversation-status")).to_have_text("Решено")
        await page.screenshot(path=str(SCREENSHOTS / "demo-shift.png"))
    finally:
        okno.stop()
