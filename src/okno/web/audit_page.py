"""The admins' audit log page: the same filters as ``GET /api/v1/audit``, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from okno.api.deps import ReadSession
from okno.audit.queries import AuditFilter, actor_names, audit_page
from okno.kit.errors import Invalid
from okno.web.admin_pages import admin_nav
from okno.web.pages import N_, AdminPage, render, translator_for

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100

# what each action is called on the page (source strings are English; others are shown as they are)
ACTION_LABELS = {
    "read.customer": N_("viewed a customer profile"), "read.customer_timeline": N_("viewed a customer timeline"),
    "read.customer_list": N_("listed customers"), "read.conversation": N_("viewed a conversation"),
    "read.conversation_messages": N_("read a conversation's messages"), "read.conversation_list": N_("listed conversations"),
    "read.conversation_page": N_("opened a conversation"), "customer.merged": N_("merged customers"),
    "customer.unmerged": N_("undid a merge"), "customer.exported": N_("exported a customer's data"),
    "customer.erased": N_("erased a customer"), "auth.login_failed": N_("failed login"),
    "operator.logged_in": N_("logged in"), "operator.created": N_("created an operator"),
    "operator.role_changed": N_("changed a role"), "operator.activated": N_("activated an operator"),
    "operator.deactivated": N_("deactivated an operator"), "operator.password_reset": N_("reset a password"),
    "operator.password_changed": N_("changed own password"), "operator.password_change_failed": N_("wrong current password"),
    "api_token.created": N_("created an API token"), "api_token.revoked": N_("revoked an API token"),
    "team.member_added": N_("added a team member"), "team.member_removed": N_("removed a team member"),
    "read.attachment": N_("downloaded an attachment"),
    # administration: what an admin changed, disabled or deleted
    "channel.updated": N_("changed a channel"), "channel.disabled": N_("disabled a channel"), "channel.enabled": N_("enabled a channel"),
    "channel.deleted": N_("deleted a channel"), "operator.deleted": N_("deleted an operator"), "operator.renamed": N_("renamed an operator"),
    "operator.email_changed": N_("changed an operator's e-mail"), "team.configured": N_("changed a team"), "team.deleted": N_("deleted a team"),
    "calendar.changed": N_("changed a calendar"), "calendar.deleted": N_("deleted a calendar"),
    "sla_policy.changed": N_("changed an SLA policy"), "sla_policy.disabled": N_("disabled an SLA policy"),
    "sla_policy.enabled": N_("enabled an SLA policy"), "sla_policy.deleted": N_("deleted an SLA policy"),
    "survey.created": N_("created a survey"), "survey.changed": N_("changed a survey"), "survey.deleted": N_("deleted a survey"),
    "customer.created": N_("created a contact"), "customer.edited": N_("edited a contact"),
}  # fmt: skip
# what an entry is about (its subject_type), as people read it
SUBJECT_LABELS = {
    "api_token": N_("API token"), "automation_rule": N_("automation rule"), "calendar": N_("calendar"), "canned_answer": N_("canned answer"),
    "channel": N_("channel"), "customer": N_("customer"), "identity_rule": N_("identity rule"), "matcher": N_("matcher"),
    "operator": N_("operator"), "reason": N_("closing reason"), "routing_rule": N_("routing rule"), "sla_policy": N_("SLA policy"),
    "status": N_("conversation status"), "survey": N_("survey"), "team": N_("team"),
}  # fmt: skip


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` from the form, as the start (or the end) of that day in UTC."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise Invalid("%(value)r is not a date (YYYY-MM-DD)", value=value) from exc
    return day + timedelta(days=1) if end else day


@router.get("/admin/audit")
async def audit_log_page(request: Request, operator: AdminPage, session: ReadSession) -> Response:
    q = request.query_params
    form = {k: q.get(k, "") for k in ("customer_id", "actor_id", "action", "from", "to")}
    flt = AuditFilter(
        customer_id=_int(form["customer_id"]), actor_id=_int(form["actor_id"]), action=form["action"].strip()[:64] or None,
        since=_day(form["from"]), until=_day(form["to"], end=True),
    )  # fmt: skip
    entries = await audit_page(session, flt, before_id=_int(q.get("before_id")), limit=PAGE_SIZE)
    t = translator_for(request, operator)
    older = urlencode({**{k: v for k, v in form.items() if v}, "before_id": entries[-1].id}) if len(entries) == PAGE_SIZE else None
    return render(
        request, "audit.html", operator, **admin_nav(t, operator, "audit"), entries=entries, actors=await actor_names(session, entries), form=form, older=older,
        action_labels={key: t.gettext(text) for key, text in ACTION_LABELS.items()},
        subject_labels={key: t.gettext(text) for key, text in SUBJECT_LABELS.items()},
    )  # fmt: skip
