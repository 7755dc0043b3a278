"""A live update redraws one row (okno.conversations.inbox_row): the row is placed right after
the same row the whole list puts before it, on every sort with ties and NULLs; it falls beyond
the loaded rows exactly when the list's next page would bring it; a filter that leaves it out
says so; and the fragment carries the list's total."""

from __future__ import annotations

import random

import pytest

from okno.conversations.inbox import Cursor, InboxFilter, Sort, inbox_list
from okno.conversations.inbox_row import inbox_row
from okno.models import Operator
from tests.factories import PASSWORD, make_operator
from tests.web.test_inbox_paging import _insert_conversations

WEB = {"X-Okno-Client": "web"}


@pytest.mark.parametrize("sort", list(Sort))
async def test_each_row_goes_after_the_row_the_list_puts_before_it(ctx, sort: Sort) -> None:
    me = await make_operator(ctx)
    await _insert_conversations(ctx, 40, rng=random.Random(f"row-{sort}"), operator_id=me["id"])
    flt = InboxFilter(sort=sort)
    async with ctx.db.reading() as session:
        page = await inbox_list(session, flt, operator_id=me["id"], limit=500)
        order = [row.id for row in page.rows]
        edge = 24  # the page has loaded rows 0..24: its "load more" cursor is row 24's
        until = Cursor.of(sort, page.rows[edge]).encode()
        for index, conversation_id in enumerate(order):
            place = await inbox_row(session, flt, conversation_id, operator_id=me["id"], loaded_until=until)
            assert place.row is not None and place.row.id == conversation_id and place.total == len(order)
            assert place.beyond == (index > edge), (index, conversation_id)
            if not place.beyond:
                assert place.after_id == (order[index - 1] if index else None), (index, conversation_id)
            whole = await inbox_row(session, flt, conversation_id, operator_id=me["id"])  # every row loaded
            assert not whole.beyond and whole.after_id == (order[index - 1] if index else None)


async def test_a_row_the_filter_leaves_out_is_not_a_member(ctx) -> None:
    me = await make_operator(ctx)
    ids = await _insert_conversations(ctx, 6, rng=random.Random(3), operator_id=me["id"])
    async with ctx.db.reading() as session:
        place = await inbox_row(session, InboxFilter(status="resolved"), ids[0], operator_id=me["id"])
    assert place.row is None and place.total == 0


async def test_the_fragment_draws_the_row_its_place_and_the_total(client, ctx) -> None:
    me = await make_operator(ctx, role="admin")
    ids = await _insert_conversations(ctx, 5, rng=random.Random(5), operator_id=me["id"])
    assert (await client.post("/ui/session", json={"email": me["email"], "password": PASSWORD})).status_code == 200
    listed = await client.get("/ui/inbox/list?queue=all&sort=recent", headers=WEB)
    order = [int(part.split('"')[0]) for part in listed.text.split('data-conversation="')[1:]]
    second = order[1]
    answer = await client.get(f"/ui/inbox/rows/{second}?queue=all&sort=recent&shown=5&present=1", headers=WEB)
    assert answer.status_code == 200
    assert f'data-after="{order[0]}"' in answer.text and 'data-member="1"' in answer.text and 'data-beyond="0"' in answer.text
    assert f'data-testid="row-{second}"' in answer.text and 'data-total="5" data-shown="5"' in answer.text
    left_out = await client.get(f"/ui/inbox/rows/{second}?queue=all&status=resolved&shown=0", headers=WEB)
    assert 'data-member="0"' in left_out.text and "row-item" not in left_out.text
    assert (await client.get(f"/ui/inbox/rows/{max(ids) + 1000}", headers=WEB)).status_code == 404


async def test_another_teams_row_is_not_found_for_every_role_of_the_other_team(ctx, client) -> None:  # noqa: ANN001
    from tests.access.world import make_world

    world = await make_world(ctx, client)
    bundle = await world.bundle("B")
    url = f"/ui/inbox/rows/{bundle.conversation_id}?queue=all&shown=0"
    for who in ("operator_a", "supervisor_a"):
        refused = await client.get(url, headers=world.bearer(who))
        assert refused.status_code == 404, (who, refused.status_code)
        assert f"row-{bundle.conversation_id}" not in refused.text
    for who in ("operator_b", "supervisor_b", "admin"):
        shown = await client.get(url, headers=world.bearer(who))
        assert shown.status_code == 200 and 'data-member="1"' in shown.text and f'data-testid="row-{bundle.conversation_id}"' in shown.text, who


async def test_bad_row_requests_are_refused_with_a_reason_and_a_bad_theme_changes_nothing(client, ctx) -> None:
    me = await make_operator(ctx, role="admin")
    ids = await _insert_conversations(ctx, 3, rng=random.Random(3), operator_id=me["id"])
    assert (await client.post("/ui/session", json={"email": me["email"], "password": PASSWORD})).status_code == 200
    forged = await client.get(f"/ui/inbox/rows/{ids[0]}?queue=all&sort=recent&until=not-a-cursor", headers=WEB)
    assert forged.status_code == 422 and "Неверный указатель страницы" in forged.json()["detail"]
    other_sort = Cursor.of(Sort.priority, (await _any_row(ctx, me["id"]))).encode()
    assert (await client.get(f"/ui/inbox/rows/{ids[0]}?queue=all&sort=recent&until={other_sort}", headers=WEB)).status_code == 422
    odd = await client.get(f"/ui/inbox/rows/{ids[0]}?queue=all&shown=-3x&present=yes", headers=WEB)  # counts it can't read are 0
    assert odd.status_code == 200 and 'data-member="1"' in odd.text
    assert (await client.get(f"/ui/inbox/rows/{2**63}", headers=WEB)).status_code in (404, 422)
    purple = await client.patch("/api/v1/auth/me", json={"theme": "purple"}, headers=WEB)
    assert purple.status_code == 422 and "theme" in purple.text
    async with ctx.db.reading() as session:
        assert (await session.get(Operator, me["id"])).theme is None


async def _any_row(ctx, operator_id: int):  # noqa: ANN001, ANN202
    async with ctx.db.reading() as session:
        return (await inbox_list(session, InboxFilter(sort=Sort.priority), operator_id=operator_id, limit=1)).rows[0]
