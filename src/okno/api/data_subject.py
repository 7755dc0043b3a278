"""Data-subject requests (export, erase) and retention settings (docs/data-subject-requests.md).

Who may: an export is read by admins and supervisors (a supervisor answers a customer's access
request); an erase is irreversible and only admins may run it. Both are audited
(``customer.exported``, ``customer.erased`` with the reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from okno.access.guards import access_customer
from okno.api.access import ManagerScope
from okno.api.deps import AdminOperator, Ctx, ReadSession, WriteSession
from okno.customers.erasure import MAX_REASON, erase_customer_data
from okno.customers.export import export_customer_data
from okno.customers.retention import channel_retention, set_channel_retention

router = APIRouter(tags=["data subjects"])
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a 64-bit id: anything else is a 422, never a database error


class EraseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why the data is erased, e.g. the request's reference")


class ErasureOut(BaseModel):
    customer_id: int  # the live profile the id resolved to
    customers: list[int]  # every profile erased: the survivor and the profiles merged into it
    counts: dict[str, int]


class ChannelRetentionIn(BaseModel):
    days: int | None = Field(ge=1, le=36500, description="days this channel's message bodies and raw items are kept; null: the global settings")


class ChannelRetentionOut(BaseModel):
    channel_id: int
    name: str
    retention_days: int | None


class RetentionOut(BaseModel):
    message_days: int  # 0: kept for ever
    raw_days: int
    hour_utc: int
    channels: list[ChannelRetentionOut]


@router.get("/api/v1/customers/{customer_id}/export", summary="Everything okno holds about a customer, as JSON")
async def export_customer(customer_id: RowId, scope: ManagerScope, session: ReadSession, ctx: Ctx) -> dict:
    await access_customer(session, scope, customer_id)  # another team's customer is not found
    return await export_customer_data(ctx.db, customer_id, actor_id=scope.operator_id)


@router.post("/api/v1/customers/{customer_id}/erase", response_model=ErasureOut, summary="Erase a customer's personal data")
async def erase_customer(customer_id: RowId, body: EraseIn, admin: AdminOperator, ctx: Ctx) -> ErasureOut:
    erasure = await erase_customer_data(ctx.db, ctx.files.blobs, customer_id, actor_id=admin.id, reason=body.reason)
    return ErasureOut(customer_id=erasure.customer_id, customers=erasure.customers, counts=erasure.counts)


@router.get("/api/v1/retention", response_model=RetentionOut)
async def retention(_: AdminOperator, session: ReadSession, ctx: Ctx) -> RetentionOut:
    s = ctx.settings
    channels = [ChannelRetentionOut(channel_id=c.id, name=c.name, retention_days=c.retention_days) for c in await channel_retention(session)]
    return RetentionOut(message_days=s.retention_message_days, raw_days=s.retention_raw_days, hour_utc=s.retention_hour_utc, channels=channels)


@router.put("/api/v1/channels/{channel_id}/retention", response_model=ChannelRetentionOut)
async def change_channel_retention(channel_id: RowId, body: ChannelRetentionIn, admin: AdminOperator, session: WriteSession) -> ChannelRetentionOut:
    channel = await set_channel_retention(session, channel_id, body.days, actor_id=admin.id)
    return ChannelRetentionOut(channel_id=channel.id, name=channel.name, retention_days=channel.retention_days)
