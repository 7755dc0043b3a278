"""A supervisor decides a suggested duplicate in the page: the other profile's name leads to its
conversation, the reason is asked in the page's own dialog (never a browser prompt), and "Not
the same person" makes the suggestion go away for good."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import AuditEntry, Conversation, MatchSuggestion
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def test_a_supervisor_says_not_the_same_person_in_an_in_page_dialog(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "d1", "from": {"phone": "+79161234567", "name": "Анна Петрова"}, "text": "Где заказ?"})
    await ctx.settle()
    await post_inbound(client, channel, {"message_id": "d2", "from": {"phone": "+79161234568", "email": "anna.petrova@mail.ru", "name": "Anna Petrova"}, "text": "Это снова я"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        first, second = (await session.execute(select(Conversation.id, Conversation.customer_id).order_by(Conversation.id))).all()
    supervisor = await make_operator(ctx, role="supervisor", name="Ольга")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})).new_page()
        prompts: list[str] = []
        page.on("dialog", lambda dialog: (prompts.append(dialog.message), dialog.dismiss()))
        await sign_in(page, okno.url, supervisor["email"], supervisor["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&c={second.id}")
        link = page.get_by_test_id(f"suggestion-link-{first.customer_id}")
        await expect(link).to_have_attribute("href", f"/inbox?c={first.id}")

        await page.get_by_test_id(f"not-same-{first.customer_id}").click()
        dialog = page.get_by_test_id("reason-dialog")
        await expect(dialog).to_be_visible()
        await expect(page.get_by_test_id("reason-dialog-title")).to_contain_text("другой человек")
        await page.get_by_test_id("reason-dialog-ok").click()  # no reason yet: the dialog stays
        await expect(dialog).to_be_visible()
        await page.get_by_test_id("reason-dialog-text").fill("Разные даты рождения по паспорту")
        await page.get_by_test_id("reason-dialog-ok").click()
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_test_id(f"not-same-{first.customer_id}")).to_have_count(0)  # never suggested again
        assert prompts == []  # no browser prompt at any point

    async with ctx.db.reading() as session:
        statuses = list(await session.scalars(select(MatchSuggestion.status)))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "merge_suggestion.dismissed"))
    assert statuses == ["dismissed"] and entry.data == {"other_customer_id": first.customer_id, "reason": "Разные даты рождения по паспорту"}
    again = (await client.get(f"/api/v1/customers/{second.customer_id}/merge-suggestions", headers=headers)).json()["items"]
    assert first.customer_id not in [s["customer_id"] for s in again]
