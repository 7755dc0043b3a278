"""The profile panel shows who else may be the same person, why, and merges/undoes from there."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import Conversation
from tests.factories import admin_headers, make_api_channel, make_operator, post_inbound
from tests.web.test_pages import WEB, _sign_in


async def test_a_likely_duplicate_is_suggested_with_reasons_and_can_be_merged_and_undone(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "p1", "from": {"phone": "+79161234567", "name": "Анна Петрова"}, "text": "Где заказ?"})
    await ctx.settle()
    await post_inbound(client, channel, {"message_id": "p2", "from": {"phone": "+79161234568", "email": "anna.petrova@mail.ru", "name": "Anna Petrova"}, "text": "Это снова я, с почты"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        first, second = (await session.execute(select(Conversation.id, Conversation.customer_id).order_by(Conversation.id))).all()
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])

    panel = (await client.get(f"/ui/conversations/{second.id}")).text
    assert 'data-testid="merge-suggestions"' in panel, panel[panel.find('data-testid="profile"'):][:3000]
    assert f'data-suggestion="{first.customer_id}"' in panel
    assert "фамилия" in panel and "телефон: отличается одной цифрой" in panel  # the reasons, in Russian

    merged = await client.post(f"/api/v1/customers/{second.customer_id}/merge", json={"other_customer_id": first.customer_id, "reason": "одна и та же Анна"}, headers=WEB)
    assert merged.status_code == 200, merged.text
    panel = (await client.get(f"/ui/conversations/{second.id}")).text
    assert "+79161234567" in panel and "anna.petrova@mail.ru" in panel  # both profiles' keys on one
    assert 'data-testid="merges"' in panel and "undo-merge-" in panel
    merge_id = int(panel.split('data-testid="undo-merge-')[1].split('"')[0])
    assert (await client.post(f"/api/v1/merges/{merge_id}/undo", json={"reason": "ошиблись"}, headers=WEB)).status_code == 200
    panel = (await client.get(f"/ui/conversations/{second.id}")).text
    assert "+79161234567" not in panel.split('data-testid="identities"')[1].split("</ul>")[0]
    assert "отменено" in panel
