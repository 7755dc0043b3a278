"""A page, not JSON, when a person's browser asks for an address okno does not have, or for a
page his role does not open (403).

API clients, providers and the widget get JSON (``{detail, code}``, okno.api.errors); a browser (it asks for
``text/html``) on any other path gets the friendly page in the signed-in operator's language, or,
signed out, in the language it asks for."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from okno.api.errors import http_problem
from okno.web.pages import PageRefused, _session_operator, refused_page, render, translator_for

MACHINE_PREFIXES = ("/api/", "/webhooks/", "/ws/", "/widget/", "/static/", "/files/", "/ui/")


async def page_or_json(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code != 404 or request.url.path.startswith(MACHINE_PREFIXES) or "text/html" not in request.headers.get("accept", ""):
        return http_problem(request, exc.status_code, exc.detail, exc.headers)
    operator = await _session_operator(request, request.app.state.ctx)
    t = translator_for(request, operator)
    return render(
        request, "error.html", operator, status_code=404, title=t.gettext("Page not found"),
        message=t.gettext("There is no page at this address. It may have moved, or the link is mistyped."),
    )


async def refused(request: Request, exc: PageRefused) -> Response:
    """An operator opening a page for supervisors or admins (``/admin/...``): a page, not JSON."""
    operator = await _session_operator(request, request.app.state.ctx)
    assert operator is not None  # raised only after the session was checked
    return refused_page(request, operator, exc.message)
