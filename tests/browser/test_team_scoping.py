"""Team scoping in the browser: an operator who hands a conversation to another team sees it leave
his sight (a notice, no error), and a link to another team's conversation is a notice too."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.access.world import make_world
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD


async def test_a_conversation_handed_to_another_team_leaves_the_operators_sight(app, client, ctx, browser) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    mine, theirs = await world.bundle("A"), await world.bundle("B")
    async with ctx.db.reading() as session:
        from okno.models import Operator

        email = (await session.get(Operator, world.operators["operator_a"])).email
    async with LoopbackServer(app) as okno:
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, email, PASSWORD)
            rows = page.locator("#inbox-list .row")
            await expect(page.get_by_test_id(f"row-{mine.conversation_id}")).to_be_visible()
            await expect(page.get_by_test_id(f"row-{theirs.conversation_id}")).to_have_count(0)

            await page.get_by_test_id(f"row-{mine.conversation_id}").click()
            await expect(page.get_by_test_id("assign-team")).to_be_visible()
            await page.get_by_test_id("assign-team").click()  # a menu: the click on an item applies
            await page.get_by_test_id(f"assign-team-{world.team_b}").click()
            await expect(page.get_by_test_id("conversation-missing")).to_have_text("Такого диалога нет, или он принадлежит другой команде.")
            await expect(page.get_by_test_id(f"row-{mine.conversation_id}")).to_have_count(0)
            await expect(page.locator("#toast.error")).to_have_count(0)
            assert await rows.count() == 0

            await page.goto(f"{okno.url}/inbox?c={theirs.conversation_id}")
            await expect(page.get_by_test_id("conversation-missing")).to_be_visible()
            assert errors == []
        finally:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)
