"""The surveys admin page over HTTP: admins get the table and the form (RU, then EN),
supervisors the table only, operators a refusal; the figures come from the surveys sent."""

from __future__ import annotations

from tests.factories import PASSWORD, admin_headers, make_operator

WEB = {"X-Okno-Client": "web"}


async def _sign_in(client, email: str) -> None:  # noqa: ANN001
    response = await client.post("/ui/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text


async def test_admins_edit_supervisors_read_operators_are_refused(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    created = await client.post(
        "/api/v1/surveys", json={"kind": "nps", "name": "NPS после решения", "question": {"ru": "Порекомендуете нас?"}}, headers=headers
    )
    assert created.status_code == 201, created.text
    admin = await make_operator(ctx, role="admin")
    await _sign_in(client, admin["email"])
    page = await client.get("/admin/surveys")
    assert page.status_code == 200
    assert "Опросы" in page.text and "NPS после решения" in page.text and "готовность рекомендовать" in page.text
    assert 'data-testid="survey-form"' in page.text and "Вопрос на русском" in page.text
    assert 'href="/admin/surveys"' in (await client.get("/admin/channels")).text
    assert (await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)).status_code == 200
    english = await client.get("/admin/surveys")
    assert "Surveys" in english.text and "NPS: would recommend, 0–10" in english.text and "Опросы" not in english.text
    # the form's own call: a patch through the cookie (the web client header)
    patched = await client.patch(f"/api/v1/surveys/{created.json()['id']}", json={"is_active": False}, headers=WEB)
    assert patched.status_code == 200 and patched.json()["is_active"] is False

    client.cookies.clear()
    supervisor = await make_operator(ctx, role="supervisor")
    await _sign_in(client, supervisor["email"])
    read_only = await client.get("/admin/surveys")
    assert read_only.status_code == 200 and "NPS после решения" in read_only.text and 'data-testid="survey-form"' not in read_only.text

    client.cookies.clear()
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    assert (await client.get("/admin/surveys")).status_code == 403
