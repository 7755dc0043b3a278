"""Dark mode: the operator chooses light, dark or the device's setting on his profile; the choice
applies at once, is kept on the server and the next page is drawn with it (no flash: the
attribute comes with the HTML, before any script); "as on this device" follows the system."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from okno.models import Operator
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import make_operator

CSS = Path(__file__).resolve().parents[2] / "src" / "okno" / "web" / "static" / "app.css"
LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(17, 20, 24)"


async def _background(page: Page) -> str:
    return await page.evaluate("getComputedStyle(document.body).backgroundColor")


async def test_the_operator_chooses_dark_light_or_the_system(app, ctx, browser) -> None:  # noqa: ANN001
    me = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU", color_scheme="light", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(page, okno.url, me["email"], me["password"])
        assert await _background(page) == LIGHT_BG  # the device is light, nothing chosen yet
        await page.goto(f"{okno.url}/profile")
        theme = page.get_by_test_id("profile-theme")
        await expect(theme).to_have_value("system")
        await expect(page.locator("label", has=theme)).to_contain_text("Оформление")
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/me") and r.request.method == "PATCH") as saved:
            await theme.select_option("dark")
        assert (await saved.value).status == 200
        assert await _background(page) == DARK_BG  # at once, without a reload

        # the next page comes dark in its HTML: the first paint is dark, no script needed
        html = await (await page.request.get(f"{okno.url}/inbox")).text()
        assert '<html lang="ru" data-theme="dark">' in html
        await page.goto(f"{okno.url}/inbox")
        assert await _background(page) == DARK_BG
        async with ctx.db.reading() as session:
            assert (await session.get(Operator, me["id"])).theme == "dark"

        # "as on this device": a dark device shows dark, a light one light; "light" wins over a dark device
        await page.goto(f"{okno.url}/profile")
        await page.get_by_test_id("profile-theme").select_option("system")
        await expect(page.locator("html")).to_have_attribute("data-theme", "system")
        await page.emulate_media(color_scheme="dark")
        assert await _background(page) == DARK_BG
        await page.emulate_media(color_scheme="light")
        assert await _background(page) == LIGHT_BG
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/me") and r.request.method == "PATCH"):
            await page.get_by_test_id("profile-theme").select_option("light")
        await page.emulate_media(color_scheme="dark")
        await page.reload()
        await expect(page.get_by_test_id("profile-theme")).to_have_value("light")
        assert await _background(page) == LIGHT_BG
        async with ctx.db.reading() as session:
            assert (await session.get(Operator, me["id"])).theme == "light"
        assert errors == []


def test_the_chosen_and_the_system_dark_rules_are_alike() -> None:
    """app.css writes the dark rules twice (chosen, and the system's unless light was chosen)."""
    css = CSS.read_text()
    chosen = re.findall(r'^:where\(:root\[data-theme="dark"\]\) (.+)$|^:root\[data-theme="dark"\] (\{.+)$', css, re.M)
    system = re.findall(r'^  :where\(:root:not\(\[data-theme="light"\]\)\) (.+)$|^  :root:not\(\[data-theme="light"\]\) (\{.+)$', css, re.M)
    normalise = [("".join(parts)).replace(':where(:root[data-theme="dark"]) ', "") for parts in chosen]
    assert len(normalise) > 5
    assert normalise == [("".join(parts)).replace(':where(:root:not([data-theme="light"])) ', "") for parts in system]
