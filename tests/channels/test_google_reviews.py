"""Google reviews: a recorded list page polled through the real adapter over HTTP, paging with the
cursor, edits as new messages in the same conversation, a negative review made urgent, replies
PUT, the OAuth token refreshed, reviewers never merged on their display name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from okno.channels.adapters.google_reviews.fake import FakeGoogleReviews
from okno.kit.time import utcnow
from okno.models import ChannelPollState, Conversation, Customer, MatchSuggestion, Message, OutboxEvent, Priority, TimelineEvent
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

FIXTURES = Path(__file__).parent / "fixtures" / "google_reviews"
LIST_PAGE = json.loads((FIXTURES / "list_page.json").read_text(encoding="utf-8"))


@pytest.fixture
async def google(client, ctx):  # noqa: ANN001, ANN201
    fake = FakeGoogleReviews()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": "google_reviews", "name": "Google", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        yield fake, created.json(), headers


async def _poll(ctx) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).values(next_poll_at=utcnow()))
    while await ctx.polls.drain_once():
        pass
    await ctx.settle()


async def _rows(ctx, model, *order) -> list:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(model).order_by(*order or (model.id,)))).all())


async def test_a_recorded_page_becomes_one_conversation_per_review_and_the_one_star_is_urgent(client, ctx, google) -> None:
    fake, channel, headers = google
    for review in LIST_PAGE["reviews"]:
        fake.add_recorded(review)
    await _poll(ctx)
    messages = await _rows(ctx, Message)
    assert sorted((m.text, m.kind) for m in messages) == sorted(
        [("Заказ привезли через неделю, никто не отвечал на звонки.", "review"), ("Great service, fast delivery!", "review"), ("", "review")]
    )
    conversations = {c.thread_key: c for c in await _rows(ctx, Conversation)}
    assert set(conversations) == {"AbFvOqRec0001", "AbFvOqRec0002", "AbFvOqRec0003"}
    assert conversations["AbFvOqRec0001"].priority == Priority.high.value
    assert conversations["AbFvOqRec0002"].priority == Priority.normal.value == conversations["AbFvOqRec0003"].priority
    negative = [e.payload for e in await _rows(ctx, OutboxEvent) if e.topic == "review.negative"]
    assert negative == [{
        "conversation_id": conversations["AbFvOqRec0001"].id, "customer_id": conversations["AbFvOqRec0001"].customer_id, "channel_id": channel["id"],
        "message_id": next(m.id for m in messages if m.conversation_id == conversations["AbFvOqRec0001"].id),
        "stars": 1, "rating": 1, "scale": 5, "platform": "google",
    }]
    customer = (await client.get("/api/v1/customers", params={"identity": "google_review:AbFvOqRec0001"}, headers=headers)).json()["items"][0]
    assert customer["name"] == "Мария Соколова"

    # the operator's answer is PUT to the review's reply
    posted = await client.post(f"/api/v1/conversations/{conversations['AbFvOqRec0001'].id}/messages", json={"text": "Мария, простите за задержку"}, headers=headers)
    assert posted.status_code == 201, posted.text
    await ctx.settle()
    assert fake.calls[-1]["method"] == "PUT" and fake.calls[-1]["review_id"] == "AbFvOqRec0001"
    assert json.loads(fake.calls[-1]["body"]) == {"comment": "Мария, простите за задержку"}
    assert fake.reviews["AbFvOqRec0001"]["reviewReply"]["comment"] == "Мария, простите за задержку"


async def test_an_edit_is_a_new_message_in_the_same_conversation_and_a_repoll_adds_nothing(client, ctx, google) -> None:
    fake, _, _ = google
    fake.add_review("Пётр", 2, "Долго", review_id="AbFvOqEdit")
    await _poll(ctx)
    await _poll(ctx)  # nothing new: the newest review is read again and ignored
    fake.add_review("Пётр", 4, "Долго, но вопрос решили", review_id="AbFvOqEdit")
    await _poll(ctx)
    messages = await _rows(ctx, Message)
    assert [m.text for m in messages] == ["Долго", "Долго, но вопрос решили"]
    assert len({m.conversation_id for m in messages}) == 1 and len({m.customer_id for m in messages}) == 1


async def test_pages_are_walked_one_poll_each_and_the_token_is_refreshed(client, ctx, google) -> None:
    fake, channel, _ = google
    fake.page_size_cap = 2
    for n in range(5):
        fake.add_review(f"Клиент {n}", 5, f"Отзыв {n}")
    await _poll(ctx)
    assert fake.list_calls == 3 and fake.token_refreshes == 1  # 2 + 2 + 1, one token for all
    assert len(await _rows(ctx, Message)) == 5
    async with ctx.db.reading() as session:
        cursor = (await session.get(ChannelPollState, channel["id"])).cursor
    assert set(cursor) == {"since"}  # the pass is over: no page token left

    fake.expire_tokens()  # Google refuses the cached token: okno refreshes it once and goes on
    fake.add_review("Клиент 5", 5, "Отзыв 5")
    await _poll(ctx)
    assert fake.token_refreshes == 2 and len(await _rows(ctx, Message)) == 6


async def test_reviewers_with_the_same_name_are_never_merged(client, ctx, google) -> None:
    fake, _, _ = google
    fake.add_review("Анна", 5, "Спасибо")
    fake.add_review("Анна", 1, "Ужасно")
    await _poll(ctx)
    messages = await _rows(ctx, Message)
    assert len({m.customer_id for m in messages}) == 2


async def test_a_revoked_refresh_token_makes_the_channel_need_action(client, ctx, google) -> None:
    fake, channel, headers = google
    fake.refresh_token = "revoked"
    await _poll(ctx)
    listed = next(c for c in (await client.get("/api/v1/channels", headers=headers)).json()["items"] if c["id"] == channel["id"])
    assert listed["health"] == "needs_action" and "refresh" in listed["health_reason"]


async def test_the_operator_deletes_the_public_reply_with_a_timeline_entry(client, ctx, google) -> None:
    fake, _, headers = google
    fake.add_review("Мария", 2, "Долго везли", review_id="AbFvOqDel")
    await _poll(ctx)
    [conversation] = await _rows(ctx, Conversation)
    assert (await client.post(f"/api/v1/conversations/{conversation.id}/messages", json={"text": "Простите нас"}, headers=headers)).status_code == 201
    await ctx.settle()
    assert fake.reviews["AbFvOqDel"]["reviewReply"]["comment"] == "Простите нас"
    operator = await make_operator(ctx, role="admin")
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
    assert 'data-testid="delete-review-reply"' in (await client.get(f"/ui/conversations/{conversation.id}")).text  # a reply stands

    fake.fail_next_send("permanent")  # the provider refuses: 502 with its reason, nothing recorded
    refused = await client.delete(f"/api/v1/conversations/{conversation.id}/review-reply", headers=headers)
    assert refused.status_code == 502 and "The review was removed by the reviewer" in refused.json()["detail"]
    assert "reviewReply" in fake.reviews["AbFvOqDel"]

    deleted = await client.delete(f"/api/v1/conversations/{conversation.id}/review-reply", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"status": "deleted", "review_id": "AbFvOqDel"}
    assert fake.calls[-1]["method"] == "DELETE" and fake.calls[-1]["review_id"] == "AbFvOqDel" and "reviewReply" not in fake.reviews["AbFvOqDel"]
    entries = [e for e in await _rows(ctx, TimelineEvent) if e.kind == "review.reply_deleted"]
    assert [(e.conversation_id, e.actor_type, e.data) for e in entries] == [(conversation.id, "operator", {"review_id": "AbFvOqDel"})]
    html = (await client.get(f"/ui/conversations/{conversation.id}")).text
    assert 'data-testid="review-reply-deleted"' in html and 'data-testid="delete-review-reply"' not in html  # nothing left to delete


async def test_a_channel_that_keeps_no_replies_refuses_the_deletion(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    assert (await post_inbound(client, channel, {"message_id": "r1", "from": {"phone": "+79160000077"}, "text": "Здравствуйте"})).status_code == 200
    await ctx.settle()
    [conversation] = await _rows(ctx, Conversation)
    refused = await client.delete(f"/api/v1/conversations/{conversation.id}/review-reply", headers=headers)
    assert refused.status_code == 422 and "does not let okno delete" in refused.json()["detail"]
    assert (await client.delete("/api/v1/conversations/999999/review-reply", headers=headers)).status_code == 404


async def test_a_reviewer_is_suggested_never_merged_only_on_conservative_evidence(client, ctx, google) -> None:
    fake, _, headers = google  # the Google channel has no team: customers who wrote to no team count
    crm = await make_api_channel(client, headers)
    team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=headers)).json()
    sales = await make_api_channel(client, headers, team_id=team["id"])
    writers = [
        (crm, "m1", "+79160000101", "Мария Соколова"),  # the one to suggest
        (sales, "p1", "+79160000102", "Пётр Иванов"),  # wrote to another team
        (crm, "i1", "+79160000103", "Игорь"),  # a first name alone is no evidence
        (crm, "o1", "+79160000104", "Ольга Смирнова"),  # wrote too long ago
        *((crm, f"a{n}", f"+7916000020{n}", "Анна Петрова") for n in range(4)),  # too common to mean anyone
    ]
    for channel, message_id, phone, name in writers:
        assert (await post_inbound(client, channel, {"message_id": message_id, "from": {"phone": phone, "name": name}, "text": "Где заказ?"})).status_code == 200
    await ctx.settle()
    customers = {c.name: c.id for c in await _rows(ctx, Customer)}
    async with ctx.db.transaction() as session:
        await session.execute(update(Message).where(Message.customer_id == customers["Ольга Смирнова"]).values(created_at=utcnow() - timedelta(days=100)))

    for name in ("мария  Соколова", "Пётр Иванов", "Игорь", "Ольга Смирнова", "Анна Петрова"):
        fake.add_review(name, 2, "Долго везли")
    await _poll(ctx)

    suggestions = await _rows(ctx, MatchSuggestion)
    reviewer = next(c for c in await _rows(ctx, Customer) if c.name == "мария  Соколова")
    assert [(s.customer_id, s.other_customer_id, s.status) for s in suggestions] == [(reviewer.id, customers["Мария Соколова"], "open")]
    assert suggestions[0].contributions[0]["field"] == "reviewer_name" and suggestions[0].contributions[0]["evidence"] == "мария  Соколова"
    assert reviewer.merged_into_id is None and all(c.merged_into_id is None for c in await _rows(ctx, Customer))  # never merged
    shown = (await client.get(f"/api/v1/customers/{reviewer.id}/merge-suggestions", headers=headers)).json()["items"]
    assert [s["customer_id"] for s in shown] == [customers["Мария Соколова"]]

    fake.add_review("мария  Соколова", 4, "Всё-таки привезли", review_id=next(iter(fake.reviews)))  # an edit: no second suggestion
    await _poll(ctx)
    assert len(await _rows(ctx, MatchSuggestion)) == 1
