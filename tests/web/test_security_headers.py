"""Security headers on every response, and Secure session cookies behind a trusted TLS proxy."""

from __future__ import annotations

import httpx

from okno.app import create_app
from okno.kit.forwarded import client_ip, is_https, trusted_networks
from tests.factories import PASSWORD, admin_headers, make_operator

WEB = {"X-Okno-Client": "web"}


def _directives(policy: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in policy.split(";")}


async def test_html_json_and_error_responses_carry_the_headers(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    for response in (
        await client.get("/login"),
        await client.get("/api/v1/customers", headers=headers),
        await client.get("/api/v1/customers"),  # 401
        await client.get("/static/app.js"),
        await client.get("/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        policy = _directives(response.headers["content-security-policy"])
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
        assert policy["script-src"] == "'self'" and "unsafe-inline" not in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain http here


async def test_pages_have_no_inline_script_or_event_handler(client, ctx) -> None:
    operator = await make_operator(ctx, role="admin")
    pages = {"/login": (await client.get("/login")).text}
    signed_in = await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})
    assert signed_in.status_code == 200
    for path in ("/inbox", "/supervisor", "/admin/channels", "/admin/routing"):
        page = await client.get(path)
        assert page.status_code == 200, path
        pages[path] = page.text
    for path, html in pages.items():
        scripts = html.split("<script")[1:]
        assert scripts, path
        for script in scripts:
            opening = script.split(">", 1)[0]
            assert 'src="' in opening or 'type="application/json"' in opening, (path, opening)
        for handler in (" onclick=", " onload=", " onerror=", " onchange=", " onsubmit=", "javascript:"):
            assert handler not in html, (path, handler)


async def test_the_widget_script_stays_a_script_for_other_sites(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = (await client.post("/api/v1/channels", headers=headers, json={
        "kind": "widget", "name": "Сайт", "config": {"allowed_origins": ["https://shop.example"]},
    })).json()
    script = await client.get(f"/widget/{channel['id']}.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"  # loads as a script: the type is right
    assert "cross-origin-resource-policy" not in script.headers  # any site may load it
    assert "innerHTML = (sheet ?" in script.text  # its looks come from a constructed sheet, not inline style


async def test_session_cookie_is_secure_only_behind_a_trusted_tls_proxy(settings) -> None:
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"}
    for trusted, peer, expect_secure in (("", "127.0.0.1", False), ("127.0.0.1", "127.0.0.1", True), ("10.0.0.0/8", "127.0.0.1", False)):
        app = create_app(settings.model_copy(update={"trusted_proxies": trusted}), start_workers=False)
        async with app.router.lifespan_context(app):
            operator = await make_operator(app.state.ctx)
            transport = httpx.ASGITransport(app=app, client=(peer, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://okno.test") as http:
                response = await http.post("/ui/session", json={"email": operator["email"], "password": PASSWORD}, headers=forwarded)
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"].lower()
        assert ("; secure" in cookie) is expect_secure, (trusted, cookie)
        assert ("strict-transport-security" in response.headers) is expect_secure
        assert "httponly" in cookie and "samesite=strict" in cookie


def test_forwarded_headers_are_believed_from_trusted_peers_only() -> None:
    networks = trusted_networks("10.0.0.0/8, 127.0.0.1")
    scope = {"scheme": "http", "client": ("10.1.2.3", 1), "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"203.0.113.9, 10.0.0.5")]}
    assert is_https(scope, networks) and client_ip(scope, networks) == "203.0.113.9"
    stranger = {**scope, "client": ("192.0.2.1", 1)}
    assert not is_https(stranger, networks) and client_ip(stranger, networks) == "192.0.2.1"
    assert not is_https(scope, ()) and client_ip(scope, ()) == "10.1.2.3"
    assert is_https({"scheme": "https", "client": ("192.0.2.1", 1), "headers": []}, ())


async def test_even_a_server_error_carries_the_headers(settings) -> None:
    app = create_app(settings, start_workers=False)

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://okno.test") as http:
            response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in response.headers["content-security-policy"]
