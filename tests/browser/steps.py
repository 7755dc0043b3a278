"""Steps the browser tests share: signing in through the login form, and doing the embedded
workers' job in the test's own event loop while a page is open."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Page


async def keep_settling(ctx) -> None:  # noqa: ANN001 - the embedded workers' job, done in the test's loop
    while True:
        await ctx.settle()
        await asyncio.sleep(0.05)


async def sign_in(page: Page, url: str, email: str, password: str, then: str | None = None) -> None:
    """Signs in on the Russian login form (``/`` leads there) and lands in the inbox; then opens
    ``then`` (a path) when given."""
    await page.goto(f"{url}/")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Пароль").fill(password)
    await page.get_by_role("button", name="Войти").click()
    await page.wait_for_url(f"{url}/inbox")
    if then is not None:
        await page.goto(f"{url}{then}")


async def russian_page(browser: Browser, url: str, email: str, password: str, then: str | None = None) -> tuple[Page, list[str]]:
    """A desktop page in a Russian browser, signed in (then at ``then``), and the list its script
    errors are collected in (tests assert it stays empty)."""
    page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 900})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, url, email, password, then)
    return page, errors
