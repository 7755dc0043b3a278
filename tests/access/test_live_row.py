"""The live row (``GET /ui/inbox/rows/{id}``, okno.conversations.inbox_row) checks the principal's
visibility in the same statement that places the row: per role and team it answers exactly as
``access_conversation`` does (404 for another team's conversation, as for a missing one), before
any filter or cursor of the query string is looked at, and its total is the total of the list
that principal sees."""

from __future__ import annotations

import re

from okno.models import Conversation
from tests.access.world import PRINCIPALS, make_world


def _row(answer) -> tuple[int, str, int]:  # noqa: ANN001
    """(status code, data-member, data-total) of a row fragment."""
    member = re.search(r'data-member="(\d)"', answer.text)
    total = re.search(r'data-total="(\d+)"', answer.text)
    return answer.status_code, member.group(1) if member else "", int(total.group(1)) if total else -1


async def test_an_unteamed_row_follows_the_setting_for_operators_and_an_assigned_one_is_seen_whatever_its_team(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    unteamed = await world.bundle(None)
    theirs = await world.bundle("B")
    url = f"/ui/inbox/rows/{unteamed.conversation_id}?queue=all&shown=0"
    assert {who: _row(await client.get(url, headers=world.bearer(who)))[:2] for who in PRINCIPALS} == dict.fromkeys(PRINCIPALS, (200, "1"))
    ctx.settings.operators_see_unteamed = False
    seen = {who: (await client.get(url, headers=world.bearer(who))).status_code for who in PRINCIPALS}
    assert seen == {"operator_a": 404, "operator_b": 404, "supervisor_a": 200, "supervisor_b": 200, "admin": 200}
    theirs_url = f"/ui/inbox/rows/{theirs.conversation_id}?queue=all&shown=0"
    assert (await client.get(theirs_url, headers=world.bearer("operator_a"))).status_code == 404
    async with ctx.db.transaction() as session:  # what he is assigned he sees, whatever its team
        (await session.get(Conversation, theirs.conversation_id)).assignee_id = world.operators["operator_a"]
    assert _row(await client.get(theirs_url, headers=world.bearer("operator_a")))[:2] == (200, "1")
    assert _row(await client.get(f"{theirs_url}&queue=mine", headers=world.bearer("operator_a")))[:2] == (200, "1")


async def test_a_hidden_row_is_not_found_whatever_the_filter_or_the_cursor(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    theirs = await world.bundle("B")
    base = f"/ui/inbox/rows/{theirs.conversation_id}?shown=0"
    for query in ("&queue=all", "&queue=all&status=resolved", "&queue=team", "&queue=mine", "&queue=all&sort=recent&until=not-a-cursor", "&q=zzz"):
        assert (await client.get(base + query, headers=world.bearer("operator_a"))).status_code == 404, query
        assert (await client.get(base + query, headers=world.bearer("supervisor_a"))).status_code == 404, query
    # the same requests for one who sees it: a member, left out by the filter, or a cursor refused (422)
    b = world.bearer("operator_b")
    assert _row(await client.get(base + "&queue=all", headers=b))[:2] == (200, "1")
    assert _row(await client.get(base + "&queue=all&status=resolved", headers=b))[:2] == (200, "0")
    assert _row(await client.get(base + "&queue=mine", headers=b))[:2] == (200, "0")
    assert (await client.get(base + "&queue=all&sort=recent&until=not-a-cursor", headers=b)).status_code == 422
    # a cursor is needed only to place a member: a row the filter leaves out is answered without it
    assert _row(await client.get(base + "&queue=all&status=resolved&sort=recent&until=not-a-cursor", headers=b))[:2] == (200, "0")


async def test_the_rows_total_is_the_total_of_the_list_each_principal_sees(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    await world.bundle("A")
    for _ in range(3):
        await world.bundle("B")
    unteamed = await world.bundle(None)
    url = f"/ui/inbox/rows/{unteamed.conversation_id}?queue=all&shown=0"
    totals = {who: _row(await client.get(url, headers=world.bearer(who)))[2] for who in PRINCIPALS}
    assert totals == {"operator_a": 2, "supervisor_a": 2, "operator_b": 4, "supervisor_b": 4, "admin": 5}
    for who in PRINCIPALS:  # the list's own total, for the same principal
        listed = await client.get("/ui/inbox/list?queue=all", headers=world.bearer(who))
        assert f'data-total="{totals[who]}"' in listed.text, who
