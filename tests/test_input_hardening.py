"""Input okno can't store is refused with 4xx before it reaches a database, on SQLite and
PostgreSQL alike: NUL characters and lone surrogates (422), ids past 64 bits (404 in the path, 422
elsewhere), JSON numbers past 64 bits (422); stored attachment metadata of the wrong type renders."""

from __future__ import annotations

import orjson
from sqlalchemy import func, select, update

from okno.models import Message, Team
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

HUGE = 2**64
WEB = {"X-Okno-Client": "web"}


async def _teams(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Team))


async def test_nul_is_refused_in_bodies_queries_forms_and_login(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    before = await _teams(ctx)
    for body in ('{"name": "Продажи\\u0000"}', '{"name": "a\\ud800"}', '{"name": "a\\udc00b"}'):
        refused = await client.post("/api/v1/teams", headers={**headers, "content-type": "application/json"}, content=body)
        assert refused.status_code == 422 and "NUL" in refused.json()["detail"], body
    assert await _teams(ctx) == before  # nothing half-written
    # an escaped backslash followed by "u0000" is plain text, and a surrogate pair is an emoji
    for name, body in (("a\\u0000", '{"name": "a\\\\u0000"}'), ("Смайл 😀", '{"name": "\\u0421\\u043c\\u0430\\u0439\\u043b \\ud83d\\ude00"}')):
        created = await client.post("/api/v1/teams", headers={**headers, "content-type": "application/json"}, content=body)
        assert created.status_code == 201 and created.json()["name"] == name, created.text

    assert (await client.get("/api/v1/customers?q=%00", headers=headers)).status_code == 422
    assert (await client.get("/api/v1/statuses/a%00b", headers=headers)).status_code == 422
    login = await client.post("/api/v1/auth/login", json={"email": "admin\x00@okno.test", "password": PASSWORD})
    assert login.status_code == 422
    ui_login = await client.post("/ui/session", json={"email": "x@okno.test", "password": "pass\x00word"})
    assert ui_login.status_code == 422
    form = await client.post("/ui/session", data={"email": "a\x00"}, headers=WEB)
    assert form.status_code == 422


async def test_a_nul_in_a_multipart_reply_field_is_refused_but_file_bytes_pass(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+79160000001"}, "text": "Привет"})
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    refused = await client.post(url, headers=headers, data={"text": "при\x00вет", "internal": "true"}, files={"files": ("a.bin", b"\x00\x01", "application/octet-stream")})
    assert refused.status_code == 422
    sent = await client.post(url, headers=headers, data={"text": "файл", "internal": "true"}, files={"files": ("a.bin", b"\x00\x01\x02", "application/octet-stream")})
    assert sent.status_code == 201, sent.text
    # a browser's boundary has capitals: parts are still told apart (the text part comes first)
    boundary = "----WebKitFormBoundaryAbCdEf012345"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nфото\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="internal"\r\n\r\ntrue\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="b.bin"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    body += b"\x00\xff\x00" + f"\r\n--{boundary}--\r\n".encode()
    browser = await client.post(url, headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"}, content=body)
    assert browser.status_code == 201, browser.text


async def test_ids_past_64_bits_answer_404_or_422_never_500(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    for path in (f"/api/v1/customers/{HUGE}", f"/api/v1/conversations/{HUGE}", f"/api/v1/customers/-{HUGE}", f"/ui/conversations/{HUGE}"):
        assert (await client.get(path, headers=headers)).status_code == 404, path
    assert (await client.post(f"/webhooks/{HUGE}", content=b"{}")).status_code == 404  # the webhook fast path
    assert (await client.get(f"/webhooks/{2**63}")).status_code == 404
    assert (await client.post(f"/widget/{HUGE}/session", json={})).status_code == 404
    assert (await client.get(f"/widget/{HUGE}.js")).status_code == 404
    for query in (f"after_id={HUGE}", f"customer_id={HUGE}", f"before_id=-{HUGE}"):
        path = "/api/v1/conversations" if "customer" in query or "before" in query else "/api/v1/customers"
        answer = await client.get(f"{path}?{query}", headers=headers)
        assert answer.status_code == 422, (query, answer.text)
    body_id = await client.post("/api/v1/conversations", headers=headers, json={"customer_id": HUGE, "channel_id": 1, "text": "x"})
    assert body_id.status_code in (404, 422), body_id.text
    member = await client.post("/api/v1/teams", headers=headers, json={"name": "Поддержка"})
    added = await client.post(f"/api/v1/teams/{member.json()['id']}/members", headers=headers, json={"operator_id": HUGE})
    assert added.status_code in (404, 422), added.text


async def test_a_json_number_past_64_bits_is_refused(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+79160000001"}, "text": "Привет"})
    await ctx.settle()
    customer = (await client.get("/api/v1/customers", headers=headers)).json()["items"][0]
    answer = await client.patch(f"/api/v1/customers/{customer['id']}/attributes", headers={**headers, "content-type": "application/json"},
                                content=orjson.dumps({"loyalty": {"points": 1}}).replace(b"1}", str(HUGE).encode() + b"}"))
    assert answer.status_code == 422, answer.text
    job = await client.post(f"/api/v1/matcher/reindex?after_id={HUGE}", headers=headers)  # lands in a JSON job payload
    assert job.status_code == 422, job.text


async def test_attachment_metadata_of_the_wrong_type_still_renders(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+79160000001"}, "text": "Вот файл"})
    await ctx.settle()
    stored = [{"kind": "file", "name": "счёт.pdf", "size": "12kb"}, "not-a-dict", {"kind": "file", "name": "b.pdf", "size": -5},
              {"kind": "file", "name": "c.pdf", "size": True}, {"kind": "file", "name": "d.pdf", "size": 3072}]
    async with ctx.db.transaction() as session:
        await session.execute(update(Message).values(attachments=stored))
    operator = await make_operator(ctx)
    signed_in = await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})
    assert signed_in.status_code == 200
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    page = await client.get(f"/ui/conversations/{conversation['id']}")
    assert page.status_code == 200, page.text
    assert "счёт.pdf" in page.text and "(3 КБ)" in page.text and "12kb" not in page.text
    message_id = page.text.split("/api/v1/messages/")[1].split("/")[0]
    assert f"/api/v1/messages/{message_id}/attachments/4" in page.text  # positions kept for the download links
