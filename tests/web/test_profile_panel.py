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
    assert f'data-suggestion="{first.customer_id}"' in panel and f'data-testid="merge-{first.customer_id}"' not in panel  # merging: supervisors
    refused = await client.post(f"/api/v1/customers/{second.customer_id}/merge", json={"other_customer_id": first.customer_id, "reason": "?"}, headers=WEB)
    assert refused.status_code == 403 and refused.json()["detail"] == "Это действие: нужна роль руководителя или администратора"  # his language
    supervisor = await make_operator(ctx, role="supervisor")
    await _sign_in(client, supervisor["email"])

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


async def test_reasons_read_id_numbers_and_postcode_typos_in_russian_and_the_id_number_is_masked(client, ctx) -> None:
    from okno.customers.importer import import_rows
    from okno.customers.matching.columns import map_columns
    from okno.customers.matching.profiles import refresh_profiles
    from tests.identity.helpers import set_attributes

    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "s1", "from": {"phone": "+79161110022", "name": "Ольга Сидорова"}, "text": "Здравствуйте"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        conversation = (await session.execute(select(Conversation.id, Conversation.customer_id))).one()
    await set_attributes(ctx, conversation.customer_id, {"birth_date": "1984-03-12", "postcode": "170100", "id_number": "123-456-789 01"})
    async with ctx.db.transaction() as session:
        await refresh_profiles(session, [conversation.customer_id])
        columns = ["first_name", "last_name", "birth_date", "postcode", "snils"]  # the CRM has two digits swapped and a postcode typo
        row = {"first_name": "Olga", "last_name": "Sidorova", "birth_date": "12.03.1984", "postcode": "170101", "snils": "123-456-798 01"}
        assert (await import_rows(session, [row], map_columns(columns), id_column=None, first_row_number=2)).suggested == 1
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])

    panel = (await client.get(f"/ui/conversations/{conversation.id}")).text
    reasons = panel.split('data-testid="merge-suggestions"')[1].split("</ul>")[0]
    assert "номер документа: одна опечатка или два знака переставлены" in reasons, reasons
    assert "индекс или город: индекс с одной опечаткой" in reasons
    assert "•••• 8901" in panel and "123-456-789 01" not in panel


def test_every_matcher_field_and_level_has_a_label_in_both_languages() -> None:
    from okno.customers.matching.compare import COMPARISONS
    from okno.web.i18n import Translator
    from okno.web.pages import COMPARISON_LABELS, FIELD_LABELS

    assert sorted(c.name for c in COMPARISONS if c.name not in FIELD_LABELS) == []
    assert sorted(level for c in COMPARISONS for level in c.levels if level not in COMPARISON_LABELS) == []
    ru, en = Translator("ru"), Translator("en")
    assert [ru.gettext(FIELD_LABELS["id_number"]), en.gettext(FIELD_LABELS["id_number"])] == ["номер документа", "id number"]
    assert ru.gettext(COMPARISON_LABELS["two typos"]) == "две опечатки" and en.gettext(COMPARISON_LABELS["postcode one typo"]) == "postcode one typo"
