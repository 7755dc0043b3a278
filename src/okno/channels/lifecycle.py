"""Changing a channel after it was connected: rename, move to a team, new settings, disable,
enable, delete (only one no conversation or customer came through: otherwise it is disabled).

Settings are re-validated through the adapter's config model; a secret that is not sent again
(or is sent back as the mask admins were shown) keeps its stored value. A disabled channel
refuses webhooks, is not polled and sends nothing: replies already queued for it wait (their
message says why) and go out once it is enabled again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.registry import adapter_class
from okno.channels.service import (
    MASK,
    check_called_urls,
    check_connection,
    get_channel,
    open_config,
    plain_config,
    seal_config,
    start_polling,
    validate_config,
)
from okno.kit.audit import audit
from okno.kit.crypto import SecretBox
from okno.kit.db_wake import request_wake
from okno.kit.errors import Invalid
from okno.kit.outbound_urls import OutboundUrls
from okno.kit.removal import Use, refuse_if_used
from okno.kit.time import utcnow
from okno.models import Channel, ChannelPollState, Conversation, DeliveryJob, Identity, Message, Team

WAITING_WHILE_DISABLED = "waiting: the channel is disabled; this message goes out once it is enabled again"
UNSET: Any = object()


def merged_config(kind: str, current: BaseModel, changes: dict[str, Any]) -> BaseModel:
    """``current`` with ``changes`` applied, validated again; masked or omitted secrets are kept."""
    data = plain_config(current)
    for name, value in changes.items():
        if value == MASK and isinstance(getattr(current, name, None), SecretStr):
            continue
        data[name] = value
    return validate_config(kind, data)


async def update_channel(
    session: AsyncSession,
    box: SecretBox,
    channel_id: int,
    *,
    name: str = UNSET,
    team_id: int | None = UNSET,
    config: dict[str, Any] | None = None,
    actor_id: int | None,
    urls: OutboundUrls,
) -> tuple[Channel, BaseModel]:
    channel = await get_channel(session, channel_id)
    current = open_config(box, channel)
    changed: list[str] = []
    if name is not UNSET and name.strip() != channel.name:
        if not name.strip():
            raise Invalid("a channel needs a name")
        channel.name = name.strip()
        changed.append("name")
    if team_id is not UNSET and team_id != channel.team_id:
        if team_id is not None and await session.get(Team, team_id) is None:
            raise Invalid("%(what)s %(id)s does not exist", what="team", id=team_id)
        channel.team_id = team_id
        changed.append("team_id")
    if config is not None:
        new = merged_config(channel.kind, current, config)
        if plain_config(new) != plain_config(current):
            await check_called_urls(channel.kind, new, urls)
            await check_connection(channel.kind, new, urls)
            channel.config_sealed = seal_config(box, new)
            current = new
            changed.append("config")
            await _poll_soon(session, channel)  # new credentials: try them now, not after a backoff
    if changed:
        await session.flush()
        await audit(session, actor_id=actor_id, action="channel.updated", subject=("channel", channel.id), data={"changed": changed})
    return channel, current


async def disable_channel(session: AsyncSession, channel_id: int, *, actor_id: int | None) -> Channel:
    channel = await get_channel(session, channel_id)
    if channel.is_active:
        channel.is_active = False
        await session.execute(
            update(Message)
            .where(Message.id.in_(_queued_messages(channel.id)))
            .values(error=WAITING_WHILE_DISABLED)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        await audit(session, actor_id=actor_id, action="channel.disabled", subject=("channel", channel.id))
    return channel


async def enable_channel(session: AsyncSession, channel_id: int, *, actor_id: int | None) -> Channel:
    channel = await get_channel(session, channel_id)
    if not channel.is_active:
        channel.is_active = True
        await session.execute(
            update(Message)
            .where(Message.id.in_(_queued_messages(channel.id)), Message.error == WAITING_WHILE_DISABLED)
            .values(error=None)
            .execution_options(synchronize_session=False)
        )
        await _poll_soon(session, channel)
        await session.flush()
        await audit(session, actor_id=actor_id, action="channel.enabled", subject=("channel", channel.id))
        request_wake(session, "delivery")
    return channel


async def delete_channel(session: AsyncSession, channel_id: int, *, actor_id: int | None) -> None:
    """Deletes a channel nothing has come through yet (a mistake, a test). One that carried
    conversations or brought customers stays, so their history keeps its channel: disable it."""
    channel = await get_channel(session, channel_id)
    instead_en, instead_ru = "disable it instead: it keeps their history", "отключите его: история останется"
    await refuse_if_used(session, [
        Use(select(Message.id).where(Message.channel_id == channel.id),
            f"channel {channel.id} carried messages; {instead_en}", f"По каналу «{channel.name}» шли сообщения; {instead_ru}"),
        Use(select(Conversation.id).where(Conversation.channel_id == channel.id),
            f"channel {channel.id} has conversations; {instead_en}", f"В канале «{channel.name}» есть обращения; {instead_ru}"),
        Use(select(Identity.id).where(Identity.source_channel_id == channel.id),
            f"customers came through channel {channel.id}; {instead_en}", f"Через канал «{channel.name}» пришли клиенты; {instead_ru}"),
    ])  # fmt: skip
    await audit(session, actor_id=actor_id, action="channel.deleted", subject=("channel", channel.id), data={"name": channel.name, "kind": channel.kind})
    await session.delete(channel)
    await session.flush()


def _queued_messages(channel_id: int):  # noqa: ANN202
    return select(DeliveryJob.message_id).where(DeliveryJob.channel_id == channel_id, DeliveryJob.status == "pending")


async def _poll_soon(session: AsyncSession, channel: Channel) -> None:
    if not adapter_class(channel.kind).capabilities.polls:
        return
    state = await session.get(ChannelPollState, channel.id)
    if state is None:
        await start_polling(session, channel)
    else:
        state.next_poll_at = utcnow()
        request_wake(session, "polls")
