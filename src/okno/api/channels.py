from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from okno.api.deps import AdminOperator, Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.schemas import ChannelIn, ChannelKindOut, ChannelOut, ChannelPatch, ChannelPollingOut
from okno.channels.base import kind_titles
from okno.channels.lifecycle import UNSET, delete_channel, disable_channel, enable_channel, update_channel
from okno.channels.polling import poll_states
from okno.channels.registry import ADAPTERS
from okno.channels.service import create_channel, get_channel, list_channels, masked_config, open_config
from okno.kit.db_wake import call_after_commit
from okno.models import Channel, ChannelPollState

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


def _shown_config(ctx: Ctx, channel: Channel) -> BaseModel | None:
    """None when no adapter for the channel's kind is installed (a plugin was removed)."""
    return open_config(ctx.box, channel) if channel.kind in ADAPTERS else None


def _out(request: Request, ctx: Ctx, channel: Channel, config: BaseModel | None, state: ChannelPollState | None = None) -> ChannelOut:
    base = ctx.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    adapter = ADAPTERS.get(channel.kind)
    takes_webhooks = adapter is None or "webhook" in adapter.capabilities.ingress
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        team_id=channel.team_id,
        is_active=channel.is_active,
        webhook_url=f"{base}/webhooks/{channel.id}" if takes_webhooks else None,
        embed_code=embed.format(base_url=base, channel_id=channel.id) if (embed := getattr(adapter, "embed_code", None)) else None,
        config=masked_config(config) if config is not None else {},
        created_at=channel.created_at,
        health=channel.health,
        health_reason=channel.health_reason,
        health_changed_at=channel.health_changed_at,
        polling=None if state is None else ChannelPollingOut.model_validate(state, from_attributes=True),
    )


async def _one(session: AsyncSession, request: Request, ctx: Ctx, channel: Channel, config: BaseModel | None = None) -> ChannelOut:
    states = await poll_states(session, [channel.id])
    return _out(request, ctx, channel, config or _shown_config(ctx, channel), states.get(channel.id))


def _forget_after_commit(session: AsyncSession, ctx: Ctx, channel_id: int) -> None:
    call_after_commit(session, lambda: ctx.channels.invalidate(channel_id))


@router.get("/kinds")
async def channel_kinds(_: CurrentOperator) -> dict:
    return {
        "items": [
            ChannelKindOut(
                kind=kind,
                title=cls.title,
                titles=kind_titles(cls),
                config_schema=cls.config_model.model_json_schema(),
                capabilities=cls.capabilities.as_json(),
                identity_kinds=[spec.kind for spec in getattr(cls, "identity_kinds", ())],
            )
            for kind, cls in sorted(ADAPTERS.items())
        ]
    }


@router.post("", response_model=ChannelOut, status_code=201)
async def add_channel(body: ChannelIn, admin: AdminOperator, session: WriteSession, ctx: Ctx, request: Request) -> ChannelOut:
    channel, config = await create_channel(
        session, ctx.box, kind=body.kind, name=body.name, config=body.config, team_id=body.team_id, actor_id=admin.id, urls=ctx.urls
    )
    _forget_after_commit(session, ctx, channel.id)
    return await _one(session, request, ctx, channel, config)


@router.get("")
async def all_channels(_: CurrentOperator, session: ReadSession, ctx: Ctx, request: Request) -> dict:
    channels = await list_channels(session)
    states = await poll_states(session, [c.id for c in channels])
    return {"items": [_out(request, ctx, c, _shown_config(ctx, c), states.get(c.id)) for c in channels]}


@router.get("/{channel_id}", response_model=ChannelOut)
async def one_channel(channel_id: int, _: CurrentOperator, session: ReadSession, ctx: Ctx, request: Request) -> ChannelOut:
    return await _one(session, request, ctx, await get_channel(session, channel_id))


@router.patch("/{channel_id}", response_model=ChannelOut)
async def change_channel(channel_id: int, body: ChannelPatch, admin: AdminOperator, session: WriteSession, ctx: Ctx, request: Request) -> ChannelOut:
    sent = body.model_fields_set
    channel, config = await update_channel(
        session,
        ctx.box,
        channel_id,
        name=body.name if "name" in sent and body.name is not None else UNSET,
        team_id=body.team_id if "team_id" in sent else UNSET,
        config=body.config,
        actor_id=admin.id,
        urls=ctx.urls,
    )
    _forget_after_commit(session, ctx, channel.id)
    return await _one(session, request, ctx, channel, config)


@router.post("/{channel_id}/disable", response_model=ChannelOut, summary="Stop taking webhooks, polling and sending")
async def disable(channel_id: int, admin: AdminOperator, session: WriteSession, ctx: Ctx, request: Request) -> ChannelOut:
    channel = await disable_channel(session, channel_id, actor_id=admin.id)
    _forget_after_commit(session, ctx, channel.id)
    return await _one(session, request, ctx, channel)


@router.post("/{channel_id}/enable", response_model=ChannelOut, summary="Take webhooks, poll and send again")
async def enable(channel_id: int, admin: AdminOperator, session: WriteSession, ctx: Ctx, request: Request) -> ChannelOut:
    channel = await enable_channel(session, channel_id, actor_id=admin.id)
    _forget_after_commit(session, ctx, channel.id)
    return await _one(session, request, ctx, channel)


@router.delete("/{channel_id}", status_code=204, summary="Delete a channel nothing came through (else 409: disable it)")
async def remove(channel_id: int, admin: AdminOperator, session: WriteSession, ctx: Ctx) -> Response:
    await delete_channel(session, channel_id, actor_id=admin.id)
    _forget_after_commit(session, ctx, channel_id)
    return Response(status_code=204)
