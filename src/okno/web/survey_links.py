"""The public survey page behind e-mail's score links (``okno.surveys.links``): no login, the
signed token is the key. ``GET /s/<token>/<score>`` records the score and, when the survey asks
one, offers the follow-up comment box (``POST /s/<token>/comment``). In the customer's language
(the survey's), else the browser's. Forged or unknown links are 404, expired 410, a second
score or comment 409, more than :data:`PER_MINUTE` requests a minute from one address 429."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from okno.api.deps import Ctx
from okno.kit.buckets import Buckets
from okno.kit.forwarded import client_ip, trusted_networks
from okno.kit.time import utcnow
from okno.models.surveys import SurveyRequest
from okno.surveys.link_tokens import LinkRefused, read_token
from okno.surveys.links import record_comment, record_score
from okno.web.i18n import Translator, pick_locale
from okno.web.pages import _env, translator_for

router = APIRouter(include_in_schema=False)
PER_MINUTE = 20
_limits = Buckets(PER_MINUTE)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _page(t: Translator, status: int, **context: Any) -> HTMLResponse:  # noqa: ANN401
    html = _env.get_template("survey_link.html").render(t=t, _=t.gettext, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refusal(t: Translator, refused: LinkRefused) -> HTMLResponse:
    message = {
        "invalid": t.gettext("This link is not valid. Please use the link from our message."),
        "expired": t.gettext("This link has expired: the survey is closed. Thank you all the same!"),
        "closed": t.gettext("This survey is closed. Thank you all the same!"),
        "answered": t.gettext("This survey has already been answered. Thank you!"),
    }[refused.reason]
    return _page(t, refused.status, message=message)


def _throttled(request: Request, ctx: Ctx) -> HTMLResponse | None:
    wait = _limits.take(client_ip(request.scope, trusted_networks(ctx.settings.trusted_proxies)))
    if not wait:
        return None
    response = _page(translator_for(request, None), 429, message=translator_for(request, None).gettext("Too many requests. Please try again in a minute."))
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


async def _translator(request: Request, ctx: Ctx, request_id: int) -> Translator:
    async with ctx.db.reading() as session:
        survey_request = await session.get(SurveyRequest, request_id)
    if survey_request is not None and survey_request.language:
        return Translator(pick_locale(survey_request.language))
    return translator_for(request, None)


@router.get("/s/{token}/{score}", response_class=HTMLResponse)
async def answer_by_link(token: str, score: int, request: Request, ctx: Ctx) -> HTMLResponse:
    if (throttled := _throttled(request, ctx)) is not None:
        return throttled
    try:
        request_id = read_token(token)
    except LinkRefused as refused:
        return _refusal(translator_for(request, None), refused)
    t = await _translator(request, ctx, request_id)
    try:
        async with ctx.db.transaction() as session:
            recorded = await record_score(session, request_id, score, utcnow())
    except LinkRefused as refused:
        return _refusal(t, refused)
    return _page(t, 200, score=score, follow_up=recorded.follow_up, token=token)


@router.post("/s/{token}/comment", response_class=HTMLResponse)
async def comment_by_link(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    if (throttled := _throttled(request, ctx)) is not None:
        return throttled
    try:
        request_id = read_token(token)
    except LinkRefused as refused:
        return _refusal(translator_for(request, None), refused)
    t = await _translator(request, ctx, request_id)
    form = await request.form()
    text = form.get("comment")
    try:
        async with ctx.db.transaction() as session:
            await record_comment(session, request_id, text if isinstance(text, str) else "", utcnow())
    except LinkRefused as refused:
        return _refusal(t, refused)
    return _page(t, 200, message=t.gettext("Thank you for your comment!"))
