"""Everything okno holds about one person, as one JSON document (a data-subject access request).

The person is the profile asked for and every profile merged into the same person (as
:mod:`okno.customers.erasure` counts them): the live survivor the id resolves to and the
merged-away tombstones, whose names and attributes are listed under ``merged_profiles``. The
document holds the profile (attributes in full, id numbers unmasked: it is the person's own
data), identities, conversations, every message (internal notes included: they are data about
the person too), the timeline, and the attachments with how to download each one.

Reading happens on the reader; only the audit entry (``customer.exported``) is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.merge import live_customer_id
from okno.kit.audit import audit
from okno.kit.db import Database
from okno.kit.errors import NotFound
from okno.kit.time import utcnow
from okno.models import Conversation, Customer, Identity, Message, StoredFile, TimelineEvent

FORMAT = "okno.customer-export/1"


async def export_customer_data(db: Database, customer_id: int, *, actor_id: int | None) -> dict[str, Any]:
    """The document, read on the reader; the audit entry in a short write transaction after."""
    async with db.reading() as session:
        document = await export_customer(session, customer_id)
    async with db.transaction() as session:
        counts = {name: len(document[name]) for name in ("identities", "conversations", "messages", "timeline", "attachments")}
        await audit(session, actor_id=actor_id, action="customer.exported", subject=("customer", document["customer"]["id"]),
                    data={"requested_id": customer_id, "customers": document["customer_ids"], "counts": counts})  # fmt: skip
    return document


async def export_customer(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    if await session.get(Customer, customer_id) is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    root = await live_customer_id(session, customer_id)
    profiles = await _same_person(session, root)
    ids = [p.id for p in profiles]
    messages = list((await session.scalars(select(Message).where(Message.customer_id.in_(ids)).order_by(Message.id))).all())
    files = await _stored_files(session, messages)
    return {
        "format": FORMAT,
        "exported_at": _when(utcnow()),
        "customer_ids": ids,
        "customer": _profile(next(p for p in profiles if p.id == root)),
        "merged_profiles": [_profile(p) for p in profiles if p.id != root],
        "identities": [
            {"customer_id": i.customer_id, "kind": i.kind, "value": i.value, "source_channel_id": i.source_channel_id, "created_at": _when(i.created_at)}
            for i in await session.scalars(select(Identity).where(Identity.customer_id.in_(ids)).order_by(Identity.id))
        ],
        "conversations": [
            _columns(c, "id", "customer_id", "channel_id", "status", "reason", "priority", "team_id", "assignee_id", "created_at",
                     "last_message_at", "resolved_at", "tags", "thread_key")  # fmt: skip
            for c in await session.scalars(select(Conversation).where(Conversation.customer_id.in_(ids)).order_by(Conversation.id))
        ],
        "messages": [
            _columns(m, "id", "conversation_id", "channel_id", "direction", "kind", "subject", "text", "html", "content", "status",
                     "author_id", "actor_type", "created_at", "redacted_at")  # fmt: skip
            | {"attachments": len(m.attachments or [])}
            for m in messages
        ],
        "attachments": [_attachment(m, n, a, files) for m in messages for n, a in enumerate(m.attachments or [])],
        "timeline": [
            _columns(e, "id", "kind", "occurred_at", "conversation_id", "message_id", "channel_id", "actor_type", "actor_id", "data")
            for e in await session.scalars(
                select(TimelineEvent).where(TimelineEvent.customer_id.in_(ids)).order_by(TimelineEvent.occurred_at, TimelineEvent.id)
            )
        ],
    }


async def _same_person(session: AsyncSession, root: int) -> list[Customer]:
    found: dict[int, Customer] = {}
    frontier = [root]
    first = await session.get(Customer, root)
    if first is not None:
        found[root] = first
    while frontier:
        rows = (await session.scalars(select(Customer).where(Customer.merged_into_id.in_(frontier)))).all()
        frontier = [c.id for c in rows if c.id not in found]
        found.update({c.id: c for c in rows})
    return [found[cid] for cid in sorted(found)]


async def _stored_files(session: AsyncSession, messages: list[Message]) -> dict[int, StoredFile]:
    ids = {a.get("stored_file_id") for m in messages for a in m.attachments or [] if isinstance(a, dict)}
    ids = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not ids:
        return {}
    return {f.id: f for f in await session.scalars(select(StoredFile).where(StoredFile.id.in_(ids)))}


def _attachment(message: Message, index: int, attachment: Any, files: dict[int, StoredFile]) -> dict[str, Any]:
    meta = attachment if isinstance(attachment, dict) else {}
    stored = files.get(meta.get("stored_file_id")) if isinstance(meta.get("stored_file_id"), int) else None
    return {
        "message_id": message.id,
        "index": index,
        "kind": meta.get("kind"),
        "name": meta.get("name") or (stored.filename if stored else None),
        "mime_type": meta.get("mime_type") or (stored.content_type if stored else None),
        "size": stored.size if stored else meta.get("size"),
        "sha256": stored.sha256 if stored else meta.get("sha256"),
        "stored_by_okno": stored is not None,  # else fetched from the provider on demand (it may have expired there)
        "download": f"/api/v1/messages/{message.id}/attachments/{index}",
    }


def _profile(customer: Customer) -> dict[str, Any]:
    return _columns(customer, "id", "name", "attributes", "created_at", "updated_at", "merged_into_id", "erased_at")


def _columns(row: object, *names: str) -> dict[str, Any]:
    return {name: _when(value) if isinstance(value := getattr(row, name), datetime) else value for name in names}


def _when(value: datetime) -> str:
    return value.isoformat()
