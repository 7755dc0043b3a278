"""Click-to-call: an operator asks okno to connect him with the conversation's customer.

The channel's provider rings the operator's extension first and, once he picks up, the
customer's phone (``PlacesCalls``). okno stores nothing here: the call's own events arrive
through the channel's webhook like any call, and its answer completes a waiting missed call.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.channels.base import DeliveryError
from okno.channels.directory import ChannelDirectory, LiveChannel
from okno.conversations.queries import get_conversation
from okno.customers.queries import identities_of
from okno.kit.errors import Invalid, NotFound, OknoError
from okno.models import Channel, Operator


class ProviderRefused(OknoError):
    status_code = 502
    code = "provider_refused"


@dataclass(frozen=True)
class CallPlan:
    channel: LiveChannel
    extension: str
    phone: str


async def plan_call(
    session: AsyncSession, channels: ChannelDirectory, *, scope: Scope, operator: Operator, conversation_id: int, channel_id: int | None
) -> CallPlan:
    """Checks everything before the provider is asked: the conversation is the operator's to see
    (404 otherwise, like a reply), he has an extension, the customer has a phone, and a channel
    that places calls is at hand (the conversation's own, or one of its team's or of no team)."""
    conversation = await get_conversation(session, conversation_id, scope=scope)
    if not operator.extension:
        raise Invalid("you have no telephone extension: an admin sets it (PATCH /api/v1/operators/{id} {\"extension\": \"100\"})")
    phones = [i.value for i in (await identities_of(session, [conversation.customer_id]))[conversation.customer_id] if i.kind == "phone"]
    if not phones:
        raise Invalid("customer %(customer_id)s has no phone number to call", customer_id=conversation.customer_id)
    channel = await _calling_channel(session, channels, channel_id or conversation.channel_id, conversation.team_id, explicit=channel_id is not None)
    return CallPlan(channel=channel, extension=operator.extension, phone=phones[0])


async def _calling_channel(session: AsyncSession, channels: ChannelDirectory, preferred: int | None, team_id: int | None, *, explicit: bool) -> LiveChannel:
    if preferred is not None:
        live = await channels.get(preferred)
        if live is not None and live.adapter.capabilities.click_to_call and live.team_id in (None, team_id):
            return live
        if explicit:
            raise Invalid("channel %(preferred)s does not place calls for this conversation's team", preferred=preferred)
    for channel_id in await session.scalars(select(Channel.id).where(Channel.is_active.is_(True)).order_by(Channel.id)):
        live = await channels.get(channel_id)
        if live is not None and live.adapter.capabilities.click_to_call and live.team_id in (None, team_id):
            return live
    raise NotFound("no enabled telephone channel can place this call")


async def place_call(plan: CallPlan, http: httpx.AsyncClient) -> None:
    """Asks the provider (no transaction open); its refusal is a 502 with the provider's reason."""
    try:
        await plan.channel.adapter.place_call(plan.channel.config, extension=plan.extension, phone=plan.phone, http=http)  # type: ignore[attr-defined]
    except DeliveryError as exc:
        raise ProviderRefused("the provider did not place the call: %(reason)s", reason=exc.reason) from exc
