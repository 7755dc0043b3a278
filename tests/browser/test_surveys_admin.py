"""An admin creates a CSAT survey on the surveys page in Chromium, reads the API's reason beside
the form when the question is missing, edits the survey and switches it off."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from okno.models.surveys import Survey
from tests.browser.steps import sign_in
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_operator


async def test_admin_creates_and_edits_a_survey(app, client, ctx, browser) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin")  # the first section; surveys are in its nav
        await page.locator("[data-section-link=surveys]").click()
        await expect(page.get_by_test_id("surveys-table")).to_contain_text("Опросов пока нет.")

        form = page.get_by_test_id("survey-form")
        await form.get_by_test_id("survey-name").fill("CSAT поддержки")
        await form.get_by_test_id("survey-save").click()  # no question in either language
        await expect(page.get_by_test_id("survey-error")).to_contain_text("текст вопроса")

        await form.get_by_test_id("survey-question-ru").fill("Оцените нашу помощь от 1 до 5")
        await form.get_by_test_id("survey-delay").fill("15")
        await form.get_by_label("Поддержка").check()
        await form.get_by_label("Уточняющий вопрос на русском (необязательно)").fill("Что улучшить?")
        await form.get_by_test_id("survey-save").click()
        row = page.locator("tr[data-survey]")
        await expect(row).to_contain_text("CSAT поддержки")
        await expect(row).to_contain_text("Поддержка")
        await expect(row).to_contain_text("удовлетворённость, 1–5")

        await row.get_by_role("button", name="Изменить").click()
        await expect(form.get_by_test_id("survey-question-ru")).to_have_value("Оцените нашу помощь от 1 до 5")
        await expect(form.get_by_test_id("survey-kind")).to_be_disabled()
        await form.get_by_test_id("survey-active").uncheck()
        await form.get_by_test_id("survey-save").click()
        await expect(page.locator("tr[data-survey] td").nth(5)).to_have_text("—")

    async with ctx.db.reading() as session:
        [survey] = (await session.scalars(select(Survey))).all()
    assert (survey.name, survey.kind, survey.delay_minutes, survey.team_ids, survey.is_active) == ("CSAT поддержки", "csat", 15, [team["id"]], False)
    assert survey.question == {"ru": "Оцените нашу помощь от 1 до 5"} and survey.follow_up == {"ru": "Что улучшить?"}


async def test_admin_deletes_an_unsent_survey_and_reads_why_a_sent_one_stays(app, client, ctx, browser) -> None:
    from okno.kit.time import utcnow
    from okno.models.surveys import SurveyRequest
    from tests.service.helpers import open_conversation

    headers = await admin_headers(ctx, client)
    draft = (await client.post("/api/v1/surveys", json={"kind": "csat", "name": "Черновик", "question": {"ru": "Как мы справились?"}}, headers=headers)).json()
    sent = (await client.post("/api/v1/surveys", json={"kind": "nps", "name": "NPS", "question": {"ru": "Порекомендуете?"}}, headers=headers)).json()
    conversation = await open_conversation(client, ctx, headers)
    async with ctx.db.transaction() as session:
        session.add(SurveyRequest(survey_id=sent["id"], conversation_id=conversation["id"], customer_id=conversation["customer_id"], kind="nps",
                                  state="sent", due_at=utcnow(), sent_at=utcnow()))  # fmt: skip
    admin = await make_operator(ctx, name="Админ", role="admin")
    async with LoopbackServer(app) as okno:
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})).new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, okno.url, admin["email"], admin["password"])
        await page.goto(f"{okno.url}/admin/surveys")
        await page.locator(f'tr[data-survey="{draft["id"]}"]').get_by_role("button", name="Удалить").click()
        await expect(page.locator(f'tr[data-survey="{draft["id"]}"]')).to_have_count(0)
        await page.locator(f'tr[data-survey="{sent["id"]}"]').get_by_role("button", name="Удалить").click()
        await expect(page.get_by_test_id("survey-error")).to_have_text("Опрос «NPS» уже отправлялся клиентам; выключите его вместо удаления")
    async with ctx.db.reading() as session:
        assert [s.id for s in (await session.scalars(select(Survey))).all()] == [sent["id"]]
