"""The UI satisfies its own Content-Security-Policy, and data is never parsed as markup."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

XSS_TEAM = '<img src=x onerror="window.__xss = 1">Продажи'
# registered before any page script runs (Playwright injects it outside the page's policy)
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


async def _violations(page: Page) -> list[str]:
    return await page.evaluate("window.__csp || []")


async def test_main_pages_raise_no_policy_violation_and_a_team_name_stays_text(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", headers=headers, json={"name": XSS_TEAM})).json()
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "c1", "from": {"phone": "+79161112233", "name": "Анна Петрова"}, "text": "Где мой заказ?"})
    supervisor = await make_operator(ctx, name="Ольга", role="admin")
    async with LoopbackServer(app) as okno:
        context = await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})
        await context.add_init_script(LISTEN)
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        await sign_in(page, okno.url, supervisor["email"], supervisor["password"])
        seen: dict[str, list[str]] = {}
        await page.locator("#inbox-list .row", has_text="Анна Петрова").click()
        await expect(page.get_by_test_id("conversation-title")).to_have_text("Анна Петрова")

        # the escalate dialog lists the team by its name, as text: no element, no script
        await page.get_by_test_id("escalate").click()
        option = page.get_by_test_id("escalate-team").locator("option", has_text="Продажи")
        await expect(option).to_have_text(XSS_TEAM)
        await expect(option).to_have_attribute("value", str(team["id"]))
        assert await page.locator("#escalate-dialog img").count() == 0
        assert await page.evaluate("window.__xss") is None
        await page.keyboard.press("Escape")
        seen["/inbox"] = await _violations(page)

        for path, ready in (("/supervisor", "#volume-chart"), ("/admin/teams", "#team-form")):
            await page.goto(f"{okno.url}{path}")
            await page.wait_for_selector(ready)
            await page.wait_for_load_state("networkidle")
            if path == "/supervisor":  # the chart drew (its script ran under the policy)
                await page.wait_for_function("document.querySelector('#volume-chart').width > 0")
            seen[path] = await _violations(page)

        await page.get_by_test_id("logout").click()
        await page.wait_for_url(f"{okno.url}/login")
        seen["/login"] = await _violations(page)

        assert all(v == [] for v in seen.values()), seen
        assert console == [], console
        assert errors == []
        assert await page.evaluate("window.__xss") is None
        await context.close()
