"""Rendering: one Jinja2 environment, the signed-in operator, and the redirect to the login page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from okno.api.deps import SESSION_COOKIE, Ctx
from okno.auth.service import operator_for_token
from okno.channels.service import MASK
from okno.channels.base import kind_titles
from okno.channels.registry import ADAPTERS
from okno.kit.time import utcnow
from okno.models import Operator, Role
from okno.operators.time_zones import DEFAULT_TIME_ZONE, zone_of
from okno.web.i18n import Translator, pick_locale

_env = Environment(loader=PackageLoader("okno.web", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

def kilobytes(size: object) -> int | None:
    """An attachment's size as whole KB, or None when the stored value is not a size (adapters'
    metadata is data: a string or a negative number must not break the page)."""
    if isinstance(size, bool) or not isinstance(size, int | float) or not 0 < size < float("inf"):
        return None
    return max(1, round(size / 1024))


def attachment_list(value: object) -> list[dict]:
    """A message's attachments as dicts, position kept (the download URL counts them)."""
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {} for item in value]


def masked_secret(value: object) -> object:
    """A stored automation action as its edit form gets it: a sealed secret becomes the mask,
    which the API reads as "keep the stored one" (``okno.automation.actions.call_webhook``)."""
    if not isinstance(value, dict) or "secret_sealed" not in value:
        return value
    return {**{k: v for k, v in value.items() if k != "secret_sealed"}, "secret": MASK}


_env.filters["kilobytes"] = kilobytes
_env.filters["masked_secret"] = masked_secret
_env.filters["attachment_list"] = attachment_list
# the reply box's emoji picker: a small set served with the page (no font or script from elsewhere)
_env.globals["emoji_set"] = (
    "😊", "🙂", "😉", "😀", "😂", "🙏", "👍", "👎", "👌", "👋", "🤝", "💪", "🙌", "👏", "🤔", "😅", "😔", "😢", "😮", "😍",
    "❤️", "🔥", "⭐", "✅", "❌", "⚠️", "❗", "❓", "🎉", "🎁", "📦", "🚚", "💳", "💰", "📞", "✉️", "📎", "🕐", "📅", "🛒",
)

CHANNEL_ICONS = {"telegram": "TG", "whatsapp": "WA", "vk": "VK", "max": "MX", "widget": "WEB", "api": "API", "email": "@", "voice": "☎",
                 "novofon": "☎", "smsru": "SMS", "google_reviews": "G", "yandex_reviews": "Я", "twogis_reviews": "2GIS"}


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


# the matcher's field and comparison names, as operators read them (source strings are English)
FIELD_LABELS = {"phone": N_("phone"), "email": N_("e-mail"), "first_name": N_("first name"), "last_name": N_("surname"), "birth_date": N_("birth date"), "address": N_("address"), "area": N_("postcode or city"),
                "id_number": N_("id number")}  # fmt: skip
COMPARISON_LABELS = {
    "exact": N_("same"), "same": N_("same"), "similar": N_("similar"), "somewhat similar": N_("somewhat similar"), "different": N_("different"),
    "one typo or day/month swapped": N_("one typo or day/month swapped"), "one digit apart": N_("one digit apart"),
    "same mailbox name or one typo": N_("same mailbox name or one typo"), "same address": N_("same address"), "similar address": N_("similar address"), "somewhat similar address": N_("somewhat similar address"),
    "same postcode and city": N_("same postcode and city"), "same postcode": N_("same postcode"), "postcode one typo": N_("postcode one typo"), "same city": N_("same city"),
    "one typo or two characters swapped": N_("one typo or two characters swapped"), "two typos": N_("two typos"),
    "within a month": N_("within a month"), "within a year": N_("within a year"),
    "same day and month, another year": N_("same day and month, another year"),
}


# identity kinds as operators read them (a plugin's own kind shows as its name)
IDENTITY_KIND_LABELS = {
    "phone": N_("phone"), "email": N_("e-mail"), "crm": N_("CRM id"), "telegram": "Telegram", "whatsapp": "WhatsApp", "vk": "VK",
    "max": "MAX", "web": N_("website visitor"), "external": N_("integration id"), "reviewer": N_("reviewer"),
    "yandex_review": N_("Yandex review"), "google_review": N_("Google review"), "2gis_review": N_("2GIS review"),
}  # fmt: skip


def kind_title(kind: str | None, locale: str) -> str:
    """A channel kind as its adapter names it in the UI language ("Чат на сайте"), else the kind."""
    adapter = ADAPTERS.get(kind or "")
    return kind_titles(adapter).get(locale, kind or "") if adapter is not None else (kind or "")


def _labels(t: Translator, labels: dict[str, str]) -> dict[str, str]:
    return {key: t.gettext(text) for key, text in labels.items()}


class LoginRequired(Exception):
    """A page was asked for without a valid session: the handler redirects to /login."""


async def _session_operator(request: Request, ctx: Ctx) -> Operator | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with ctx.db.reading() as session:
        return await operator_for_token(session, token)


async def page_operator(request: Request, ctx: Ctx) -> Operator:
    operator = await _session_operator(request, ctx)
    if operator is None:
        raise LoginRequired()
    return operator


PageOperator = Annotated[Operator, Depends(page_operator)]


class PageRefused(Exception):
    """A page the signed-in person's role does not open: answered with a page that says so (403),
    never the API's JSON (``okno.web.not_found.refused``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message  # English source text, translated when the page is rendered


async def manager_page_operator(request: Request, ctx: Ctx) -> Operator:
    operator = await page_operator(request, ctx)
    if operator.role not in (Role.admin.value, Role.supervisor.value):
        raise PageRefused(N_("This page is for supervisors and administrators."))
    return operator


async def admin_page_operator(request: Request, ctx: Ctx) -> Operator:
    operator = await page_operator(request, ctx)
    if operator.role != Role.admin.value:
        raise PageRefused(N_("This page is for administrators."))
    return operator


ManagerPage = Annotated[Operator, Depends(manager_page_operator)]
AdminPage = Annotated[Operator, Depends(admin_page_operator)]
MaybeOperator = Annotated[Operator | None, Depends(_session_operator)]


def translator_for(request: Request, operator: Operator | None) -> Translator:
    if operator is not None:
        ctx = getattr(request.app.state, "ctx", None)
        default = ctx.settings.default_time_zone if ctx is not None else DEFAULT_TIME_ZONE
        return Translator(pick_locale(operator.locale), tz=zone_of(operator.time_zone, default).key)
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "")[:2]
    return Translator(pick_locale(wanted))


def render(request: Request, template: str, operator: Operator | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = translator_for(request, operator)
    html = _env.get_template(template).render(
        request=request,
        me=operator,
        t=t,
        _=t.gettext,
        ngettext=t.ngettext,
        now=utcnow(),
        icons=CHANNEL_ICONS,
        field_labels=_labels(t, FIELD_LABELS),
        comparison_labels=_labels(t, COMPARISON_LABELS),
        identity_labels=_labels(t, IDENTITY_KIND_LABELS),
        kind_label=lambda kind: kind_title(kind, t.locale),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def refused_page(request: Request, operator: Operator, message: str = N_("This page is for supervisors and administrators.")) -> HTMLResponse:
    """A page the person's role does not open: a page that says so, in his language."""
    t = translator_for(request, operator)
    return render(request, "error.html", operator, status_code=403, title=t.gettext("Not available"), message=t.gettext(message))


def people_labels(t: Translator) -> dict:
    return {
        "role_labels": {Role.admin.value: t.gettext("Administrator"), Role.supervisor.value: t.gettext("Supervisor"), Role.operator.value: t.gettext("Operator")},
        "presence_labels": {"online": t.gettext("Online"), "away": t.gettext("Away"), "offline": t.gettext("Offline")},
        "strategy_labels": {
            "manual": t.gettext("Manual (operators take from the queue)"), "round_robin": t.gettext("Round robin"),
            "least_loaded": t.gettext("Least loaded"), "skills": t.gettext("By skills"),
        },
    }  # fmt: skip
