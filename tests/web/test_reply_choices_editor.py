"""The reply box offers a choices editor, labelled in Russian and English, with the script's strings."""

from __future__ import annotations

import json

from sqlalchemy import select

from okno.models import Conversation
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

WEB = {"X-Okno-Client": "web"}


def _script_strings(page: str) -> dict[str, str]:
    return json.loads(page.split('<script type="application/json" id="okno-i18n">', 1)[1].split("</script>", 1)[0])


async def test_the_reply_box_has_a_choices_editor_in_both_languages(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "c1", "from": {"phone": "+79160008888", "name": "Анна"}, "text": "Здравствуйте"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    operator = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200

    russian = (await client.get(f"/ui/conversations/{conversation_id}")).text
    assert 'aria-controls="choices-editor"' in russian and 'aria-expanded="false"' in russian and "☰ Варианты" in russian
    assert '<option value="quick_replies">Быстрые ответы</option>' in russian and "Надпись на кнопке списка" in russian
    assert 'data-max="10"' in russian and "До 10 вариантов" in russian
    assert 'id="choices-error" class="error small" role="alert"' in russian
    strings = _script_strings((await client.get(f"/inbox?c={conversation_id}")).text)
    assert strings["choice_refused"] == "Не отправлено" and strings["choice_option"] == "Вариант"

    assert (await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)).status_code == 200
    english = (await client.get(f"/ui/conversations/{conversation_id}")).text
    assert "☰ Choices" in english and '<option value="list">List</option>' in english and "List button label" in english
    strings = _script_strings((await client.get(f"/inbox?c={conversation_id}")).text)
    assert strings["choice_need_button"] == "A list needs a button label: the customer taps it to open the list"
