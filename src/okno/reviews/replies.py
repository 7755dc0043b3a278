"""Deleting the public reply to a review (docs/reviews.md): an operator action on the review's
conversation, for channels whose adapter says ``deletes_replies`` (Google keeps one reply per
review and lets its owner delete it).

The provider is asked first, with no transaction open (a slow provider never holds the writer);
only when it agreed is the ``review.reply_deleted`` timeline entry written, by the operator."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.channels.base import DeliveryError
from okno.channels.directory import ChannelDirectory, LiveChannel
from okno.conversations.actors import Actor
from okno.conversations.queries import get_conversation
from okno.kit.errors import Invalid, OknoError
from okno.kit.time import utcnow
from okno.models import TimelineEvent

REPLY_DELETED = "review.reply_deleted"  # a timeline entry (not an outbox event)


class ProviderRefused(OknoError):
    status_code = 502


@dataclass(frozen=True)
class ReplyDeletion:
    conversation_id: int
    customer_id: int
    channel: LiveChannel
    review_id: str


async def plan_reply_deletion(session: AsyncSession, channels: ChannelDirectory, *, scope: Scope, conversation_id: int) -> ReplyDeletion:
    """The conversation is the operator's to see (404 otherwise), it is a review (its thread key is
    the review's id) and its channel deletes replies (422 otherwise)."""
    conversation = await get_conversation(session, conversation_id, scope=scope)
    channel = await channels.get(conversation.channel_id) if conversation.channel_id else None
    if channel is None or not channel.adapter.capabilities.deletes_replies:
        raise Invalid("this conversation's channel does not let okno delete a review's reply")
    if not conversation.thread_key:
        raise Invalid("the conversation is not a review: there is no reply to delete")
    return ReplyDeletion(conversation_id=conversation.id, customer_id=conversation.customer_id, channel=channel, review_id=conversation.thread_key)


async def delete_reply_at_provider(plan: ReplyDeletion, http: httpx.AsyncClient) -> None:
    """Asks the provider (no transaction open); its refusal is a 502 with the provider's reason."""
    try:
        await plan.channel.adapter.delete_reply(plan.channel.config, plan.review_id, http)  # type: ignore[attr-defined]
    except DeliveryError as exc:
        raise ProviderRefused("the provider did not delete the reply: %(reason)s", reason=exc.reason) from exc


def record_reply_deleted(session: AsyncSession, plan: ReplyDeletion, *, actor_id: int) -> None:
    session.add(
        TimelineEvent(
            customer_id=plan.customer_id, conversation_id=plan.conversation_id, channel_id=plan.channel.id, actor_id=actor_id,
            **Actor.operator(actor_id).columns(), kind=REPLY_DELETED, data={"review_id": plan.review_id}, occurred_at=utcnow(),
        )
    )  # fmt: skip
