"""Data-subject requests from the customer's profile: an admin downloads the export and erases
the person through the page's own dialog (a reason and the customer's id typed back), then sees
the tombstone; a supervisor may only export (in Russian here); an operator sees neither."""

from __future__ import annotations

import json

from playwright.async_api import expect
from sqlalchemy import select, update

from okno.models import AuditEntry, Conversation, Customer, Operator
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound


async def _conversation(client, ctx) -> tuple[dict, Conversation]:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "dsr1", "from": {"phone": "+79167770011", "name": "Вера Кузнецова"}, "text": "Мой адрес: Тверская, 7"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        conversation = await session.scalar(select(Conversation))
    return headers, conversation


async def test_an_admin_exports_then_erases_with_a_reason_and_the_id_typed_back(app, client, ctx, browser, tmp_path) -> None:
    headers, conversation = await _conversation(client, ctx)
    admin = await make_operator(ctx, role="admin", name="Ирина")
    async with ctx.db.transaction() as session:  # she works in English (the sign-in page follows the browser: Russian)
        await session.execute(update(Operator).where(Operator.id == admin["id"]).values(locale="en"))
    customer = str(conversation.customer_id)
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900}, accept_downloads=True)).new_page()
        prompts: list[str] = []
        page.on("dialog", lambda dialog: (prompts.append(dialog.message), dialog.dismiss()))
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&c={conversation.id}")

        async with page.expect_download() as waiting:
            await page.get_by_test_id("export-customer").click()
        download = await waiting.value
        assert download.suggested_filename == f"okno-customer-{customer}.json"
        saved = tmp_path / "export.json"
        await download.save_as(saved)
        document = json.loads(saved.read_text(encoding="utf-8"))
        assert document["format"] == "okno.customer-export/1" and document["customer"]["name"] == "Вера Кузнецова"
        assert [m["text"] for m in document["messages"]] == ["Мой адрес: Тверская, 7"]

        await page.get_by_test_id("erase-customer").click()
        dialog = page.get_by_test_id("erase-dialog")
        await expect(dialog).to_be_visible()
        await expect(page.get_by_test_id("erase-expected")).to_have_text(customer)
        ok = page.get_by_test_id("erase-ok")
        await page.get_by_test_id("erase-reason").fill("Запрос №17 от 06.12")
        await expect(ok).to_be_disabled()  # the id is not typed yet
        await page.get_by_test_id("erase-typed").fill(customer + "1")
        await expect(ok).to_be_disabled()  # a wrong id
        await page.get_by_test_id("erase-typed").fill(customer)
        await expect(ok).to_be_enabled()
        await ok.click()
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_test_id("customer-erased")).to_contain_text("Personal data erased")
        await expect(page.get_by_test_id("identities").locator("li")).to_have_count(0)
        assert prompts == []  # the page's own dialog, never a browser prompt

    assert (await client.get(f"/api/v1/customers/{customer}", headers=headers)).json()["name"] == ""
    async with ctx.db.reading() as session:
        assert (await session.get(Customer, conversation.customer_id)).erased_at is not None
        entries = {e.action: e for e in await session.scalars(select(AuditEntry).where(AuditEntry.action.in_(("customer.exported", "customer.erased"))))}
    assert set(entries) == {"customer.exported", "customer.erased"}
    assert entries["customer.erased"].actor_id == admin["id"] and entries["customer.erased"].data["reason"] == "Запрос №17 от 06.12"


async def test_a_supervisor_may_export_but_not_erase_and_an_operator_neither(app, client, ctx, browser) -> None:
    _, conversation = await _conversation(client, ctx)
    supervisor = await make_operator(ctx, role="supervisor", name="Ольга")
    operator = await make_operator(ctx, role="operator", name="Пётр")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})).new_page()
        await sign_in(page, okno.url, supervisor["email"], supervisor["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&c={conversation.id}")
        await expect(page.get_by_test_id("export-customer")).to_have_text("Выгрузить персональные данные (JSON)")
        await expect(page.get_by_test_id("erase-customer")).to_have_count(0)
        await expect(page.get_by_test_id("erase-dialog")).to_be_hidden()

        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})).new_page()
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&c={conversation.id}")
        await expect(page.get_by_test_id("profile")).to_be_visible()
        await expect(page.get_by_test_id("data-subject")).to_have_count(0)
