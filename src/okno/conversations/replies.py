"""Operators write into a conversation: a public reply (queued for delivery) or an internal note."""

from __future__ import annotations

import uuid
from datetime import datetime
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.channels.directory import ChannelDirectory
from okno.channels.interactive import ChoicesRefused, Interactive, choose_rendering, prompt_content
from okno.channels.registry import adapter_class
from okno.conversations.channels_used import record_channels_used
from okno.conversations.actors import Actor, current_actor
from okno.conversations.reply_channels import check_channel_reaches
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
    interactive: Interactive | None = None,
    actor: Actor | None = None,
    rich: RichContent | None = None,
) -> Message:
    """``actor`` defaults to whoever is acting in the session (an automation rule), else the
    operator ``author_id``, else the system. ``rich`` carries files and/or a template."""
    actor = actor or current_actor(session, author_id)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    rich = rich or RichContent()
    check_content(text, rich, interactive)
    if internal:
        if rich.template is not None:
            raise Invalid("an internal note can't be a template")
        if interactive is not None:
            raise Invalid("an internal note can't offer choices: interactive needs a public reply")
        message = await _add_message(
            session, conversation, author_id, text, channel_id=None, direction=Direction.note, status=MessageStatus.noted, actor=actor
        )
        await _attach_files(session, message, rich)
        await _record(session, message, "note.added")
        return message

    channel = await _reply_channel(session, conversation, channel_id)
    await check_reply_window(session, channel, conversation.customer_id, uses_template=rich.template is not None)
    return await queue_outbound(session, conversation, channel, author_id=author_id, text=text, rich=rich, interactive=interactive, actor=actor)


async def check_reply_window(session: AsyncSession, channel: Channel, customer_id: int, *, uses_template: bool) -> None:
    """Channels with a reply window (WhatsApp: 24 hours) take free text only that long after the
    customer's last message on that channel; outside it only a template goes (a clear 422 here
    instead of a message the provider fails later)."""
    window = adapter_class(channel.kind).capabilities.reply_window
    if window is None or uses_template:
        return
    last_in: datetime | None = await session.scalar(
        select(func.max(Message.created_at)).where(
            Message.customer_id == customer_id, Message.channel_id == channel.id, Message.direction == Direction.inbound.value
        )
    )
    if last_in is None or last_in + window <= utcnow():
        hours = window.total_seconds() / 3600
        if last_in is None:
            raise Invalid(
                "a %(kind)s channel allows free text only within %(hours)g hours of the customer's last message (never wrote here): send a template",
                kind=channel.kind, hours=hours,
            )
        raise Invalid(
            "a %(kind)s channel allows free text only within %(hours)g hours of the customer's last message (last wrote %(last)s): send a template",
            kind=channel.kind, hours=hours, last=last_in.isoformat(),
        )


def check_content(text: str, rich: RichContent, interactive: Interactive | None = None) -> None:
    """What a message may combine: text, files and choices together; a template alone."""
    if rich.template is not None and interactive is not None:
        raise Invalid("a template can't offer choices: its content is fixed")
    if interactive is not None and not text.strip():
        raise Invalid("choices need a question: give text with interactive")
    if rich.template is not None and text.strip():
        raise Invalid("send either text or a template: a template's text is fixed")
    if rich.template is not None and rich.uploads:
        raise Invalid("a template can't carry files: send them in a message of their own")
    if not text.strip() and not rich.uploads and rich.template is None:
        raise Invalid("text must not be empty")
    if len(text) > MAX_TEXT:
        raise Invalid("text is longer than %(num)s character", plural="text is longer than %(num)s characters", num=MAX_TEXT)


async def queue_outbound(
    session: AsyncSession,
    conversation: Conversation,
    channel: Channel,
    *,
    author_id: int | None,
    text: str,
    rich: RichContent,
    actor: Actor,
    interactive: Interactive | None = None,
) -> Message:
    """A ``queued`` message with its delivery job: what the delivery worker hands to the adapter."""
    check_channel_sends_files(channel, rich.uploads)
    content = _choices(channel, interactive, text) if interactive is not None else None
    if rich.template is not None:
        if rich.channels is None:
            raise RuntimeError("sending a template needs the channel directory")
        template, content = await resolve_template(rich.channels, channel, rich.template)
        text = template.render(content["template"]["parameters"])
    message = await _add_message(
        session, conversation, author_id, text, channel_id=channel.id, direction=Direction.outbound, status=MessageStatus.queued,
        actor=actor, content=content,
    )
    await _attach_files(session, message, rich)
    session.add(DeliveryJob(message_id=message.id, channel_id=channel.id, idempotency_key=uuid.uuid4().hex, next_attempt_at=message.created_at))
    conversation.last_message_at = message.created_at
    await session.flush()
    request_wake(session, "delivery")
    await _record(session, message, "message.queued")
    return message


def _choices(channel: Channel, interactive: Interactive, text: str) -> dict:
    """How the choices will go out on ``channel`` (natively or as numbered text), or a refusal
    when the channel shows them but not this many or this long."""
    adapter = adapter_class(channel.kind)
    try:
        rendering = choose_rendering(adapter.capabilities.interactive, interactive, text, channel=adapter.title)
    except ChoicesRefused as exc:
        raise Invalid(exc.template, **exc.params) from exc
    return prompt_content(interactive, rendering)


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
    status: MessageStatus, actor: Actor, content: dict | None = None,
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
        **actor.columns(),
        content=content,
        created_at=now,
        status_updated_at=now,
    )
    session.add(message)
    await session.flush()
    await record_channels_used(session, [(conversation.id, conversation.channel_id, channel_id)], now)
    return message


async def _reply_channel(session: AsyncSession, conversation: Conversation, channel_id: int | None) -> Channel:
    chosen = channel_id is not None  # the default (the thread's or the customer's last channel) is always his
    if channel_id is None and conversation.thread_key is not None:
        channel_id = conversation.channel_id  # a thread (an e-mail chain, a call) is answered where it runs
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
        raise Invalid("%(what)s %(id)s does not exist", what="channel", id=channel_id)
    if not channel.is_active:
        raise Invalid("%(what)s %(id)s is disabled", what="channel", id=channel_id)
    if chosen:
        await check_channel_reaches(session, channel, conversation.customer_id, own_channel_id=conversation.channel_id)
    if not adapter_class(channel.kind).capabilities.posts_replies:
        raise Invalid(
            "a %(kind)s channel can't post replies: answer in the provider's own cabinet, then resolve the conversation with the reason answered_at_provider", kind=channel.kind
        )
    return channel


async def _record(session: AsyncSession, message: Message, topic: str) -> None:
    session.add(
        TimelineEvent(
            customer_id=message.customer_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
            channel_id=message.channel_id,
            actor_id=message.author_id,
            actor_type=message.actor_type,
            actor_ref=message.actor_ref,
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


async def record_reply_sent_elsewhere(
    session: AsyncSession, conversation: Conversation, *, author_id: int, channel_id: int, text: str, at: datetime,
    provider_message_id: str | None, subject: str | None = None, html: str | None = None, attachments: list | None = None,
) -> Message:
    """An operator's reply that left without okno (from his own mail client, the support mailbox
    in Cc): his outbound message, already sent, so nothing is delivered. It records what a reply
    sent through okno records (``message.queued``: the first response, the waiting customer)."""
    message = Message(
        conversation_id=conversation.id, customer_id=conversation.customer_id, channel_id=channel_id,
        direction=Direction.outbound.value, text=text, html=html, subject=subject, attachments=attachments or [],
        provider_message_id=provider_message_id, status=MessageStatus.sent.value, author_id=author_id,
        **Actor.operator(author_id).columns(), created_at=at, status_updated_at=at,
    )  # fmt: skip
    session.add(message)
    await session.flush()
    conversation.last_message_at = max(conversation.last_message_at or at, at)
    await _record(session, message, "message.queued")
    return message
