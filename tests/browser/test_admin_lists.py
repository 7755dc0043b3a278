"""The administration's lists: redrawn after every save, a field the admin is typing in at that
moment keeps its text, caret and focus (Tab out of one name saves it, and the admin is already
typing the next one when the redrawn table arrives); channels named by their kind's title in the
page's language, not by the kind's key."""

from __future__ import annotations

import asyncio

from playwright.async_api import Route

from tests.browser.test_admin_edit import _admin_page
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_operator
from playwright.async_api import expect


async def test_a_field_being_typed_survives_the_lists_redraw(app, ctx, browser) -> None:
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await _admin_page(browser, okno, admin)
        await page.goto(f"{okno.url}/admin/statuses")
        held, redrawn = asyncio.Event(), asyncio.Event()

        async def hold_the_redraw(route: Route) -> None:  # the lists' redraw waits until the admin types
            await held.wait()
            await route.continue_()

        await page.route("**/ui/admin/service*", hold_the_redraw)
        page.on("response", lambda r: redrawn.set() if "/ui/admin/service" in r.url else None)
        first = page.locator('input[data-label-of="statuses/pending"][data-lang="en"]')
        await first.fill("Waiting for the customer")
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/statuses/pending") and r.request.method == "PATCH") as saved:
            await first.press("Tab")  # saves the name; focus moves to the next field of the list
        assert (await saved.value).status == 200
        typed_in = await page.evaluate(
            "() => { const el = document.activeElement; el.closest('[data-swap]').dataset.before = 'yes';"
            " return [el.tagName, el.closest('[data-swap]').dataset.swap, el.getAttribute('data-label-of'), el.getAttribute('data-lang')]; }"
        )
        assert typed_in[0] == "INPUT" and typed_in[2], typed_in  # a name field inside a redrawn list
        await page.keyboard.type("Ждём ")
        held.set()
        await asyncio.wait_for(redrawn.wait(), 10)
        await page.wait_for_function(  # the list it sits in has been replaced
            "swap => document.querySelector(`[data-swap=\"${swap}\"]`).dataset.before === undefined", arg=typed_in[1]
        )
        await page.keyboard.type("ответа")
        after = await page.evaluate(
            "() => { const el = document.activeElement; return [el.getAttribute('data-label-of'), el.getAttribute('data-lang'), el.value,"
            " el.selectionStart, el.isConnected]; }"
        )
        assert after == [typed_in[2], typed_in[3], "Ждём ответа", len("Ждём ответа"), True]
        await page.context.close()


async def test_channels_are_listed_by_their_kinds_title_in_russian(app, ctx, client, browser) -> None:
    headers = await admin_headers(ctx, client)
    site = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": ["*"]}}, headers=headers)).json()
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await _admin_page(browser, okno, admin)
        await page.goto(f"{okno.url}/admin/channels")
        kind = page.locator(f'#channel-rows tr[data-channel="{site["id"]}"] .ch')
        await expect(kind).to_have_text("Чат на сайте")
        await expect(kind).to_have_attribute("data-kind", "widget")
        await page.context.close()
