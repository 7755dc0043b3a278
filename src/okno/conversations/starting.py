"""okno writes first: an operator or an integration opens a conversation with a customer in a
channel that allows it, and the first outbound message is queued in the same transaction."""

from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.channels.registry import adapter_class
from okno.channels.interactive import Interactive
from okno.conversations.actors import Actor, current_actor
from okno.conversations.reply_channels import check_channel_reaches
from okno.conversations.replies import RichContent, check_content, check_reply_window, queue_outbound
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import (
    UNFINISHED_TYPES,
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    Identity,
    Message,
    StatusDefinition,
    TimelineEvent,
)


async def start_conversation(
    session: AsyncSession,
    *,
    customer_id: int,
    channel_id: int,
    author_id: int | None,
    text: str,
    rich: RichContent,
    interactive: Interactive | None = None,
    actor: Actor | None = None,
) -> tuple[Conversation, Message]:
    """``actor`` defaults as in ``post_operator_message``: whoever is acting in the session, else
    the operator ``author_id``, else the system."""
    actor = actor or current_actor(session, author_id)
    customer = await session.get(Customer, customer_id)
    if customer is None or customer.merged_into_id is not None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    channel = await _channel_that_may_start(session, channel_id)
    await _check_addressable(session, channel, customer_id)
    await check_channel_reaches(session, channel, customer_id)
    await check_reply_window(session, channel, customer_id, uses_template=rich.template is not None)
    if not text.strip() and not rich.uploads and rich.template is None:
        raise Invalid("give text or a template to start the conversation with")
    check_content(text, rich, interactive)
    await _refuse_if_unfinished(session, customer_id)
    conversation = await _open(session, customer_id, channel, author_id, actor)
    message = await queue_outbound(
        session, conversation, channel, author_id=author_id, text=text, rich=rich, interactive=interactive, actor=actor
    )
    return conversation, message


async def _channel_that_may_start(session: AsyncSession, channel_id: int) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise Invalid("%(what)s %(id)s does not exist", what="channel", id=channel_id)
    if not channel.is_active:
        raise Invalid("%(what)s %(id)s is disabled", what="channel", id=channel_id)
    if not adapter_class(channel.kind).capabilities.starts_conversations:
        raise Invalid("a %(kind)s channel can't start a conversation: the customer has to write first", kind=channel.kind)
    return channel


async def _check_addressable(session: AsyncSession, channel: Channel, customer_id: int) -> None:
    kinds = adapter_class(channel.kind).capabilities.address_kinds
    found = await session.scalar(select(Identity.id).where(Identity.customer_id == customer_id, Identity.kind.in_(kinds)).limit(1))
    if found is None:
        raise Invalid("customer %(customer_id)s has no identity a %(kind)s channel can write to (needs one of: %(kinds)s)", customer_id=customer_id, kind=channel.kind, kinds=', '.join(sorted(kinds)))


async def _refuse_if_unfinished(session: AsyncSession, customer_id: int) -> None:
    """Touches thread per customer: a second unfinished conversation would split the chat."""
    unfinished = await session.scalar(
        select(Conversation.id)
        .join(StatusDefinition, StatusDefinition.key == Conversation.status)
        .where(Conversation.customer_id == customer_id, StatusDefinition.type.in_([t.value for t in UNFINISHED_TYPES]))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if unfinished is not None:
        raise Conflict("customer %(customer_id)s already has an unfinished conversation %(unfinished)s: write there", customer_id=customer_id, unfinished=unfinished)


async def _open(session: AsyncSession, customer_id: int, channel: Channel, author_id: int | None, actor: Actor) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        customer_id=customer_id, channel_id=channel.id, status=ConversationStatus.open.value,
        medium=adapter_class(channel.kind).capabilities.medium, created_at=now, updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    data = {"started_by": author_id}
    session.add(
        TimelineEvent(
            customer_id=customer_id, conversation_id=conversation.id, channel_id=channel.id, actor_id=author_id,
            actor_type=actor.type.value, actor_ref=actor.ref, kind="conversation.opened", data=data, occurred_at=now,
        )
    )
    await record_event(session, "conversation.opened", {"conversation_id": conversation.id, "customer_id": customer_id, "channel_id": channel.id})
    return conversation
