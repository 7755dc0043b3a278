"""The one dependency read routes take to audit what they show: ``reads: AuditedReads`` and one
``reads.saw("<action>", customer_ids=…, conversation_ids=…)``. The reader is the authenticated
operator (a person, or an API token's own operator). A request that fails records nothing; one
that succeeds hands one entry to the process's ``ReadLog`` (``okno.audit.reads``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from okno.api.deps import Ctx, CurrentOperator
from okno.api.login import client_address
from okno.audit.reads import PageReads
from okno.context import AppContext
from okno.models import Operator


async def collect_reads(request: Request, ctx: AppContext, operator: Operator) -> AsyncIterator[PageReads]:
    reads = PageReads(actor_id=operator.id)
    yield reads  # an exception in the route is raised here and nothing is recorded
    entry = reads.entry(ip=client_address(request), path=request.url.path)
    if entry is not None and ctx.read_log is not None:
        ctx.read_log.record(entry)


async def _audited_reads(request: Request, ctx: Ctx, operator: CurrentOperator) -> AsyncIterator[PageReads]:
    async for reads in collect_reads(request, ctx, operator):
        yield reads


AuditedReads = Annotated[PageReads, Depends(_audited_reads, scope="function")]
