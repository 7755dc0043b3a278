from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from okno.api.deps import AdminOperator, Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.schemas import ChannelIn, ChannelKindOut, ChannelOut
from okno.channels.registry import ADAPTERS
from okno.channels.service import create_channel, get_channel, list_channels, masked_config, open_config
from okno.models import Channel

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


def _out(request: Request, ctx: Ctx, channel: Channel, config: BaseModel) -> ChannelOut:
    base = ctx.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        team_id=channel.team_id,
        is_active=channel.is_active,
        webhook_url=f"{base}/webhooks/{channel.id}",
        config=masked_config(config),
        created_at=channel.created_at,
    )


@router.get("/kinds")
async def channel_kinds(_: CurrentOperator) -> dict:
    return {
        "items": [
            ChannelKindOut(
                kind=kind,
                title=cls.title,
                config_schema=cls.config_model.model_json_schema(),
                capabilities=cls.capabilities.as_json(),
            )
            for kind, cls in sorted(ADAPTERS.items())
        ]
    }


@router.post("", response_model=ChannelOut, status_code=201)
async def add_channel(body: ChannelIn, admin: AdminOperator, session: WriteSession, ctx: Ctx, request: Request) -> ChannelOut:
    channel, config = await create_channel(
        session, ctx.box, kind=body.kind, name=body.name, config=body.config, team_id=body.team_id, actor_id=admin.id
    )
    ctx.channels.invalidate(channel.id)
    return _out(request, ctx, channel, config)


@router.get("")
async def all_channels(_: CurrentOperator, session: ReadSession, ctx: Ctx, request: Request) -> dict:
    return {"items": [_out(request, ctx, c, open_config(ctx.box, c)) for c in await list_channels(session)]}


@router.get("/{channel_id}", response_model=ChannelOut)
async def one_channel(channel_id: int, _: CurrentOperator, session: ReadSession, ctx: Ctx, request: Request) -> ChannelOut:
    channel = await get_channel(session, channel_id)
    return _out(request, ctx, channel, open_config(ctx.box, channel))
