"""The contacts page (``/contacts``): the customers the operator may see, newest first, searched
by name or by a whole phone / e-mail, paged by id; a contact is created and edited in a dialog
through ``POST`` / ``PATCH /api/v1/customers``. Each row links to the customer's latest
conversation the operator can open (its profile is beside it)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.api.deps import Ctx, ReadSession
from okno.customers.queries import count_customers, customers_page, identities_of
from okno.models import Conversation
from okno.web.page_reads import AuditedPageReads
from okno.web.pages import PageOperator, render

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/contacts")
async def contacts_page(request: Request, operator: PageOperator, session: ReadSession, ctx: Ctx, reads: AuditedPageReads) -> Response:
    scope = Scope.of(operator, ctx.settings)
    q = request.query_params.get("q", "")[:200]
    after = request.query_params.get("after", "")
    after_id = int(after) if after.isdigit() and len(after) < 19 else None
    region = ctx.settings.default_region
    customers = await customers_page(
        session, identity=None, after_id=after_id, limit=PAGE, scope=scope, search=q, newest_first=True, with_erased=False, region=region
    )
    total = await count_customers(session, scope=scope, search=q, with_erased=False, region=region)
    ids = [c.id for c in customers]
    reads.saw("read.customer_list", customer_ids=ids)
    identities = await identities_of(session, ids)
    rows = [
        {
            "customer": c,
            "phones": [i.value for i in identities[c.id] if i.kind == "phone"],
            "emails": [i.value for i in identities[c.id] if i.kind == "email"],
            "others": [f"{i.kind}:{i.value}" for i in identities[c.id] if i.kind not in ("phone", "email")],
            "attributes": {k: v for k, v in (c.attributes or {}).items() if isinstance(v, str | int | float) and not isinstance(v, bool)},
        }
        for c in customers
    ]
    latest = await _latest_conversations(session, scope, ids)
    return render(
        request, "contacts.html", operator, active="contacts", rows=rows, total=total, q=q, latest=latest,
        next_page=urlencode({"q": q, "after": ids[-1]}) if len(ids) == PAGE else None, paged=after_id is not None,
        may_create=scope.sees_unteamed or scope.global_customer_directory,
        contacts_json={
            str(r["customer"].id): {"name": r["customer"].name, "keys": r["phones"] + r["emails"], "attributes": r["attributes"]} for r in rows
        },
    )


async def _latest_conversations(session: AsyncSession, scope: Scope, customer_ids: list[int]) -> dict[int, int]:
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(Conversation.customer_id, func.max(Conversation.id))
        .where(Conversation.customer_id.in_(customer_ids), conversation_visible(scope))
        .group_by(Conversation.customer_id)
    )
    return {customer_id: conversation_id for customer_id, conversation_id in rows}
