"""The issue's "done when": Telegram, a shared contact, a call and a CRM-linked e-mail are one profile."""

from __future__ import annotations

from datetime import UTC, datetime

from okno.channels.base import InboundMessage, SenderIdentity
from okno.customers.importer import import_rows
from okno.customers.matching.columns import map_columns
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by


async def _arrive(ctx, channel_id: int, n: int, sender: list[SenderIdentity], text: str) -> None:  # noqa: ANN001
    item = InboundMessage(provider_id=f"journey-{n}", sender=sender, sender_name="Ирина Котова", text=text)
    prepared = ctx.ingest.prepare(n, channel_id, item, datetime.now(UTC))
    async with ctx.db.transaction() as session:
        await ctx.ingest.apply(session, [prepared])


async def test_four_channels_one_profile_every_touch_on_the_timeline(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = (await make_api_channel(client, headers))["id"]
    await _arrive(ctx, channel, 1, [SenderIdentity(kind="telegram", value="5550001")], "Здравствуйте, где мой заказ?")
    own_contact = [SenderIdentity(kind="telegram", value="5550001"), SenderIdentity(kind="phone", value="+7 916 555-00-01", source="telegram.own_contact")]
    await _arrive(ctx, channel, 2, own_contact, "")
    await _arrive(ctx, channel, 3, [SenderIdentity(kind="phone", value="89165550001", source="caller_id")], "входящий звонок, 2 мин")
    async with ctx.db.transaction() as session:  # the CRM links the e-mail to the phone
        report = await import_rows(
            session, [{"phone": "8 916 555 00 01", "email": "Irina.Kotova@gmail.com", "name": "Ирина Котова"}],
            map_columns(["phone", "email", "name"]), id_column=None, first_row_number=2,
        )  # fmt: skip
    assert report.attached_by_key == 1 and report.created == 0
    await _arrive(ctx, channel, 4, [SenderIdentity(kind="email", value="irinakotova+shop@googlemail.com")], "Пишу с почты")

    profile = await customer_by(client, headers, "telegram:5550001")
    assert {(i["kind"], i["value"]) for i in profile["identities"]} == {
        ("telegram", "5550001"), ("phone", "+79165550001"), ("email", "irinakotova@gmail.com"),
    }  # fmt: skip
    assert len((await client.get("/api/v1/customers", headers=headers)).json()["items"]) == 1
    timeline = (await client.get(f"/api/v1/customers/{profile['id']}/timeline", headers=headers)).json()["items"]
    received = [e["data"]["text"] for e in timeline if e["kind"] == "message.received"]
    assert received == ["Здравствуйте, где мой заказ?", "", "входящий звонок, 2 мин", "Пишу с почты"]
    assert [e["kind"] for e in timeline].count("customer.imported") == 1
