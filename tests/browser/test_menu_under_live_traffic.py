"""An action menu the operator has open outlives live traffic: a refresh of the open conversation
that leaves its head as it was (the customer writes again, the SLA countdown moves on) keeps the
menu's very nodes, so a click that began on an item ends on it. CI once timed out clicking a
transfer item that the demo's simulated customers kept redrawing under the pointer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from okno.kit import time as okno_time
from okno.models import Conversation
from tests.browser.steps import keep_settling, russian_page
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound

CUSTOMER = {"phone": "+79161230000", "name": "Семён"}


async def _assignee(ctx, conversation_id: int) -> int | None:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return (await session.get(Conversation, conversation_id)).assignee_id


async def _item_outlives_a_message(page: Page, writes, item_testid: str, text: str) -> None:  # noqa: ANN001
    """Opens «Передать…», the customer writes; once his message is on the timeline the item is
    still the same element, and the menu still open."""
    await page.get_by_test_id("assign-operator").click()
    menu = page.get_by_test_id("assign-operator-menu")
    await expect(menu).to_be_visible()
    item = await page.get_by_test_id(item_testid).element_handle()
    await writes(text)
    await expect(page.get_by_test_id("timeline")).to_contain_text(text, timeout=10_000)  # the refresh was applied
    assert await item.evaluate("e => e.isConnected"), "the live refresh replaced the open menu's items"
    await expect(menu).to_be_visible()


async def test_an_open_menu_keeps_its_items_while_the_customer_writes(app, client, ctx, browser, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(okno_time, "_offset", okno_time._offset)  # the clock's travel is undone after the test
    headers = await admin_headers(ctx, client)
    policy = {"name": "Стандарт", "targets": {"normal": {"first_response": 60}}, "is_default": True}
    assert (await client.post("/api/v1/sla/policies", json=policy, headers=headers)).status_code == 201
    channel = await make_api_channel(client, headers)
    sent = iter(range(1, 100))

    async def writes(text: str) -> None:
        answer = await post_inbound(client, channel, {"message_id": f"m{next(sent)}", "from": CUSTOMER, "text": text})
        assert answer.status_code == 200, answer.text

    await writes("Где посылка?")
    await ctx.settle()
    me = await make_operator(ctx, name="Ольга Смирнова")
    boris = await make_operator(ctx, name="Борис Орлов")
    async with ctx.db.reading() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            page, errors = await russian_page(browser, okno.url, me["email"], me["password"])
            await page.locator(f"#inbox-list .row[data-conversation='{conversation_id}']").click()
            await expect(page.get_by_test_id("conversation-title")).to_have_text("Семён")
            sla = page.get_by_test_id("conversation-sla")
            due = await sla.inner_text()

            # twenty minutes on, the customer writes again: the head's SLA countdown reads
            # differently, the rest of the head is as it was; the menu keeps its items
            okno_time.travel_to(okno_time.utcnow() + timedelta(minutes=20))
            await _item_outlives_a_message(page, writes, f"assign-operator-{boris['id']}", "Алло, вы тут?")
            await expect(sla).not_to_have_text(due)  # the countdown moved on in place
            await page.get_by_test_id(f"assign-operator-{boris['id']}").click()
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("Борис Орлов")
            assert await _assignee(ctx, conversation_id) == boris["id"]

            # the conversation as the page came with it (drawn by the server, not the script)
            await page.goto(f"{okno.url}/inbox?c={conversation_id}")
            await expect(page.get_by_test_id("conversation-assignee")).to_have_text("Борис Орлов")
            await _item_outlives_a_message(page, writes, f"assign-operator-{me['id']}", "Жду ответа")
            await page.keyboard.press("Escape")
            await expect(page.get_by_test_id("assign-operator-menu")).to_be_hidden()
            assert await _assignee(ctx, conversation_id) == boris["id"]
            assert errors == []
    finally:
        settling.cancel()
        await asyncio.gather(settling, return_exceptions=True)
