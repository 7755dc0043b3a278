"""An operator deletes a Google review's public reply from the conversation: the page's own
dialog confirms, the fake Google loses the reply, and the timeline says so."""

from __future__ import annotations

from playwright.async_api import expect

from okno.channels.adapters.google_reviews.fake import FakeGoogleReviews
from okno.models import Conversation
from tests.browser.steps import sign_in
from tests.channels.test_google_reviews import _poll, _rows
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_operator


async def test_the_public_reply_is_deleted_after_a_confirmation(app, client, ctx, browser) -> None:
    fake = FakeGoogleReviews()
    async with LoopbackServer(fake.app) as google, LoopbackServer(app) as okno:
        fake.base_url = google.url
        headers = await admin_headers(ctx, client)
        assert (await client.post("/api/v1/channels", json={"kind": "google_reviews", "name": "Google", "config": fake.channel_config()}, headers=headers)).status_code == 201
        fake.add_review("Мария", 2, "Долго везли", review_id="AbFvOqUi")
        await _poll(ctx)
        [conversation] = await _rows(ctx, Conversation)
        assert (await client.post(f"/api/v1/conversations/{conversation.id}/messages", json={"text": "Простите нас"}, headers=headers)).status_code == 201
        await ctx.settle()
        assert "reviewReply" in fake.reviews["AbFvOqUi"]

        operator = await make_operator(ctx, name="Ольга")
        page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})).new_page()
        prompts: list[str] = []
        page.on("dialog", lambda dialog: (prompts.append(dialog.message), dialog.dismiss()))
        await sign_in(page, okno.url, operator["email"], operator["password"])
        await page.goto(f"{okno.url}/inbox?queue=all&c={conversation.id}")
        button = page.get_by_test_id("delete-review-reply")
        await expect(button).to_have_text("Удалить публичный ответ")

        await button.click()
        await page.get_by_test_id("delete-reply-cancel").click()  # changed her mind: nothing happens
        await expect(page.get_by_test_id("delete-reply-confirm")).to_be_hidden()
        assert "reviewReply" in fake.reviews["AbFvOqUi"]

        await button.click()
        await page.get_by_test_id("delete-reply-ok").click()
        await expect(page.get_by_test_id("review-reply-deleted")).to_have_text("Публичный ответ на отзыв удалён")
        await expect(page.get_by_test_id("delete-review-reply")).to_have_count(0)
        assert "reviewReply" not in fake.reviews["AbFvOqUi"] and prompts == []
