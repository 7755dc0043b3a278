"""Administration, one section per address: ``/admin/channels``, ``/admin/operators``… with a
section nav; ``/admin`` goes to the first. Supervisors see every section but API tokens (they
read, admins change); an operator gets a page saying so (403), never JSON.

Every change goes through the JSON API (``admin.js``); ``/ui/admin/service`` re-reads the service
process lists after one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from okno.api.deps import CurrentOperator, ReadSession
from okno.auth.api_tokens import api_tokens
from okno.kit.errors import Forbidden
from okno.models import Operator, Role
from okno.web.i18n import Translator
from okno.web.pages import N_, AdminPage, ManagerPage, people_labels, render, translator_for
from okno.web.service_admin import service_admin_view, service_context
from okno.web.views import admin_view

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # English source text
    admins_only: bool = False

    @property
    def url(self) -> str:
        return f"/admin/{self.key}"


SECTIONS = (
    Section("channels", N_("Channels")),
    Section("operators", N_("Operators")),
    Section("teams", N_("Teams")),
    Section("canned", N_("Canned answers")),
    Section("statuses", N_("Statuses and closing reasons")),
    Section("routing", N_("Routing rules")),
    Section("calendars", N_("Business-hours calendars")),
    Section("sla", N_("SLA policies")),
    Section("automation", N_("Automation rules")),
    Section("tokens", N_("API tokens"), admins_only=True),
)
# pages of their own modules, listed in the same nav
OTHER_PAGES = (Section("surveys", N_("Surveys")), Section("audit", N_("Audit log"), admins_only=True))


@router.get("/admin")
async def administration(_: ManagerPage) -> RedirectResponse:
    return RedirectResponse(SECTIONS[0].url, status_code=303)


def admin_nav(t: Translator, operator: Operator, current: str) -> dict:
    """What ``_admin_nav.html`` needs: the sections this person may open, the current one."""
    shown = [s for s in (*SECTIONS, *OTHER_PAGES) if not s.admins_only or operator.role == Role.admin.value]
    title = next(t.gettext(s.title) for s in (*SECTIONS, *OTHER_PAGES) if s.key == current)
    return {"section": current, "section_title": title, "sections": [(s.key, s.url, t.gettext(s.title)) for s in shown]}


async def _section_page(request: Request, operator: Operator, session: AsyncSession, section: Section) -> Response:
    view = await admin_view(session)
    t = translator_for(request, operator)
    tokens = await api_tokens(session) if section.key == "tokens" else []
    return render(
        request, "admin.html", operator, **admin_nav(t, operator, section.key),
        operators=view.operators, teams=view.teams, member_teams=view.member_teams, api_tokens=tokens,
        **people_labels(t), **service_context(t, await service_admin_view(session)),
    )  # fmt: skip


def _page(section: Section) -> Callable[..., Awaitable[Response]]:
    if section.admins_only:

        async def admin_section(request: Request, operator: AdminPage, session: ReadSession) -> Response:
            return await _section_page(request, operator, session, section)

        return admin_section

    async def manager_section(request: Request, operator: ManagerPage, session: ReadSession) -> Response:
        return await _section_page(request, operator, session, section)

    return manager_section


for _section in SECTIONS:
    router.add_api_route(_section.url, _page(_section), methods=["GET"], name=f"admin_{_section.key}")


@router.get("/ui/admin/service")
async def administration_service(request: Request, operator: CurrentOperator, session: ReadSession) -> Response:
    """The service-process sections alone, re-read after a change made through the API."""
    if operator.role not in (Role.admin.value, Role.supervisor.value):
        raise Forbidden("administration needs role admin or supervisor")
    t = translator_for(request, operator)
    return render(request, "_admin_service.html", operator, **service_context(t, await service_admin_view(session)))
