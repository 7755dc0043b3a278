"""The ``call_webhook`` action's job: records an outbound call as a durable job, never calls out itself.

The rule's transaction only inserts a ``webhook_calls`` row with the exact JSON body (the event,
the conversation and the customer as they are now) and an idempotency key derived from (event,
rule action, conversation), so a redelivered event adds no second call. ``okno.automation.webhook_worker``
POSTs it after commit, with retries.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.kit.db_wake import request_wake
from okno.models import Conversation, Customer, Identity, WebhookCall

WORKER = "webhook_calls"


async def record_webhook_call(
    session: AsyncSession,
    *,
    conversation_id: int,
    rule_id: int,
    action_index: int,
    event: Event,
    url: str,
    secret_sealed: str | None,
) -> None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return
    customer = await session.get(Customer, conversation.customer_id)
    identities = (
        await session.execute(select(Identity.kind, Identity.value).where(Identity.customer_id == conversation.customer_id).order_by(Identity.id))
    ).all()
    body = {
        "event": event.topic,
        "event_id": event.id,
        "rule_id": rule_id,
        "conversation": _conversation_json(conversation),
        "customer": {
            "id": conversation.customer_id,
            "name": customer.name if customer is not None else "",
            "attributes": customer.attributes if customer is not None else {},
            "identities": [{"kind": kind, "value": value} for kind, value in identities],
        },
    }
    key = hashlib.sha256(f"okno.webhook:{event.id}:{rule_id}:{action_index}:{conversation_id}".encode()).hexdigest()[:48]
    values = {
        "rule_id": rule_id,
        "conversation_id": conversation_id,
        "customer_id": conversation.customer_id,
        "url": url,
        "body": orjson.dumps(body).decode(),
        "secret_sealed": secret_sealed,
        "idempotency_key": key,
    }
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    await session.execute(insert(WebhookCall).values(values).on_conflict_do_nothing(index_elements=["idempotency_key"]))
    request_wake(session, WORKER)


def _conversation_json(conversation: Conversation) -> dict[str, Any]:
    def moment(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": conversation.id,
        "status": conversation.status,
        "reason": conversation.reason,
        "priority": conversation.priority,
        "team_id": conversation.team_id,
        "assignee_id": conversation.assignee_id,
        "channel_id": conversation.channel_id,
        "tags": list(conversation.tags or []),
        "created_at": moment(conversation.created_at),
        "last_message_at": moment(conversation.last_message_at),
        "resolved_at": moment(conversation.resolved_at),
        "snoozed_until": moment(conversation.snoozed_until),
    }
