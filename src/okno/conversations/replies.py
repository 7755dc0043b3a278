"""Operators write into a conversation: a public reply (queued for delivery) or an internal note."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.channels.directory import ChannelDirectory
from okno.conversations.outbound_content import (
    TemplateChoice,
    check_channel_sends_files,
    resolve_template,
)
from okno.files.uploads import CheckedUpload, attachment_of, store_uploads
from okno.kit.blobs import BlobStore
from okno.kit.db_wake import request_wake
from okno.kit.errors import Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import (
    Channel,
    Conversation,
    DeliveryJob,
    Direction,
    Message,
    MessageStatus,
    TimelineEvent,
)

MAX_TEXT = 65_536


@dataclass(frozen=True)
class RichContent:
    """Files (checked, not yet stored) and/or a template to send beside or instead of text.

    ``blobs`` keeps the files; ``channels`` opens a channel's config to find its templates."""

    uploads: list[CheckedUpload] = field(default_factory=list)
    template: TemplateChoice | None = None
    blobs: BlobStore | None = None
    channels: ChannelDirectory | None = None


async def post_operator_message(
    session: AsyncSession,
    *,
    conversation_id: int,
    author_id: int,
    text: str,
    channel_id: int | None = None,
    internal: bool = False,
    rich: RichContent | None = None,
) -> Message:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    rich = rich or RichContent()
    _check_text(text, rich)
    if internal:
        if rich.template is not None:
            raise Invalid("an internal note can't be a template")
        message = await _add_message(session, conversation, author_id, text, channel_id=None, direction=Direction.note, status=MessageStatus.noted)
        await _attach_files(session, message, rich)
        await _record(session, message, "note.added")
        return message

    channel = await _reply_channel(session, conversation, channel_id)
    return await queue_outbound(session, conversation, channel, author_id=author_id, text=text, rich=rich)


def _check_text(text: str, rich: RichContent) -> None:
    if rich.template is not None and text.strip():
        raise Invalid("send either text or a template: a template's text is fixed")
    if rich.template is not None and rich.uploads:
        raise Invalid("a template can't carry files: send them in a message of their own")
    if not text.strip() and not rich.uploads and rich.template is None:
        raise Invalid("text must not be empty")
    if len(text) > MAX_TEXT:
        raise Invalid(f"text is longer than {MAX_TEXT} characters")


async def queue_outbound(
    session: AsyncSession, conversation: Conversation, channel: Channel, *, author_id: int | None, text: str, rich: RichContent
) -> Message:
    """A ``queued`` message with its delivery job: what the delivery worker hands to the adapter."""
    check_channel_sends_files(channel, rich.uploads)
    content = None
    if rich.template is not None:
        if rich.channels is None:
            raise RuntimeError("sending a template needs the channel directory")
        template, content = await resolve_template(rich.channels, channel, rich.template)
        text = template.render(content["template"]["parameters"])
    message = await _add_message(
        session, conversation, author_id, text, channel_id=channel.id, direction=Direction.outbound, status=MessageStatus.queued, content=content
    )
    await _attach_files(session, message, rich)
    session.add(DeliveryJob(message_id=message.id, channel_id=channel.id, idempotency_key=uuid.uuid4().hex, next_attempt_at=message.created_at))
    conversation.last_message_at = message.created_at
    await session.flush()
    request_wake(session, "delivery")
    await _record(session, message, "message.queued")
    return message


async def _attach_files(session: AsyncSession, message: Message, rich: RichContent) -> None:
    if not rich.uploads:
        return
    if rich.blobs is None:
        raise RuntimeError("storing files needs the blob store")
    stored = await store_uploads(session, rich.blobs, rich.uploads, created_by=message.author_id)
    message.attachments = [attachment_of(f) for f in stored]
    await session.flush()


async def _add_message(
    session: AsyncSession, conversation: Conversation, author_id: int | None, text: str, *, channel_id: int | None, direction: Direction,
    status: MessageStatus, content: dict | None = None,
) -> Message:
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel_id=channel_id,
        direction=direction.value,
        text=text,
        status=status.value,
        author_id=author_id,
        content=content,
        created_at=now,
        status_updated_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def _reply_channel(session: AsyncSession, conversation: Conversation, channel_id: int | None) -> Channel:
    if channel_id is None:
        channel_id = await session.scalar(
            select(Message.channel_id)
            .where(Message.customer_id == conversation.customer_id, Message.direction == Direction.inbound.value)
            .order_by(Message.id.desc())
            .limit(1)
        )
        channel_id = channel_id or conversation.channel_id
        if channel_id is None:
            raise Invalid("the customer has never written in; give channel_id to choose the channel")
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise Invalid(f"channel {channel_id} does not exist")
    if not channel.is_active:
        raise Invalid(f"channel {channel_id} is disabled")
    return channel


async def _record(session: AsyncSession, message: Message, topic: str) -> None:
    session.add(
        TimelineEvent(
            customer_id=message.customer_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
            channel_id=message.channel_id,
            actor_id=message.author_id,
            kind=topic,
            data={"text": message.text[:200]},
            occurred_at=message.created_at,
        )
    )
    await record_event(
        session,
        topic,
        {"message_id": message.id, "conversation_id": message.conversation_id, "customer_id": message.customer_id, "channel_id": message.channel_id},
    )
