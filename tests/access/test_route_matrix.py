"""Every route of the application has an entry here saying what team scoping means for it, and
the entries are checked against the running application on both databases:

- ``Scoped``: the route takes the id of a conversation, customer, message, merge, conflict,
  suggestion or canned answer. A principal of team A gets 404 for team B's object (exactly what
  a missing id gets), while team B's principal and an admin succeed (each on an object of its own,
  since many of these calls change what they touch).
- ``Listed``: a list; team A's principal finds none of team B's objects in it, team B's does.
- ``Managers``: a supervisor/admin page or figure; operators are refused.
- ``Unscoped``: the route shows or changes nothing of a team's conversations or customers (the
  reason is written down); ``NoOperator``: served to providers, widget visitors or signed links;
  ``Elsewhere``: tested by the named test.

A route added without an entry fails ``test_every_route_has_an_entry``, and a route whose path
names a scoped id can't be declared unscoped."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from okno.kit.time import utcnow
from tests.access.world import World, make_world

@dataclass(frozen=True)
class Call:
    url: str
    json: dict | None = None
    params: dict | None = None


Build = Callable[[World], Awaitable[Call]]


@dataclass(frozen=True)
class Scoped:
    build: Build
    owner: str = "operator_b"  # who in team B may do it; the attacker is his team A counterpart
    ok: tuple[int, ...] = (200,)
    cookie: bool = False  # a page: the session cookie instead of a bearer token


@dataclass(frozen=True)
class Listed:
    url: str
    ids: Callable[[object], set[int]]  # the ids a response shows
    make: Callable[[World], Awaitable[int]]  # a team B object the list may show
    owner: str = "operator_b"
    params: dict = field(default_factory=dict)
    cookie: bool = False


@dataclass(frozen=True)
class Managers:
    url: str
    cookie: bool = False


@dataclass(frozen=True)
class AdminsOnly:
    """Only admins (who see every team) may call it: operators and supervisors are refused."""

    build: Build
    ok: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class Unscoped:
    why: str


@dataclass(frozen=True)
class NoOperator:
    """Served to no operator (providers, widget visitors, signed links): team scoping has no
    principal to apply to; the route authenticates its caller its own way."""

    why: str


@dataclass(frozen=True)
class Elsewhere:
    test: str


# ---- builders ----------------------------------------------------------------------------------


def conversation_call(path: str, json: dict | None = None) -> Build:
    async def build(world: World) -> Call:
        bundle = await world.bundle("B")
        return Call(path.format(cid=bundle.conversation_id), json)

    return build


def customer_call(path: str, json: dict | None = None) -> Build:
    async def build(world: World) -> Call:
        bundle = await world.bundle("B")
        return Call(path.format(id=bundle.customer_id), json)

    return build


async def _message_call(world: World) -> Call:
    return Call(f"/api/v1/messages/{await world.file_message('B')}/attachments/0")


async def _merge_two(world: World) -> Call:
    survivor, other = await world.bundle("B"), await world.bundle("B")
    return Call(f"/api/v1/customers/{survivor.customer_id}/merge", {"other_customer_id": other.customer_id, "reason": "одна и та же"})


async def _not_same(world: World) -> Call:
    one, other = await world.bundle("B"), await world.bundle("B")
    return Call(f"/api/v1/customers/{one.customer_id}/not-same-person", {"other_customer_id": other.customer_id, "reason": "разные люди"})


async def _start(world: World) -> Call:
    resolved = await world.bundle("B", status="resolved")
    return Call("/api/v1/conversations", {"customer_id": resolved.customer_id, "channel_id": world.channel["id"], "text": "Здравствуйте!"})


async def _unsnooze(world: World) -> Call:
    bundle = await world.bundle("B")
    until = (utcnow() + timedelta(hours=2)).isoformat()
    snoozed = await world.client.post(f"/api/v1/conversations/{bundle.conversation_id}/snooze", json={"until": until}, headers=world.bearer("admin"))
    assert snoozed.status_code == 200, snoozed.text
    return Call(f"/api/v1/conversations/{bundle.conversation_id}/unsnooze", {})


async def _snooze(world: World) -> Call:
    bundle = await world.bundle("B")
    return Call(f"/api/v1/conversations/{bundle.conversation_id}/snooze", {"until": (utcnow() + timedelta(hours=2)).isoformat()})


async def _escalate(world: World) -> Call:
    bundle = await world.bundle("B")
    return Call(f"/api/v1/conversations/{bundle.conversation_id}/escalate", {"team_id": world.team_a, "comment": "нужна помощь"})


async def _render(world: World) -> Call:
    bundle, answer = await world.bundle("B"), await world.canned_answer("B")
    return Call(f"/api/v1/canned-answers/{answer}/render", {"conversation_id": bundle.conversation_id})


async def _answer(world: World, suffix: str = "", json: dict | None = None) -> Call:
    return Call(f"/api/v1/canned-answers/{await world.canned_answer('B')}{suffix}", json)


async def _merge_of(world: World, suffix: str = "", json: dict | None = None) -> Call:
    return Call(f"/api/v1/merges/{await world.merge('B')}{suffix}", json)


async def _conflict(world: World) -> Call:
    return Call(f"/api/v1/identity-conflicts/{await world.conflict('B')}/resolve", {"action": "keep_apart", "note": "разные люди"})


def _suggestion(verb: str) -> Build:
    async def build(world: World) -> Call:
        return Call(f"/api/v1/merge-suggestions/{await world.suggestion('B')}/{verb}", {"reason": "проверено"})

    return build


async def _bulk_tag(world: World) -> Call:
    bundle = await world.bundle("B")
    return Call("/api/v1/conversations/bulk", {"action": "tag", "conversation_ids": [bundle.conversation_id], "tags": ["возврат"]})


async def _bundle_conversation(world: World) -> int:
    return (await world.bundle("B")).conversation_id


async def _bundle_customer(world: World) -> int:
    return (await world.bundle("B")).customer_id


def _items(response: object) -> set[int]:
    return {item["id"] for item in response.json()["items"]}  # type: ignore[attr-defined]


def _inbox_rows(response: object) -> set[int]:
    return {int(found) for found in re.findall(r'data-conversation="(\d+)"', response.text)}  # type: ignore[attr-defined]


async def _new_channel(world: World) -> Call:
    made = await world.client.post("/api/v1/channels", json={"kind": "api", "name": f"Лишний {secrets.token_hex(3)}", "config": {"secret": "s" * 24}}, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/channels/{made.json()['id']}")


async def _new_operator(world: World) -> Call:
    made = await world.client.post("/api/v1/operators", json={"email": f"x{secrets.token_hex(3)}@okno.test", "password": "password-123", "name": "Лишний"}, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/operators/{made.json()['id']}")


async def _new_team(world: World) -> Call:
    made = await world.client.post("/api/v1/teams", json={"name": f"Лишняя {secrets.token_hex(3)}"}, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/teams/{made.json()['id']}")


async def _new_calendar(world: World) -> Call:
    body = {"name": f"Лишний {secrets.token_hex(3)}", "timezone": "Europe/Moscow", "weekly": {"mon": [["09:00", "18:00"]]}, "holidays": []}
    made = await world.client.post("/api/v1/calendars", json=body, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/calendars/{made.json()['id']}")


async def _new_policy(world: World) -> Call:
    body = {"name": f"Лишняя {secrets.token_hex(3)}", "targets": {"normal": {"first_response": 60}}}
    made = await world.client.post("/api/v1/sla/policies", json=body, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/sla/policies/{made.json()['id']}")


async def _new_survey(world: World) -> Call:
    body = {"kind": "csat", "name": f"Лишний {secrets.token_hex(3)}", "question": {"ru": "Как мы справились?"}}
    made = await world.client.post("/api/v1/surveys", json=body, headers=world.bearer("admin"))
    assert made.status_code == 201, made.text
    return Call(f"/api/v1/surveys/{made.json()['id']}")
def _contact_rows(response: object) -> set[int]:
    return {int(found) for found in re.findall(r'data-customer="(\d+)"', response.text)}  # type: ignore[attr-defined]


# ---- the table -----------------------------------------------------------------------------------

CONV = "/api/v1/conversations/{cid}"
_PERIOD = "from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:00Z"

ROUTES: dict[str, object] = {
    # conversations and what operators do to them
    "GET /api/v1/conversations/{conversation_id}": Scoped(conversation_call(CONV)),
    "GET /api/v1/conversations/{conversation_id}/messages": Scoped(conversation_call(CONV + "/messages")),
    "POST /api/v1/conversations/{conversation_id}/messages": Scoped(conversation_call(CONV + "/messages", {"text": "Уже проверяю"}), ok=(201,)),
    # click-to-call: the owner has no extension (422 after the visibility check); the other team gets 404
    "POST /api/v1/conversations/{conversation_id}/call": Scoped(conversation_call(CONV + "/call", {}), ok=(202, 422)),
    # a review's public reply: team B's API-channel conversation keeps none (422 after the visibility check); team A gets 404
    "DELETE /api/v1/conversations/{conversation_id}/review-reply": Scoped(conversation_call(CONV + "/review-reply"), ok=(422,)),
    "POST /api/v1/conversations/{conversation_id}/status": Scoped(conversation_call(CONV + "/status", {"status": "resolved"})),
    "POST /api/v1/conversations/{conversation_id}/assign": Scoped(conversation_call(CONV + "/assign", {"operator_id": None})),
    "POST /api/v1/conversations/{conversation_id}/priority": Scoped(conversation_call(CONV + "/priority", {"priority": 3})),
    "POST /api/v1/conversations/{conversation_id}/escalate": Scoped(_escalate),
    "POST /api/v1/conversations/{conversation_id}/snooze": Scoped(_snooze),
    "POST /api/v1/conversations/{conversation_id}/unsnooze": Scoped(_unsnooze),
    "GET /api/v1/conversations/{conversation_id}/sla": Scoped(conversation_call(CONV + "/sla")),
    "GET /api/v1/messages/{message_id}/attachments/{index}": Scoped(_message_call),
    "POST /api/v1/conversations": Scoped(_start, ok=(201,)),
    "GET /api/v1/conversations": Listed("/api/v1/conversations", _items, _bundle_conversation),
    # customers
    "GET /api/v1/customers/{customer_id}": Scoped(customer_call("/api/v1/customers/{id}")),
    "GET /api/v1/customers/{customer_id}/timeline": Scoped(customer_call("/api/v1/customers/{id}/timeline")),
    "PATCH /api/v1/customers/{customer_id}/attributes": Scoped(customer_call("/api/v1/customers/{id}/attributes", {"city": "Казань"})),
    "GET /api/v1/customers/{customer_id}/merge-suggestions": Scoped(customer_call("/api/v1/customers/{id}/merge-suggestions")),
    "GET /api/v1/customers/{customer_id}/merges": Scoped(customer_call("/api/v1/customers/{id}/merges")),
    "GET /api/v1/customers": Listed("/api/v1/customers", _items, _bundle_customer),
    "PATCH /api/v1/customers/{customer_id}": Scoped(customer_call("/api/v1/customers/{id}", {"name": "Новое имя", "emails": []})),
    "POST /api/v1/customers": Elsewhere("tests/test_contacts.py: a new customer has no conversation (visible to whoever sees unteamed ones)"),
    "GET /contacts": Listed("/contacts", _contact_rows, _bundle_customer, cookie=True),
    # data-subject requests: a supervisor exports his teams' customers; only admins erase
    "GET /api/v1/customers/{customer_id}/export": Scoped(customer_call("/api/v1/customers/{id}/export"), owner="supervisor_b"),
    "POST /api/v1/customers/{customer_id}/erase": AdminsOnly(customer_call("/api/v1/customers/{id}/erase", {"reason": "запрос клиента"})),
    "GET /api/v1/retention": Unscoped("admins: retention periods, no conversation"),
    "PUT /api/v1/channels/{channel_id}/retention": Unscoped("admins change a channel's retention period"),
    # merges, suggestions and conflicts: deciding them is for supervisors
    "POST /api/v1/customers/{customer_id}/merge": Scoped(_merge_two, owner="supervisor_b"),
    "POST /api/v1/customers/{customer_id}/not-same-person": Scoped(_not_same, owner="supervisor_b", ok=(204,)),
    "GET /api/v1/merges/{merge_id}": Scoped(_merge_of),
    "POST /api/v1/merges/{merge_id}/undo": Scoped(lambda w: _merge_of(w, "/undo", {"reason": "ошиблись"}), owner="supervisor_b"),
    "GET /api/v1/merge-suggestions": Listed("/api/v1/merge-suggestions", _items, lambda w: w.suggestion("B")),
    "POST /api/v1/merge-suggestions/{suggestion_id}/accept": Scoped(_suggestion("accept"), owner="supervisor_b"),
    "POST /api/v1/merge-suggestions/{suggestion_id}/dismiss": Scoped(_suggestion("dismiss"), owner="supervisor_b"),
    "GET /api/v1/identity-conflicts": Listed("/api/v1/identity-conflicts", _items, lambda w: w.conflict("B")),
    "POST /api/v1/identity-conflicts/{conflict_id}/resolve": Scoped(_conflict, owner="supervisor_b"),
    # canned answers: another team's are not found
    "GET /api/v1/canned-answers": Listed("/api/v1/canned-answers", _items, lambda w: w.canned_answer("B")),
    "POST /api/v1/canned-answers/{answer_id}/render": Scoped(_render),
    "PATCH /api/v1/canned-answers/{answer_id}": Scoped(lambda w: _answer(w, "", {"title": "Новый"}), owner="supervisor_b"),
    "DELETE /api/v1/canned-answers/{answer_id}": Scoped(lambda w: _answer(w), owner="supervisor_b", ok=(204,)),
    "POST /api/v1/canned-answers": Unscoped("creating an answer (supervisors, admins) shows no conversation or customer"),
    # the web UI
    "GET /inbox": Listed("/inbox", _inbox_rows, _bundle_conversation, cookie=True),
    "GET /ui/inbox/list": Listed("/ui/inbox/list", _inbox_rows, _bundle_conversation),
    "GET /ui/customers/{customer_id}/conversations": Scoped(customer_call("/ui/customers/{id}/conversations?before=9000000000")),
    # a live update's one row: team A's principal gets 404 for team B's conversation, as for a missing one
    "GET /ui/inbox/rows/{conversation_id}": Scoped(conversation_call("/ui/inbox/rows/{cid}?queue=all&shown=1")),
    "GET /ui/inbox/views": Unscoped("the operator's own and his teams' saved views (names and filters, as on /inbox): no conversation or customer"),
    "GET /ui/inbox/counts": Elsewhere("tests/access/test_rules.py::test_queue_counts_count_only_visible_conversations"),
    "GET /ui/conversations/{conversation_id}": Scoped(conversation_call("/ui/conversations/{cid}")),
    "GET /ui/conversations/{conversation_id}/call-pop": Scoped(conversation_call("/ui/conversations/{cid}/call-pop")),
    "POST /ui/conversations/{conversation_id}/presence": Scoped(conversation_call("/ui/conversations/{cid}/presence", {"typing": True}), ok=(204,)),
    "GET /supervisor": Managers("/supervisor", cookie=True),
    "GET /ui/supervisor/data": Managers("/ui/supervisor/data"),
    "GET /ui/stream": Elsewhere("tests/access/test_live_stream.py"),
    "GET /admin": Elsewhere("tests/web/test_admin_sections.py::test_admin_goes_to_the_first_section_and_operators_get_a_page"),
    "GET /ui/admin/service": Unscoped("administration of the service process: rules, policies, no conversation"),
    "GET /": Unscoped("a redirect"),
    "GET /login": Unscoped("the login page"),
    "POST /ui/session": Unscoped("logging in"),
    "POST /ui/logout": Unscoped("logging out"),
    "POST /ui/preferences/language": Unscoped("the operator's own language"),
    # accounts, teams, channels and settings: no conversation or customer in them
    "POST /api/v1/auth/login": Unscoped("logging in"),
    "POST /api/v1/auth/logout": Unscoped("logging out"),
    "GET /api/v1/auth/me": Unscoped("the principal himself"),
    "PATCH /api/v1/auth/me": Unscoped("the principal's own name, language and time zone"),
    "GET /profile": Unscoped("the signed-in person's own profile page"),
    "POST /api/v1/auth/password": Unscoped("the principal's own password"),
    "POST /api/v1/api-tokens": Unscoped("admins create integration tokens"),
    "GET /api/v1/api-tokens": Unscoped("admins: token names, roles and teams, never the secret"),
    "DELETE /api/v1/api-tokens/{token_id}": Unscoped("admins revoke integration tokens"),
    "GET /api/v1/audit": Unscoped("admins only: the audit log (tests/accounts)"),
    "GET /admin/audit": Unscoped("admins only: the audit log page (tests/accounts)"),
    "POST /api/v1/operators": Unscoped("admins create operators"),
    "GET /api/v1/operators": Unscoped("colleagues' names (assignment pickers)"),
    "POST /api/v1/operators/me/presence": Unscoped("the operator's own presence"),
    "PATCH /api/v1/operators/{operator_id}": Unscoped("admins change operators"),
    "POST /api/v1/teams": Unscoped("supervisors, admins create teams"),
    "GET /api/v1/teams": Unscoped("team names (escalation pickers)"),
    "PATCH /api/v1/teams/{team_id}": Unscoped("admins configure teams"),
    "GET /api/v1/teams/{team_id}/members": Unscoped("operator ids of a team"),
    "POST /api/v1/teams/{team_id}/members": Unscoped("supervisors, admins change memberships"),
    "DELETE /api/v1/teams/{team_id}/members/{operator_id}": Unscoped("supervisors, admins change memberships"),
    "GET /api/v1/channels/kinds": Unscoped("adapter descriptions"),
    "POST /api/v1/channels": Unscoped("admins create channels"),
    "GET /api/v1/channels": Unscoped("channel names and kinds, secrets masked"),
    "GET /api/v1/channels/{channel_id}": Unscoped("one channel, secrets masked"),
    "PATCH /api/v1/channels/{channel_id}": Unscoped("admins change channels"),
    "POST /api/v1/channels/{channel_id}/disable": Unscoped("admins"),
    "POST /api/v1/channels/{channel_id}/enable": Unscoped("admins"),
    "GET /api/v1/channels/{channel_id}/templates": Unscoped("a channel's message templates"),
    "GET /api/v1/statuses": Unscoped("the shared status list"),
    "POST /api/v1/statuses": Unscoped("admins"),
    "PATCH /api/v1/statuses/{key}": Unscoped("admins"),
    "GET /api/v1/reasons": Unscoped("the shared closing reasons"),
    "POST /api/v1/reasons": Unscoped("admins"),
    "PATCH /api/v1/reasons/{key}": Unscoped("admins"),
    "GET /api/v1/sla/policies": Unscoped("SLA policies"),
    "POST /api/v1/sla/policies": Unscoped("admins"),
    "PATCH /api/v1/sla/policies/{policy_id}": Unscoped("admins"),
    "GET /api/v1/calendars": Unscoped("business calendars"),
    "POST /api/v1/calendars": Unscoped("admins"),
    "PATCH /api/v1/calendars/{calendar_id}": Unscoped("admins"),
    "GET /api/v1/routing/conditions": Unscoped("the condition catalogue"),
    "GET /api/v1/routing/actions": Unscoped("the action schema"),
    "GET /api/v1/routing/rules": Unscoped("routing rules"),
    "POST /api/v1/routing/rules": Unscoped("admins"),
    "PATCH /api/v1/routing/rules/{rule_id}": Unscoped("admins"),
    "DELETE /api/v1/routing/rules/{rule_id}": Unscoped("admins"),
    "GET /api/v1/automation/actions": Unscoped("the action catalogue"),
    "GET /api/v1/automation/rules": Unscoped("automation rules"),
    "POST /api/v1/automation/rules": Unscoped("admins"),
    "PATCH /api/v1/automation/rules/{rule_id}": Unscoped("admins"),
    "DELETE /api/v1/automation/rules/{rule_id}": Unscoped("admins"),
    "GET /api/v1/identity-rules": Unscoped("identity proof rules"),
    "PUT /api/v1/identity-rules": Unscoped("admins"),
    "DELETE /api/v1/identity-rules/{kind}/{source}": Unscoped("admins"),
    "GET /api/v1/matcher": Unscoped("the matcher's parameters"),
    "PUT /api/v1/matcher": Unscoped("admins"),
    "POST /api/v1/matcher/estimate": Unscoped("admins"),
    "POST /api/v1/matcher/reindex": Unscoped("admins"),
    "GET /api/v1/events/deliveries": Unscoped("admins only (failed subscriber runs)"),
    "POST /api/v1/events/deliveries/{delivery_id}/retry": Unscoped("admins only"),
    "GET /api/v1/jobs/{job_id}": Unscoped("a job is visible to who started it and admins"),
    # no operator: providers, the widget's visitors, signed links
    "POST /webhooks/{channel_id}": NoOperator("providers, verified by the channel"),
    "GET /webhooks/{channel_id}": NoOperator("providers' verification echo"),
    "GET /files/{file_id}": NoOperator("a signed, expiring link handed to the API channel's integration"),
    "GET /s/{token}/{score}": NoOperator("a survey's score link: a signed, expiring, single-use token (okno.surveys.links)"),
    "POST /s/{token}/comment": NoOperator("the comment after a survey's score link, by the same token"),
    "GET /widget/{channel_id}/messages/{message_id}/files/{index}": NoOperator("a widget visitor's own files, by his token"),
    "GET /widget/{channel_id}.js": NoOperator("the widget's script"),
    "OPTIONS /widget/{channel_id}/session": NoOperator("the widget's CORS preflight"),
    "POST /widget/{channel_id}/session": NoOperator("a widget visitor's session"),
    "WS /ws/widget/{channel_id}": NoOperator("a widget visitor's socket, by his token"),
    "GET /healthz": Unscoped("liveness"),
    "GET /openapi.json": Unscoped("the API description"),
    "GET /docs": Unscoped("the API description"),
    "GET /docs/oauth2-redirect": Unscoped("the API description"),
    "GET /redoc": Unscoped("the API description"),
    # reports: supervisors (their teams' figures, tests/reports) and admins; operators 403
    "GET /api/v1/reports/summary": Managers(f"/api/v1/reports/summary?{_PERIOD}"),
    "GET /api/v1/reports/timeseries": Managers(f"/api/v1/reports/timeseries?metric=conversations&interval=day&{_PERIOD}"),
    "GET /api/v1/reports/operators": Managers(f"/api/v1/reports/operators?{_PERIOD}"),
    "GET /api/v1/reports/conversations": Managers(f"/api/v1/reports/conversations?which=resolved&{_PERIOD}"),
    "GET /reports": Managers("/reports", cookie=True),
    "GET /api/v1/reports/export": Managers(f"/api/v1/reports/export?report=conversations&format=csv&{_PERIOD}"),
    "GET /readyz": Unscoped("readiness: database and bus reachable, no data"),
    "GET /metrics": Unscoped("process figures; loopback or OKNO_METRICS_TOKEN (okno.ops.probes), no customer data"),
    # surveys: a survey names no conversation or customer (read: supervisors, admins; change: admins)
    "GET /api/v1/surveys": Unscoped("supervisors and admins: the surveys, no conversation or customer"),
    "POST /api/v1/surveys": Unscoped("admins create a survey"),
    "GET /api/v1/surveys/{survey_id}": Unscoped("supervisors and admins"),
    "PATCH /api/v1/surveys/{survey_id}": Unscoped("admins change a survey"),
    "DELETE /api/v1/surveys/{survey_id}": AdminsOnly(_new_survey, ok=(204,)),
    "GET /admin/surveys": Unscoped("supervisors and admins: the surveys page (tests/surveys)"),
    # the inbox's tools: tags, read positions, bulk actions, saved views
    "POST /api/v1/conversations/{conversation_id}/tags": Scoped(conversation_call(CONV + "/tags", {"tags": ["возврат"]})),
    "DELETE /api/v1/conversations/{conversation_id}/tags/{tag}": Scoped(conversation_call(CONV + "/tags/возврат")),
    "POST /api/v1/conversations/{conversation_id}/read": Scoped(conversation_call(CONV + "/read")),
    "POST /api/v1/conversations/bulk": Scoped(_bulk_tag),
    "GET /api/v1/tags": Elsewhere("tests/web/test_inbox_tools.py::test_tag_suggestions_come_only_from_visible_conversations"),
    "GET /api/v1/views": Elsewhere("tests/web/test_inbox_tools.py::test_saved_views_are_the_owners_and_his_teams"),
    "POST /api/v1/views": Elsewhere("tests/web/test_inbox_tools.py::test_saved_views_are_the_owners_and_his_teams"),
    "DELETE /api/v1/views/{view_id}": Elsewhere("tests/web/test_inbox_tools.py::test_saved_views_are_the_owners_and_his_teams"),
    "PATCH /api/v1/views/{view_id}": Elsewhere("tests/browser/test_saved_view_edit.py::test_a_saved_view_is_renamed_and_given_the_filters_shown_now"),
    # administration: one page per section (supervisors look, admins change); operators get a 403 page
    "GET /admin/channels": Managers("/admin/channels", cookie=True),
    "GET /admin/operators": Managers("/admin/operators", cookie=True),
    "GET /admin/teams": Managers("/admin/teams", cookie=True),
    "GET /admin/canned": Managers("/admin/canned", cookie=True),
    "GET /admin/statuses": Managers("/admin/statuses", cookie=True),
    "GET /admin/routing": Managers("/admin/routing", cookie=True),
    "GET /admin/calendars": Managers("/admin/calendars", cookie=True),
    "GET /admin/sla": Managers("/admin/sla", cookie=True),
    "GET /admin/automation": Managers("/admin/automation", cookie=True),
    "GET /admin/tokens": Elsewhere("tests/web/test_admin_sections.py::test_the_tokens_section_is_for_admins_only"),
    # deleting what an admin created (refused with 409 while history names it): admins only
    "DELETE /api/v1/channels/{channel_id}": AdminsOnly(_new_channel, ok=(204,)),
    "DELETE /api/v1/operators/{operator_id}": AdminsOnly(_new_operator, ok=(204,)),
    "DELETE /api/v1/teams/{team_id}": AdminsOnly(_new_team, ok=(204,)),
    "DELETE /api/v1/calendars/{calendar_id}": AdminsOnly(_new_calendar, ok=(204,)),
    "DELETE /api/v1/sla/policies/{policy_id}": AdminsOnly(_new_policy, ok=(204,)),
}

# a path naming one of these is about a team's conversation or customer: it must be scoped
SCOPED_PARAMS = re.compile(r"\{(conversation_id|customer_id|message_id|merge_id|conflict_id|suggestion_id|answer_id)\}")


def app_routes(app) -> Iterator[str]:  # noqa: ANN001
    """``METHOD path`` of every route, routers included (HEAD beside GET is left out)."""
    for route in app.routes:
        contexts = route.effective_route_contexts() if type(route).__name__ == "_IncludedRouter" else [route]
        for ctx in contexts:
            original = getattr(ctx, "original_route", ctx)
            path = getattr(ctx, "path", "") or getattr(original, "path", "")
            if path == "/static":
                continue
            methods = getattr(ctx, "methods", None) or {"WS"}
            for method in sorted(set(methods) - {"HEAD"}):
                yield f"{method} {path}"


def test_every_route_has_an_entry(app) -> None:  # noqa: ANN001
    found = set(app_routes(app))
    missing = sorted(found - ROUTES.keys())
    assert missing == [], f"add these routes to ROUTES in {__name__} with their access rule: {missing}"
    stale = sorted(ROUTES.keys() - found)
    assert stale == [], f"these entries name no route any more: {stale}"
    unscoped_ids = sorted(k for k, v in ROUTES.items() if SCOPED_PARAMS.search(k) and not isinstance(v, Scoped | NoOperator | AdminsOnly))
    assert unscoped_ids == [], f"these routes take a scoped id but are not checked as Scoped: {unscoped_ids}"


async def _request(world: World, method: str, call: Call, who: str, *, cookie: bool) -> object:
    headers = world.cookie(who) if cookie else world.bearer(who)
    return await world.client.request(method, call.url, json=call.json, params=call.params, headers=headers)


async def test_team_a_gets_404_for_team_b_where_team_b_and_admins_succeed(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    failures = []
    for key, rule in ROUTES.items():
        if not isinstance(rule, Scoped):
            continue
        method = key.split(" ")[0]
        attacker = rule.owner.replace("_b", "_a")
        target = await rule.build(world)
        refused = await _request(world, method, target, attacker, cookie=rule.cookie)
        if refused.status_code != 404:
            failures.append(f"{key}: {attacker} got {refused.status_code}, wanted 404: {refused.text[:200]}")
        owned = await _request(world, method, target, rule.owner, cookie=rule.cookie)
        if owned.status_code not in rule.ok:
            failures.append(f"{key}: {rule.owner} got {owned.status_code}, wanted {rule.ok}: {owned.text[:200]}")
        admin = await _request(world, method, await rule.build(world), "admin", cookie=rule.cookie)
        if admin.status_code not in rule.ok:
            failures.append(f"{key}: admin got {admin.status_code}, wanted {rule.ok}: {admin.text[:200]}")
    assert failures == [], "\n".join(failures)


async def test_lists_show_team_a_nothing_of_team_b(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    failures = []
    for key, rule in ROUTES.items():
        if not isinstance(rule, Listed):
            continue
        made = await rule.make(world)
        attacker = rule.owner.replace("_b", "_a")
        call = Call(rule.url, params=rule.params or None)
        seen_by_a = await _request(world, "GET", call, attacker, cookie=rule.cookie)
        seen_by_b = await _request(world, "GET", call, rule.owner, cookie=rule.cookie)
        seen_by_admin = await _request(world, "GET", call, "admin", cookie=rule.cookie)
        for who, response in ((attacker, seen_by_a), (rule.owner, seen_by_b), ("admin", seen_by_admin)):
            if response.status_code != 200:
                failures.append(f"{key}: {who} got {response.status_code}: {response.text[:200]}")
        if made in rule.ids(seen_by_a):
            failures.append(f"{key}: {attacker} sees team B's {made}")
        if made not in rule.ids(seen_by_b) or made not in rule.ids(seen_by_admin):
            failures.append(f"{key}: team B's {made} is missing for {rule.owner} or the admin")
    assert failures == [], "\n".join(failures)


async def test_manager_pages_refuse_operators(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    for key, rule in ROUTES.items():
        if not isinstance(rule, Managers):
            continue
        refused = await _request(world, "GET", Call(rule.url), "operator_b", cookie=rule.cookie)
        assert refused.status_code == 403, f"{key}: {refused.status_code}"
        for who in ("supervisor_b", "admin"):
            assert (await _request(world, "GET", Call(rule.url), who, cookie=rule.cookie)).status_code == 200, f"{key}: {who}"


async def test_admin_only_routes_refuse_everyone_else(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    failures = []
    for key, rule in ROUTES.items():
        if not isinstance(rule, AdminsOnly):
            continue
        method = key.split(" ")[0]
        for who in ("operator_b", "supervisor_b"):
            refused = await _request(world, method, await rule.build(world), who, cookie=False)
            if refused.status_code not in (403, 404):
                failures.append(f"{key}: {who} got {refused.status_code}, wanted 403 or 404: {refused.text[:200]}")
        admin = await _request(world, method, await rule.build(world), "admin", cookie=False)
        if admin.status_code not in rule.ok:
            failures.append(f"{key}: admin got {admin.status_code}, wanted {rule.ok}: {admin.text[:200]}")
    assert failures == [], "\n".join(failures)
