"""A saved view is renamed and given other filters in the page's own dialog; its owner alone
may change it, and the change is audited."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from okno.models import AuditEntry, SavedView
from tests.browser.steps import russian_page
from tests.conftest import LoopbackServer
from tests.factories import make_operator


async def test_a_saved_view_is_renamed_and_given_the_filters_shown_now(app, ctx, client, browser) -> None:
    me = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
    other = await make_operator(ctx, name="Иван", role="supervisor")

    async def bearer(who: dict) -> dict:
        login = await client.post("/api/v1/auth/login", json={"email": who["email"], "password": who["password"]})
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    mine = await bearer(me)
    view = (await client.post("/api/v1/views", json={"name": "Возвраты", "query": "queue=all&tag=возврат"}, headers=mine)).json()
    stranger = await client.patch(f"/api/v1/views/{view['id']}", json={"name": "Чужое"}, headers=await bearer(other))
    assert stranger.status_code == 404  # only the owner changes it
    empty = await client.patch(f"/api/v1/views/{view['id']}", json={"name": " "}, headers={**mine, "Accept-Language": "ru"})
    assert empty.status_code == 422 and empty.json()["detail"] == "Укажите название"
    async with LoopbackServer(app) as okno:
        page, errors = await russian_page(browser, okno.url, me["email"], me["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&sort=recent")
        await page.get_by_test_id(f"view-edit-{view['id']}").click()
        dialog = page.get_by_test_id("view-edit-dialog")
        await expect(dialog).to_be_visible()
        await expect(page.get_by_test_id("view-edit-name")).to_have_value("Возвраты")
        await page.get_by_test_id("view-edit-cancel").click()  # cancelled: nothing changes
        await expect(dialog).to_be_hidden()
        await page.get_by_test_id(f"view-edit-{view['id']}").click()
        await page.get_by_test_id("view-edit-name").fill("Возвраты за неделю")
        await page.get_by_test_id("view-edit-filters").check()
        async with page.expect_response(lambda r: f"/api/v1/views/{view['id']}" in r.url and r.request.method == "PATCH") as saved:
            await page.get_by_test_id("view-edit-save").click()
        assert (await saved.value).status == 200
        link = page.get_by_test_id(f"view-{view['id']}")
        await expect(link).to_contain_text("Возвраты за неделю")
        await expect(link).to_have_attribute("data-view", "queue=all&sort=recent")
        await page.reload()  # kept on the server
        await expect(page.get_by_test_id(f"view-{view['id']}")).to_contain_text("Возвраты за неделю")
        assert errors == []
    async with ctx.db.reading() as session:
        stored = await session.get(SavedView, view["id"])
        assert (stored.name, stored.query) == ("Возвраты за неделю", "queue=all&sort=recent")
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "saved_view.changed"))
        assert entry is not None and entry.data["name"] == {"from": "Возвраты", "to": "Возвраты за неделю"}


async def test_a_view_saved_renamed_and_deleted_shows_at_once_with_its_buttons(app, ctx, browser) -> None:  # noqa: ANN001
    me = await make_operator(ctx, name="Ольга Смирнова", role="supervisor")
    async with LoopbackServer(app) as okno:
        page, errors = await russian_page(browser, okno.url, me["email"], me["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&sort=recent")
        strip = page.get_by_test_id("saved-views")
        await expect(strip).to_contain_text("Сохранённых представлений пока нет")
        await page.get_by_test_id("filters").locator("summary").click()
        await page.get_by_test_id("view-name").fill("Срочные")
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/views") and r.request.method == "POST") as created:
            await page.get_by_test_id("save-view").click()
        view_id = (await (await created.value).json())["id"]
        # without a reload: the link, and its owner's edit and delete buttons, in Russian
        await expect(page.get_by_test_id(f"view-{view_id}")).to_contain_text("Срочные")
        await expect(page.get_by_test_id(f"view-edit-{view_id}")).to_be_visible()
        await expect(page.get_by_test_id(f"view-delete-{view_id}")).to_have_attribute("aria-label", "Удалить представление «Срочные»")
        await expect(strip).not_to_contain_text("Сохранённых представлений пока нет")

        await page.get_by_test_id(f"view-edit-{view_id}").click()
        await page.get_by_test_id("view-edit-name").fill("Срочные сегодня")
        await page.get_by_test_id("view-edit-save").click()
        await expect(page.get_by_test_id(f"view-{view_id}")).to_contain_text("Срочные сегодня")
        await expect(page.get_by_test_id(f"view-delete-{view_id}")).to_have_attribute("aria-label", "Удалить представление «Срочные сегодня»")
        await expect(page.get_by_test_id(f"view-edit-{view_id}")).to_have_attribute("data-name", "Срочные сегодня")

        await page.get_by_test_id(f"view-delete-{view_id}").click()
        await expect(page.get_by_test_id("bulk-confirm-title")).to_have_text("Удалить представление «Срочные сегодня»?")
        async with page.expect_response(lambda r: f"/api/v1/views/{view_id}" in r.url and r.request.method == "DELETE") as deleted:
            await page.get_by_test_id("bulk-confirm-ok").click()
        assert (await deleted.value).status == 204, await (await deleted.value).text()
        await expect(page.get_by_test_id(f"view-{view_id}")).to_have_count(0)
        await expect(strip).to_contain_text("Сохранённых представлений пока нет")
        assert errors == []
