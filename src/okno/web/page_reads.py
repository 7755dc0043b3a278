"""Audited reads for the UI's pages (signed in by the session cookie; see ``okno.api.read_audit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from okno.api.deps import Ctx
from okno.api.read_audit import collect_reads
from okno.audit.reads import PageReads
from okno.web.pages import PageOperator


async def _page_reads(request: Request, ctx: Ctx, operator: PageOperator) -> AsyncIterator[PageReads]:
    async for reads in collect_reads(request, ctx, operator):
        yield reads


AuditedPageReads = Annotated[PageReads, Depends(_page_reads, scope="function")]
