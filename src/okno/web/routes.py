"""The UI's pages, fragments and live stream. Thin: each reads one view or calls one service.

Changes (reply, assign, status…) go through the public JSON API (``/api/v1``) with the session
cookie; these routes only render.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.access.guards import access_conversation
from okno.customers.queries import get_customer
from okno.api.access import OperatorScope
from okno.api.deps import SESSION_COOKIE, Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.login import sign_in
from okno.api.read_audit import AuditedReads
from okno.auth.service import choose_language, revoke_token
from okno.conversations.inbox_row import inbox_row
from okno.conversations.inbox import NO_ASSIGNEE, PAGE_SIZE, InboxFilter, inbox_list, queue_counts
from okno.conversations.shared_counts import shared_queue_counts
from okno.kit.time import utcnow
from okno.conversations.catalog import list_reasons, list_statuses
from okno.kit.errors import Invalid, NotFound
from okno.models import UNFINISHED_TYPES, Channel, ClosingReason, Operator, StatusDefinition
from okno.realtime.operators import VisibleEvents, events_after
from okno.operators.time_zones import common_time_zones, zone_of
from okno.web.i18n import LOCALES, pick_locale
from okno.web import admin_pages, audit_page, contacts_page, surveys_page
from okno.web.page_reads import AuditedPageReads
from okno.web.pages import MaybeOperator, PageOperator, people_labels, refused_page, render, translator_for
from okno.web.views import conversation_view, customer_history, inbox_tools, profile_view, supervisor_view

router = APIRouter(include_in_schema=False)
router.include_router(audit_page.router)  # /admin/audit
router.include_router(surveys_page.router)  # /admin/surveys
router.include_router(admin_pages.router)  # /admin and its sections
router.include_router(contacts_page.router)  # /contacts
static = StaticFiles(directory=Path(__file__).parent / "static")
HEARTBEAT_SECONDS = 15.0
STREAM_BURST = 200  # events filtered with one visibility query


@dataclass(frozen=True)
class Catalog:
    """The shared statuses and closing reasons, labelled in the operator's language."""

    statuses: list[StatusDefinition]
    reasons: list[ClosingReason]
    labels: dict[str, str]
    reason_labels: dict[str, str]

    @property
    def unfinished(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statuses if s.type in UNFINISHED_TYPE_VALUES)

    def as_context(self) -> dict:
        return {"catalog": self, "status_labels": self.labels, "reason_labels": self.reason_labels}


UNFINISHED_TYPE_VALUES = frozenset(t.value for t in UNFINISHED_TYPES)


async def _catalog(session: AsyncSession, operator: Operator) -> Catalog:
    locale = pick_locale(operator.locale)
    statuses = await list_statuses(session)
    reasons = await list_reasons(session)
    return Catalog(
        statuses=statuses,
        reasons=[r for r in reasons if r.active],
        labels={s.key: s.label.get(locale) or s.key for s in statuses},
        reason_labels={r.key: r.label.get(locale) or r.key for r in reasons},
    )


# ---- session ---------------------------------------------------------------------------------


class LoginForm(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


@router.get("/")
async def home(operator: MaybeOperator) -> RedirectResponse:
    return RedirectResponse("/inbox" if operator else "/login", status_code=303)


@router.get("/login")
async def login_page(request: Request, operator: MaybeOperator) -> Response:
    if operator is not None:
        return RedirectResponse("/inbox", status_code=303)
    return render(request, "login.html", None)


@router.post("/ui/session")
async def start_session(body: LoginForm, request: Request, ctx: Ctx) -> JSONResponse:
    ttl = timedelta(hours=ctx.settings.token_ttl_hours)
    token = await sign_in(request, ctx, email=body.email, password=body.password)
    response = JSONResponse({"ok": True, "next": "/inbox"})
    secure = ctx.settings.public_url.startswith("https://")
    response.set_cookie(SESSION_COOKIE, token, max_age=int(ttl.total_seconds()), httponly=True, samesite="strict", secure=secure, path="/")
    return response


@router.post("/ui/logout")
async def end_session(request: Request, _: CurrentOperator, session: WriteSession) -> JSONResponse:
    await revoke_token(session, request.cookies.get(SESSION_COOKIE, ""))
    response = JSONResponse({"ok": True, "next": "/login"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class LanguageForm(BaseModel):
    locale: str


@router.post("/ui/preferences/language")
async def set_language(body: LanguageForm, operator: CurrentOperator, session: WriteSession) -> dict:
    await choose_language(session, operator.id, body.locale, allowed=LOCALES)
    return {"ok": True}


@router.get("/profile")
async def profile(request: Request, operator: PageOperator, ctx: Ctx) -> Response:
    """The signed-in person's own settings: name, language, time zone, password."""
    zone = zone_of(operator.time_zone, ctx.settings.default_time_zone).key
    return render(request, "profile.html", operator, active="profile", zone=zone, zones=common_time_zones(), default_zone=ctx.settings.default_time_zone)


# ---- inbox -----------------------------------------------------------------------------------


def _filter(request: Request, zone: ZoneInfo | None = None) -> InboxFilter:
    """The list's filter from the query string; ``from``/``to`` are days in the operator's zone
    (``to`` included)."""
    q = request.query_params

    def as_int(name: str) -> int | None:
        value = q.get(name)
        return int(value) if value and value.lstrip("-").isdigit() else None

    assignee = q.get("assignee", "")
    return InboxFilter.parse(
        queue=q.get("queue", "all"),
        channel_id=as_int("channel"),
        status=q.get("status"),
        min_priority=as_int("priority"),
        search=q.get("q", ""),
        sort=q.get("sort", "waiting"),
        vip=q.get("vip") == "1",
        tag=q.get("tag"),
        assignee_id=NO_ASSIGNEE if assignee == "none" else as_int("assignee"),
        created_from=_day(q.get("from"), zone),
        created_before=_day(q.get("to"), zone, next_day=True),
        sla_state=q.get("sla") or None,
    )


def _day(text: str | None, zone: ZoneInfo | None, *, next_day: bool = False) -> datetime | None:
    """Midnight of a ``YYYY-MM-DD`` day in ``zone`` (UTC without one), or of the day after."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("bad inbox filter: %(text)r is not a YYYY-MM-DD day", text=text) from exc
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone or UTC)


def _zone(operator: Operator, ctx: Ctx) -> ZoneInfo:
    return zone_of(operator.time_zone, ctx.settings.default_time_zone)


def _page_size(request: Request) -> int:
    """``limit``: a live refresh asks again for as many rows as the operator has loaded."""
    value = request.query_params.get("limit", "")
    return int(value) if value.isdigit() and int(value) > 0 else PAGE_SIZE


def _shown_statuses(catalog: Catalog) -> tuple[str, ...]:
    return tuple(s.key for s in catalog.statuses if s.type != "closed")


@router.get("/inbox")
async def inbox(request: Request, operator: PageOperator, session: ReadSession, ctx: Ctx, reads: AuditedPageReads) -> Response:
    scope = Scope.of(operator, ctx.settings)
    flt = _filter(request, _zone(operator, ctx))
    catalog = await _catalog(session, operator)
    page = await inbox_list(session, flt, operator_id=operator.id, unfinished=catalog.unfinished, scope=scope)
    counts = await queue_counts(session, operator_id=operator.id, unfinished=catalog.unfinished, statuses=_shown_statuses(catalog), scope=scope)
    channels = list(await session.scalars(select(Channel).order_by(Channel.name)))
    opened = request.query_params.get("c")
    view, profile, missing = None, None, False
    if opened and opened.isdigit():
        try:
            view = await conversation_view(session, int(opened), scope=scope)
            profile = await profile_view(session, view.customer.id, scope=scope)
        except NotFound:  # another team's or none at all: the same answer
            missing = True
    if view is not None:
        reads.saw("read.conversation_page", customer_ids=view.customer.id, conversation_ids=view.conversation.id)
    return render(
        request, "inbox.html", operator, status_code=404 if missing else 200, flt=flt, page=page, rows=page.rows, counts=counts,
        channels=channels, view=view, profile=profile, missing=missing, tools=await inbox_tools(session, operator.id), **catalog.as_context(),
    )


@router.get("/ui/inbox/list")
async def inbox_list_fragment(request: Request, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx) -> Response:
    """The list (or, with ``after``, the rows of the next page only) and its total."""
    catalog = await _catalog(session, operator)
    flt = _filter(request, _zone(operator, ctx))
    after = request.query_params.get("after") or None
    page = await inbox_list(
        session, flt, operator_id=operator.id, unfinished=catalog.unfinished, after=after, limit=_page_size(request), scope=scope
    )
    return render(request, "_inbox_list.html", operator, page=page, rows=page.rows, flt=flt, appending=after is not None, **catalog.as_context())


@router.get("/ui/inbox/rows/{conversation_id}")
async def inbox_row_fragment(
    conversation_id: int, request: Request, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx
) -> Response:
    """One conversation's row for a live update, placed in the list the query string describes
    (the list's filter; ``until``: the page's "load more" cursor; ``shown``: the rows it has,
    ``present=1``: this one among them). Another team's conversation: 404, as a missing one
    (``inbox_row`` checks it in the statement that places the row)."""
    catalog = await _catalog(session, operator)
    q = request.query_params
    flt = _filter(request, _zone(operator, ctx))
    place = await inbox_row(
        session, flt, conversation_id, operator_id=operator.id, unfinished=catalog.unfinished,
        loaded_until=q.get("until") or None, scope=scope,
    )
    shown = max(0, _count_param(q.get("shown")) - (q.get("present") == "1") + (place.row is not None and not place.beyond))
    return render(request, "_inbox_row.html", operator, place=place, conversation_id=conversation_id, shown=shown, flt=flt, **catalog.as_context())


def _count_param(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


@router.get("/ui/inbox/views")
async def saved_views_fragment(request: Request, operator: CurrentOperator, session: ReadSession) -> Response:
    """The saved views the operator sees (his own and his teams'), as the queues strip draws them:
    the page redraws them at once when one is saved, renamed or deleted."""
    return render(request, "_saved_views.html", operator, tools=await inbox_tools(session, operator.id))


@router.get("/ui/inbox/counts")
async def inbox_counts(operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx) -> dict:
    """The live page's counters: the process's shared grouped snapshot (at most
    ``SNAPSHOT_MAX_AGE`` old) summed over what this operator sees."""
    catalog = await _catalog(session, operator)
    counts = await shared_queue_counts(
        session, ctx.inbox_counts, scope=scope, unfinished=catalog.unfinished, statuses=_shown_statuses(catalog)
    )
    return counts.as_json()


@router.get("/ui/conversations/{conversation_id}")
async def conversation_fragment(
    conversation_id: int, request: Request, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, reads: AuditedReads
) -> Response:
    view = await conversation_view(session, conversation_id, scope=scope)
    profile = await profile_view(session, view.customer.id, scope=scope)
    reads.saw("read.conversation_page", customer_ids=view.customer.id, conversation_ids=conversation_id)
    catalog = await _catalog(session, operator)
    return render(request, "_conversation.html", operator, view=view, profile=profile, **catalog.as_context())


@router.get("/ui/customers/{customer_id}/conversations")
async def customer_history_fragment(
    customer_id: int, request: Request, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, reads: AuditedReads
) -> Response:
    """The next page of the profile's conversation list (below the ``before`` id): only the
    conversations the principal may see, of a customer he may see (else 404)."""
    before = request.query_params.get("before", "")
    if not before.isdigit():
        raise Invalid("before must be the id of the last conversation shown")
    await get_customer(session, customer_id, scope=scope)
    history = await customer_history(session, customer_id, before=int(before), visible=conversation_visible(scope))
    reads.saw("read.customer_history", customer_ids=customer_id)
    return render(request, "_profile_history.html", operator, history=history, **(await _catalog(session, operator)).as_context())


@router.get("/ui/conversations/{conversation_id}/call-pop")
async def call_pop_fragment(
    conversation_id: int, request: Request, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, reads: AuditedReads
) -> Response:
    """The screen pop of a ringing call (okno.telephony ``call.ringing``): who is calling, a link
    to him and his last conversations the principal may see."""
    view = await conversation_view(session, conversation_id, scope=scope)
    history = await customer_history(session, view.customer.id, visible=conversation_visible(scope))
    reads.saw("read.call_pop", customer_ids=view.customer.id, conversation_ids=conversation_id)
    catalog = await _catalog(session, operator)
    return render(request, "_call_pop.html", operator, view=view, recent=history.conversations[:5], total=history.total, **catalog.as_context())


class PresenceForm(BaseModel):
    typing: bool = False


@router.post("/ui/conversations/{conversation_id}/presence", status_code=204)
async def conversation_presence(
    conversation_id: int, body: PresenceForm, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx
) -> None:
    await access_conversation(session, scope, conversation_id)
    await ctx.operator_feed.publish_presence(conversation_id=conversation_id, operator_id=operator.id, name=operator.name, typing=body.typing)


# ---- supervisor ------------------------------------------------------------------------------


@router.get("/supervisor")
async def supervisor(request: Request, operator: PageOperator, session: ReadSession, ctx: Ctx) -> Response:
    scope = Scope.of(operator, ctx.settings)
    if not scope.manages:
        return refused_page(request, operator)
    catalog = await _catalog(session, operator)
    view = await supervisor_view(session, unfinished=catalog.unfinished, day_start=_day_start(operator, ctx), scope=scope)
    return render(request, "supervisor.html", operator, view=view, **people_labels(translator_for(request, operator)))


@router.get("/ui/supervisor/data")
async def supervisor_data(operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx) -> dict:
    scope.require_manager("the supervisor's figures")
    catalog = await _catalog(session, operator)
    view = await supervisor_view(session, unfinished=catalog.unfinished, day_start=_day_start(operator, ctx), scope=scope)
    return {
        "queues": view.queue_sizes,
        "longest_wait_seconds": view.longest_wait.total_seconds() if view.longest_wait else None,
        "median_wait_seconds": view.median_wait.total_seconds() if view.median_wait else None,
        "online": sum(1 for x in view.load if x.operator.presence == "online"),
        "load": [
            {"operator_id": x.operator.id, "name": x.operator.name, "role": x.operator.role, "presence": x.operator.presence, "open": x.open_conversations}
            for x in view.load
        ],
        "volume": view.volume,
    }


def _day_start(operator: Operator, ctx: Ctx) -> datetime:
    """Midnight today in the operator's time zone: the supervisor's "today" is his own."""
    local = utcnow().astimezone(zone_of(operator.time_zone, ctx.settings.default_time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# ---- live stream -----------------------------------------------------------------------------


@router.get("/ui/stream")
async def stream(request: Request, scope: OperatorScope, ctx: Ctx) -> StreamingResponse:
    """Server-sent events: every committed change the operator may see, with ids; ``Last-Event-ID`` resumes."""
    last = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    last_id = int(last) if last.isdigit() else 0
    visible = VisibleEvents(ctx.db, scope)
    queue = ctx.operator_feed.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 1000\n\n"
            if last_id:
                async with ctx.db.reading() as session:
                    replay = await events_after(session, last_id)
                for event in await visible.only_visible(replay):
                    yield _sse(event)
            while not await request.is_disconnected():
                try:
                    burst = [await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)]
                except TimeoutError:
                    if not await visible.refresh():
                        return
                    yield b": heartbeat\n\n"
                    continue
                while not queue.empty() and len(burst) < STREAM_BURST:
                    burst.append(queue.get_nowait())
                for event in await visible.only_visible(burst):
                    yield _sse(event)
        finally:
            ctx.operator_feed.unsubscribe(queue)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _sse(event: dict) -> bytes:
    if event.get("presence"):
        return f"event: presence\ndata: {json.dumps(event)}\n\n".encode()
    return f"id: {event['id']}\nevent: change\ndata: {json.dumps(event)}\n\n".encode()
