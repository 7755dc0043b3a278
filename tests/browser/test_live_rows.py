"""A live update redraws only the row that changed: a new conversation and a customer's new
message appear in place (sorted, counted) without the list being read again; a filtered view
takes in a conversation assigned to me and lets go of one that is resolved; the focused row
keeps the keyboard across its own update. Requests to the list endpoint are counted: none."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect
from sqlalchemy import select

from okno.models import Conversation, Customer
from tests.browser.steps import russian_page, keep_settling
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def _ids(ctx) -> dict[str, int]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = await session.execute(select(Customer.name, Conversation.id).join(Customer, Customer.id == Conversation.customer_id))
        return dict(rows.all())


def _order(page: Page):  # noqa: ANN202
    return page.locator("#inbox-list ul.rows > li > a.row")


async def test_rows_are_redrawn_one_by_one_without_reading_the_list(app, client, ctx, browser) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)

    async def writes(n: str, phone: str, name: str, text: str) -> None:
        answer = await post_inbound(client, channel, {"message_id": n, "from": {"phone": phone, "name": name}, "text": text})
        assert answer.status_code == 200, answer.text

    for n, name in enumerate(["Анна", "Борис", "Вера"]):
        await writes(f"a{n}", f"+7916123000{n}", name, f"Вопрос {n}")
        await ctx.settle()
    me = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
    settling = asyncio.create_task(keep_settling(ctx))
    try:
        async with LoopbackServer(app) as okno:
            page, errors = await russian_page(browser, okno.url, me["email"], me["password"], "/inbox?queue=all&sort=recent")
            lists: list[str] = []
            rows: list[str] = []
            counts: list[str] = []
            page.on("request", lambda r: lists.append(r.url) if "/ui/inbox/list" in r.url else rows.append(r.url) if "/ui/inbox/rows/" in r.url else None)
            page.on("request", lambda r: counts.append(r.url) if "/ui/inbox/counts" in r.url else None)
            await page.mouse.move(1400, 880)  # not over the list: updates are not held for the pointer
            ids = await _ids(ctx)
            await expect(_order(page)).to_have_count(3)
            await expect(page.get_by_test_id("list-total")).to_have_text("3 из 3 обращений")

            # a new conversation: on top (latest activity first), counted, the list not read again
            await writes("g0", "+79161230009", "Глеб", "Здравствуйте")
            await expect(_order(page)).to_have_count(4, timeout=10_000)
            ids = await _ids(ctx)
            await expect(_order(page).first).to_have_attribute("data-conversation", str(ids["Глеб"]))
            await expect(page.get_by_test_id("list-total")).to_have_text("4 из 4 обращений")
            await expect(page.get_by_test_id("count-all")).to_have_text("4")  # the counters follow (spaced, not per row)

            # an update: Анна writes again; her row moves to the top with two unread, the rest keep their order
            await writes("a9", "+79161230000", "Анна", "Ещё вопрос")
            await expect(page.get_by_test_id(f"unread-{ids['Анна']}")).to_have_text("2", timeout=10_000)
            order = [ids[n] for n in ("Анна", "Глеб", "Вера", "Борис")]
            assert [int(x) for x in await _order(page).evaluate_all("(rows) => rows.map((r) => r.dataset.conversation)")] == order

            # the focused row keeps the keyboard while its own update redraws it
            await page.get_by_test_id(f"row-{ids['Борис']}").focus()
            await writes("b9", "+79161230001", "Борис", "Алло")
            await expect(page.get_by_test_id(f"unread-{ids['Борис']}")).to_have_text("2", timeout=10_000)
            await expect(_order(page).first).to_have_attribute("data-conversation", str(ids["Борис"]))
            await expect(page.get_by_test_id(f"row-{ids['Борис']}")).to_be_focused()
            # a tag: the row shows it; no queue counter can change, so none is read again
            await asyncio.sleep(2.5)  # past the counters' spacing
            counted = len(counts)
            answer = await client.post(f"/api/v1/conversations/{ids['Вера']}/tags", headers=headers, json={"tags": ["возврат"]})
            assert answer.status_code == 200, answer.text
            await expect(page.get_by_test_id(f"row-{ids['Вера']}").locator(".tag")).to_have_text("возврат", timeout=10_000)
            await asyncio.sleep(0.8)
            assert len(counts) == counted, counts[counted:]
            assert lists == [], f"the list was read again: {lists}"
            assert len(rows) >= 3

            # a filtered view: "mine" takes in what is assigned to me and lets go of what is resolved
            await page.get_by_test_id("queue-mine").click()
            await expect(page.get_by_test_id("inbox-empty")).to_be_visible()
            await expect(page.get_by_test_id("list-total")).to_have_text("0 из 0 обращений")
            read = len(lists)  # the queue's own list, read once on the click
            await writes("v9", "+79161230002", "Вера", "Жду ответа")  # not mine: stays out of the view
            answer = await client.post(f"/api/v1/conversations/{ids['Глеб']}/assign", headers=headers, json={"operator_id": me["id"]})
            assert answer.status_code == 200, answer.text
            await expect(_order(page)).to_have_count(1, timeout=10_000)
            await expect(_order(page).first).to_have_attribute("data-conversation", str(ids["Глеб"]))
            await expect(page.get_by_test_id("inbox-empty")).to_have_count(0)
            await expect(page.get_by_test_id("list-total")).to_have_text("1 из 1 обращения")
            await asyncio.sleep(1.0)  # Вера's update had its time: still not in my view
            await expect(page.get_by_test_id(f"row-{ids['Вера']}")).to_have_count(0)
            answer = await client.post(f"/api/v1/conversations/{ids['Глеб']}/status", headers=headers, json={"status": "resolved"})
            assert answer.status_code == 200, answer.text
            await expect(_order(page)).to_have_count(0, timeout=10_000)
            await expect(page.get_by_test_id("list-total")).to_have_text("0 из 0 обращений")
            assert lists[read:] == [] or all("queue=mine" in url for url in lists[read:]), lists[read:]
            assert errors == []
    finally:
        settling.cancel()
