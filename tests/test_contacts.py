"""Contacts: operators write customers down by hand (okno.customers.contacts, /api/v1/customers)."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import AuditEntry, TimelineEvent
from tests.access.world import make_world


async def test_create_search_and_edit_a_contact(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    op = world.bearer("operator_b")
    created = await client.post("/api/v1/customers", headers=op, json={
        "name": "Ольга Петрова", "phones": ["8 (916) 555-01-01"], "emails": ["Olga@Example.ru"], "attributes": {"city": "Казань"},
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Ольга Петрова" and body["attributes"] == {"city": "Казань"}
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {("phone", "+79165550101"), ("email", "olga@example.ru")}
    cid = body["id"]

    for q in ("ольга", "Петро", "+7 916 555-01-01", "olga@example.ru"):
        found = await client.get("/api/v1/customers", headers=op, params={"q": q})
        assert cid in {c["id"] for c in found.json()["items"]}, q
    assert (await client.get("/api/v1/customers", headers=op, params={"q": "Никто"})).json()["items"] == []

    edited = await client.patch(f"/api/v1/customers/{cid}", headers=op, json={
        "name": "Ольга Петрова-Смирнова", "phones": ["+79165550101", "+79035550202"], "emails": ["olga@work.ru"], "attributes": {"city": None},
    })
    assert edited.status_code == 200, edited.text
    assert edited.json()["name"] == "Ольга Петрова-Смирнова" and edited.json()["attributes"] == {}
    assert len(edited.json()["identities"]) == 4  # the phone he already had is not added twice
    async with ctx.db.reading() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind).where(TimelineEvent.customer_id == cid).order_by(TimelineEvent.id)))
        audited = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.customer_id == cid).order_by(AuditEntry.id)))
        added = list(await session.scalars(select(TimelineEvent.data).where(TimelineEvent.kind == "identity.added", TimelineEvent.customer_id == cid)))
    assert kinds.count("identity.added") == 4 and "customer.renamed" in kinds and "customer.created_by_operator" in kinds
    assert audited[:2] == ["customer.created", "customer.edited"]
    assert all(d["proof"] == "manual" for d in added)


async def test_a_key_another_customer_owns_is_refused_and_other_teams_cannot_edit(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    first = await client.post("/api/v1/customers", headers=world.bearer("admin"), json={"name": "А", "phones": ["+79161112233"]})
    taken = await client.post("/api/v1/customers", headers={**world.bearer("operator_a"), "Accept-Language": "ru"},
                              json={"name": "Б", "phones": ["89161112233"]})
    assert taken.status_code == 409 and taken.json()["code"] == "identity_taken"
    assert taken.json()["detail"] == "+79161112233 уже принадлежит другому клиенту: объедините профили"
    bundle = await world.bundle("B")
    refused = await client.patch(f"/api/v1/customers/{bundle.customer_id}", headers=world.bearer("operator_a"), json={"name": "чужой"})
    assert refused.status_code == 404
    bad = await client.post("/api/v1/customers", headers=world.bearer("admin"), json={"phones": ["not a phone"]})
    assert bad.status_code == 422
    assert first.status_code == 201


async def test_no_contacts_for_whoever_cannot_see_customers_without_conversations(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    ctx.settings.operators_see_unteamed = False
    try:
        refused = await client.post("/api/v1/customers", headers=world.bearer("operator_a"), json={"name": "В"})
        assert refused.status_code == 403 and refused.json()["code"] == "contacts_not_allowed"
        ctx.settings.global_customer_directory = True
        assert (await client.post("/api/v1/customers", headers=world.bearer("operator_a"), json={"name": "В"})).status_code == 201
    finally:
        ctx.settings.operators_see_unteamed, ctx.settings.global_customer_directory = True, False
