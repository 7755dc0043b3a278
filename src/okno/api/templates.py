"""The message templates a channel offers (WhatsApp: what operators send outside the window)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from okno.api.deps import Ctx, CurrentOperator
from okno.kit.errors import NotFound

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


@router.get("/{channel_id}/templates", summary="Message templates configured on the channel")
async def channel_templates(channel_id: int, _: CurrentOperator, ctx: Ctx) -> dict:
    channel = await ctx.channels.get(channel_id)
    if channel is None:
        raise NotFound("channel %(channel_id)s not found or disabled", channel_id=channel_id)
    offered = channel.adapter.templates(channel.config) if channel.adapter.capabilities.message_templates else []  # type: ignore[attr-defined]
    return {"items": [asdict(t) for t in offered]}
