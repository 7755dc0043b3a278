"""The screen pop in the browser: a ringing call pops the caller for the channel team's operator
(not for another team's), becomes his when his extension answers, and closes when the call ends."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.steps import keep_settling, sign_in
from tests.channels.test_novofon_calls import CALLER, _office
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, make_operator


async def test_a_ringing_call_pops_for_the_team_and_becomes_the_answering_operators(app, client, ctx, browser) -> None:  # noqa: ANN001
    async with _office(client, ctx) as office:
        headers, fake = office["headers"], office["fake"]
        other_team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=headers)).json()
        stranger = await make_operator(ctx, name="Чужой")
        await client.post(f"/api/v1/teams/{other_team['id']}/members", json={"operator_id": stranger["id"]}, headers=headers)
        async with LoopbackServer(app) as okno:
            settling = asyncio.create_task(keep_settling(ctx))
            try:
                pages = []
                for email in (office["operator"]["email"], stranger["email"]):
                    page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 860})).new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                    await sign_in(page, okno.url, email, PASSWORD)
                    await expect(page.locator("#live-status.on")).to_have_count(1)
                    pages.append((page, errors))
                (mine, my_errors), (theirs, their_errors) = pages

                pbx_call_id, start = fake.new_call_id(), "2026-01-15 10:07:00"
                await fake.ring(CALLER, pbx_call_id, start, internal="100")
                pop = mine.get_by_test_id("call-pop")
                await expect(pop).to_be_visible(timeout=20_000)  # the machine is shared: the relay may lag
                await expect(pop).to_contain_text("Входящий звонок")
                await expect(pop.get_by_test_id("call-pop-open")).to_have_text("Открыть профиль клиента")

                await fake.answer(CALLER, pbx_call_id, start, "100")
                await expect(pop.get_by_test_id("call-pop-mine")).to_be_visible(timeout=20_000)  # the call is his
                await expect(mine.get_by_test_id("conversation")).to_be_visible()  # and its conversation opened

                await fake.hang_up(CALLER, pbx_call_id, start, disposition="answered", duration=31, internal="100")
                await expect(mine.get_by_test_id("call-pop")).to_have_count(0, timeout=20_000)
                await expect(mine.get_by_test_id("call-completed")).to_contain_text("Звонок принят, 0:31", timeout=20_000)
                await expect(theirs.get_by_test_id("call-pop")).to_have_count(0)  # another team's operator never saw it
                assert my_errors == [] and their_errors == []
            finally:
                settling.cancel()
                await asyncio.gather(settling, return_exceptions=True)
