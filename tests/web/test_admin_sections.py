"""Administration in sections with their own addresses, and the pages a role does not open."""

from __future__ import annotations

import httpx

from okno.web.admin_pages import SECTIONS
from tests.factories import PASSWORD, make_operator

WEB = {"X-Okno-Client": "web"}


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    assert (await client.post("/ui/session", json={"email": email, "password": PASSWORD})).status_code == 200


async def test_admin_goes_to_the_first_section_and_operators_get_a_page(client, ctx) -> None:
    admin = await make_operator(ctx, role="admin")
    await _sign_in(client, admin["email"])
    first = await client.get("/admin")
    assert first.status_code == 303 and first.headers["location"] == "/admin/channels"
    for section in SECTIONS:  # every section opens, names itself in the nav and links the others
        page = await client.get(section.url)
        assert page.status_code == 200, section.key
        assert f'data-section-link="{section.key}" aria-current="page"' in page.text
        assert page.text.count("data-section-link=") == len(SECTIONS) + 2  # and surveys, the audit log
    assert 'id="routing-form"' in (await client.get("/admin/routing")).text
    assert 'id="routing-form"' not in (await client.get("/admin/sla")).text  # one section, not the long page
    assert (await client.get("/admin/nothing-here", headers={"accept": "text/html"})).status_code == 404

    client.cookies.clear()
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    for path in ["/admin", "/admin/surveys", "/admin/audit", *(s.url for s in SECTIONS)]:
        refused = await client.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html") and 'data-testid="error-page"' in refused.text, path
        assert "Недоступно" in refused.text and '"detail"' not in refused.text
    await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)
    english = await client.get("/admin/sla")
    assert "Not available" in english.text and "This page is for supervisors and administrators." in english.text
    assert "This page is for administrators." in (await client.get("/admin/audit")).text


async def test_the_tokens_section_is_for_admins_only(client, ctx) -> None:
    supervisor = await make_operator(ctx, role="supervisor")
    await _sign_in(client, supervisor["email"])
    refused = await client.get("/admin/tokens")
    assert refused.status_code == 403 and "Эта страница — для администраторов." in refused.text
    assert 'data-section-link="tokens"' not in (await client.get("/admin/channels")).text
    client.cookies.clear()
    operator = await make_operator(ctx)
    await _sign_in(client, operator["email"])
    assert (await client.get("/admin/tokens")).status_code == 403
    client.cookies.clear()
    admin = await make_operator(ctx, role="admin")
    await _sign_in(client, admin["email"])
    page = await client.get("/admin/tokens")
    assert page.status_code == 200 and 'data-testid="token-form"' in page.text
