"""The access rules one by one (okno.access; docs/access.md): unteamed conversations, assignment,
the timeline and profile of a customer shared by two teams, merged profiles, the global customer
directory, supervisors' figures, canned answers, and the channels a reply may go through."""

from __future__ import annotations

from okno.models import Conversation
from tests.access.world import make_world
from tests.factories import make_api_channel


async def test_queue_counts_count_only_visible_conversations(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    await world.bundle("A")
    for _ in range(3):
        await world.bundle("B")
    await world.bundle(None)
    counts = {who: (await client.get("/ui/inbox/counts", headers=world.bearer(who))).json() for who in ("operator_a", "operator_b", "admin")}
    assert counts["operator_a"]["all"] == 2 and counts["operator_a"]["team"] == 1  # his team's and the unteamed one
    assert counts["operator_b"]["all"] == 4 and counts["operator_b"]["team"] == 3
    assert counts["admin"]["all"] == 5


async def test_unteamed_conversations_are_a_setting_for_operators_not_supervisors(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    unteamed = await world.bundle(None)
    url = f"/api/v1/conversations/{unteamed.conversation_id}"
    assert (await client.get(url, headers=world.bearer("operator_a"))).status_code == 200
    ctx.settings.operators_see_unteamed = False
    assert (await client.get(url, headers=world.bearer("operator_a"))).status_code == 404
    assert (await client.get(f"/api/v1/customers/{unteamed.customer_id}", headers=world.bearer("operator_a"))).status_code == 404
    assert (await client.get(url, headers=world.bearer("supervisor_a"))).status_code == 200
    # what he is assigned he sees, whatever its team
    async with ctx.db.transaction() as session:
        (await session.get(Conversation, unteamed.conversation_id)).assignee_id = world.operators["operator_a"]
    assert (await client.get(url, headers=world.bearer("operator_a"))).status_code == 200


async def test_a_customer_of_two_teams_shows_each_team_only_its_conversations(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    theirs = await world.bundle("B")
    async with ctx.db.transaction() as session:  # the same customer also talks to team A
        conversation = Conversation(customer_id=theirs.customer_id, channel_id=world.channel["id"], team_id=world.team_a, status="open")
        session.add(conversation)
        await session.flush()
        mine = conversation.id
    headers = world.bearer("operator_a")
    assert (await client.get(f"/api/v1/customers/{theirs.customer_id}", headers=headers)).status_code == 200
    listed = (await client.get("/api/v1/conversations", params={"customer_id": theirs.customer_id}, headers=headers)).json()["items"]
    assert [c["id"] for c in listed] == [mine]
    timeline = (await client.get(f"/api/v1/customers/{theirs.customer_id}/timeline", headers=headers)).json()["items"]
    assert theirs.conversation_id not in {e["conversation_id"] for e in timeline}
    admin_timeline = (await client.get(f"/api/v1/customers/{theirs.customer_id}/timeline", headers=world.bearer("admin"))).json()["items"]
    assert theirs.conversation_id in {e["conversation_id"] for e in admin_timeline}
    panel = (await client.get(f"/ui/conversations/{mine}", headers=headers)).text
    assert f'data-conversation="{theirs.conversation_id}"' not in panel and f"#{theirs.conversation_id}" not in panel


async def test_a_merged_profile_is_visible_through_its_survivor(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    merge_id = await world.merge("B")
    merge = (await client.get(f"/api/v1/merges/{merge_id}", headers=world.bearer("admin"))).json()
    tombstone = f"/api/v1/customers/{merge['merged_id']}"
    assert (await client.get(tombstone, headers=world.bearer("operator_b"))).json()["merged_into_id"] == merge["survivor_id"]
    assert (await client.get(tombstone, headers=world.bearer("operator_a"))).status_code == 404


async def test_the_global_customer_directory_opens_profiles_not_conversations(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    theirs = await world.bundle("B")
    headers = world.bearer("operator_a")
    assert (await client.get(f"/api/v1/customers/{theirs.customer_id}", headers=headers)).status_code == 404
    ctx.settings.global_customer_directory = True
    assert (await client.get(f"/api/v1/customers/{theirs.customer_id}", headers=headers)).status_code == 200
    assert theirs.customer_id in {c["id"] for c in (await client.get("/api/v1/customers", headers=headers)).json()["items"]}
    assert (await client.get(f"/api/v1/conversations/{theirs.conversation_id}", headers=headers)).status_code == 404
    timeline = (await client.get(f"/api/v1/customers/{theirs.customer_id}/timeline", headers=headers)).json()["items"]
    assert timeline == []  # every entry belongs to team B's conversation


async def test_supervisors_figures_count_their_teams(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    await world.bundle("A")
    for _ in range(3):
        await world.bundle("B")
    figures = {who: (await client.get("/ui/supervisor/data", headers=world.bearer(who))).json() for who in ("supervisor_a", "supervisor_b", "admin")}
    assert figures["supervisor_a"]["queues"]["unassigned"] == 1
    assert figures["supervisor_b"]["queues"]["unassigned"] == 3
    assert figures["admin"]["queues"]["unassigned"] == 4
    assert sum(figures["supervisor_a"]["volume"].get("api", [])) == 1 and sum(figures["admin"]["volume"].get("api", [])) == 4
    # the load table names the people of his teams (and himself), not the other team's
    people = {who: {row["operator_id"] for row in figures[who]["load"]} for who in figures}
    ops = world.operators
    assert {ops["operator_a"], ops["supervisor_a"]} <= people["supervisor_a"]
    assert not {ops["operator_b"], ops["supervisor_b"]} & people["supervisor_a"]
    assert {ops["operator_b"], ops["supervisor_b"]} <= people["supervisor_b"] and set(ops.values()) <= people["admin"]


async def test_a_shared_canned_answer_does_not_open_another_teams_conversation(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    shared, theirs = await world.canned_answer(None), await world.bundle("B")
    body = {"conversation_id": theirs.conversation_id}
    assert (await client.post(f"/api/v1/canned-answers/{shared}/render", json=body, headers=world.bearer("operator_a"))).status_code == 404
    rendered = await client.post(f"/api/v1/canned-answers/{shared}/render", json=body, headers=world.bearer("operator_b"))
    assert rendered.status_code == 200 and rendered.json()["text"].startswith("Здравствуйте, Клиент")


async def test_replies_and_first_messages_go_only_through_the_customers_channels(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    admin = world.bearer("admin")
    other_crm = await make_api_channel(client, admin)  # another team's integration
    bundle = await world.bundle("B")
    url = f"/api/v1/conversations/{bundle.conversation_id}/messages"
    refused = await client.post(url, json={"text": "Ваш заказ 123", "channel_id": other_crm["id"]}, headers=world.bearer("operator_b"))
    assert refused.status_code == 422 and "can't reach customer" in refused.json()["detail"]
    files = await client.post(
        url, data={"text": "счёт", "channel_id": str(other_crm["id"])}, files={"files": ("a.pdf", b"%PDF-1.4 x", "application/pdf")},
        headers=world.bearer("operator_b"),
    )
    assert files.status_code == 422 and "can't reach customer" in files.json()["detail"]
    own = await client.post(url, json={"text": "Ваш заказ 123", "channel_id": world.channel["id"]}, headers=world.bearer("operator_b"))
    assert own.status_code == 201, own.text

    resolved = await world.bundle("B", status="resolved")
    start = {"customer_id": resolved.customer_id, "text": "Здравствуйте!"}
    foreign = await client.post("/api/v1/conversations", json=start | {"channel_id": other_crm["id"]}, headers=world.bearer("operator_b"))
    assert foreign.status_code == 422 and "can't reach customer" in foreign.json()["detail"]
    started = await client.post("/api/v1/conversations", json=start | {"channel_id": world.channel["id"]}, headers=world.bearer("operator_b"))
    assert started.status_code == 201, started.text


async def test_the_ui_answers_another_teams_conversation_and_the_supervisor_page_with_a_page(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    theirs = await world.bundle("B")
    page = await client.get(f"/inbox?c={theirs.conversation_id}", headers=world.cookie("operator_a"))
    assert page.status_code == 404 and 'data-testid="conversation-missing"' in page.text and "принадлежит другой команде" in page.text
    assert f'data-conversation="{theirs.conversation_id}"' not in page.text
    refused = await client.get("/supervisor", headers=world.cookie("operator_a"))
    assert refused.status_code == 403 and 'data-testid="error-page"' in refused.text and "для супервайзеров и администраторов" in refused.text
    assert (await client.get("/ui/supervisor/data", headers=world.bearer("operator_a"))).status_code == 403
