"""Security headers on every HTTP response, and ``Secure`` session cookies behind a TLS proxy.

The operator UI loads only its own scripts and styles (no inline script, no inline event
handler: data for the scripts travels in ``<script type="application/json">`` blocks), so the
policy below needs no ``'unsafe-inline'``. No okno page is meant to be framed: the website chat
is a script (``/widget/{id}.js``) that draws into the customer's page, not an iframe, so every
response refuses framing. FastAPI's interactive API pages (``/docs``, ``/redoc``) load their
script from a CDN with an inline bootstrap; they get the framing and plugin parts of the policy
only; the fake providers' pages (a demo aid) may style themselves inline. See docs/security.md.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okno.kit.forwarded import is_https, trusted_networks

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# the API explorer pages: their own CDN script stays allowed, framing and plugins do not
EXPLORER_POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
EXPLORER_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# the fake providers' pages and the demo shop (OKNO_FAKE_PROVIDERS only) style themselves inline
DEMO_PREFIXES = ("/fake", "/demo/")
DEMO_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
HSTS = (b"strict-transport-security", b"max-age=15552000")


def _secure_cookie(value: bytes) -> bytes:
    attributes = [a.strip().lower() for a in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


_POLICIES = {name: (b"content-security-policy", text.encode()) for name, text in (
    ("app", CONTENT_SECURITY_POLICY), ("explorer", EXPLORER_POLICY), ("demo", DEMO_POLICY))}


class SecurityHeaders:
    """Pure ASGI (no body buffering): adds the headers when the response starts."""

    def __init__(self, app: ASGIApp, trusted_proxies: str = "") -> None:
        self.app = app
        self.networks = trusted_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        policy = _POLICIES["explorer" if path in EXPLORER_PATHS else "demo" if path.startswith(DEMO_PREFIXES) else "app"]
        https = is_https(scope, self.networks)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                if https and b"set-cookie" in present:
                    headers = [(n, _secure_cookie(v) if n.lower() == b"set-cookie" else v) for n, v in headers]
                headers += [h for h in _COMMON if h[0] not in present]
                if b"content-security-policy" not in present:
                    headers.append(policy)
                if https:
                    headers.append(HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
