"""axe-core (vendored in tests/browser/vendor, run locally, no network) on the inbox, an opened
conversation, the admin page and the contacts page, in Russian, on a phone and in dark mode: no
serious or critical violations."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")


async def serious_violations(page) -> list[str]:  # noqa: ANN001
    """axe's violations of impact serious or critical, one line each with the first elements."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE)  # evaluated through the debugging protocol: the page's CSP allows no inline script
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                          targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + (n.any[0] && n.any[0].data && n.any[0].data.fgColor
                                              ? ` (${n.any[0].data.fgColor} on ${n.any[0].data.bgColor}: ${n.any[0].data.contrastRatio})` : "")) }));
    }""")
    return [f"{v['impact']} {v['id']}: {v['help']} @ {v['targets']}" for v in result if v["impact"] in BLOCKING]


async def test_main_pages_have_no_serious_accessibility_violations(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    sent = await post_inbound(client, channel, {"message_id": "a1", "from": {"phone": "+79160004444", "name": "Зоя Доступная"}, "text": "Где мой заказ?"})
    assert sent.status_code == 200
    await ctx.settle()
    [conversation] = (await client.get("/api/v1/conversations", headers=headers)).json()["items"]
    for body in ({"text": "Заказ уже у курьера."}, {"text": "Проверить оплату", "internal": True}):  # an outgoing message and a note: their own colours
        assert (await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json=body, headers=headers)).status_code == 201
    await ctx.settle()
    admin = await make_operator(ctx, role="admin", name="Анна")
    found: dict[str, list[str]] = {}
    async with LoopbackServer(app) as okno:
        for viewport, scheme in (({"width": 1366, "height": 900}, "light"), ({"width": 390, "height": 844}, "light"), ({"width": 1366, "height": 900}, "dark")):
            context = await browser.new_context(locale="ru-RU", viewport=viewport, color_scheme=scheme)
            page = await context.new_page()
            await sign_in(page, okno.url, admin["email"], admin["password"])
            width = f"{viewport['width']} {scheme}"
            found[f"inbox {width}"] = await serious_violations(page)
            await page.locator("#inbox-list .row", has_text="Зоя").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Зоя Доступная")
            found[f"conversation {width}"] = await serious_violations(page)
            for path in ("/admin", "/contacts"):
                await page.goto(f"{okno.url}{path}")
                await page.wait_for_load_state("networkidle")
                found[f"{path} {width}"] = await serious_violations(page)
            await context.close()
    found = {where: v for where, v in found.items() if v}
    assert found == {}, "\n".join(f"{where}:\n  " + "\n  ".join(v) for where, v in found.items())
