"""How the conversation view shows an e-mail: the new text, the quoted history one click away,
and the sanitised HTML with its inline (``cid:``) images pointing at the message's own files.

The e-mail adapter keeps what quote stripping cut (``InboundMessage.context["email"]["quoted"]``);
ingest files the context with the message's ``message.received`` timeline entry (sealed at rest),
so it is read from there — or from ``Message.content["email"]`` where a message carries it. Which
messages are e-mails is decided by capabilities and data, not by a channel's name: a message that
came through a channel whose adapter declares the ``email`` medium, or that carries quoted e-mail
history (looked for only in messages with a subject, so a chat costs no query).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.registry import adapter_class
from okno.models import Channel, Message, TimelineEvent

MAX_QUOTED = 200_000  # characters of quoted history shown under the toggle


@dataclass(frozen=True)
class EmailShown:
    quoted: str = ""  # the earlier messages and the signature the new text left out
    html: str | None = None  # the stored (sanitised) HTML, inline images pointing at attachments


def _is_mail_channel(channel: Channel | None) -> bool:
    if channel is None:
        return False
    try:
        return adapter_class(channel.kind).capabilities.medium == "email"
    except Exception:  # noqa: BLE001 - a kind no longer installed: not known to be mail
        return False


async def email_parts(session: AsyncSession, customer_id: int, messages: Iterable[Message], channels: dict[int, Channel]) -> dict[int, EmailShown]:
    """Per message id, what an e-mail shows beyond its text; one query, and none when no message
    came through a mail channel or has a subject."""
    mail_channel = {m.id: _is_mail_channel(channels.get(m.channel_id)) for m in messages}  # type: ignore[arg-type]
    candidates = [m for m in messages if mail_channel[m.id] or m.subject is not None]
    if not candidates:
        return {}
    quoted: dict[int, str] = {m.id: _quoted_of(m.content) for m in candidates if _quoted_of(m.content)}
    inbound = [m.id for m in candidates if m.direction == "in" and m.id not in quoted]
    if inbound:
        rows = await session.execute(
            select(TimelineEvent.message_id, TimelineEvent.data).where(
                TimelineEvent.customer_id == customer_id, TimelineEvent.kind == "message.received", TimelineEvent.message_id.in_(inbound)
            )
        )
        for message_id, data in rows:
            found = _quoted_of((data or {}).get("context"))
            if found and message_id is not None:
                quoted[message_id] = found
    return {
        m.id: EmailShown(quoted=quoted.get(m.id, "")[:MAX_QUOTED], html=with_inline_images(m.html, m.attachments or [], m.id) if m.html else None)
        for m in candidates
        # a subject alone (a call summary, an integrator's ticket) is not an e-mail: it keeps its usual look
        if mail_channel[m.id] or m.id in quoted
    }


def _quoted_of(holder: object) -> str:
    if not isinstance(holder, dict):
        return ""
    mail = holder.get("email")
    quoted = mail.get("quoted") if isinstance(mail, dict) else None
    return quoted if isinstance(quoted, str) else ""


_CID_SRC = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)


def with_inline_images(html: str, attachments: list, message_id: int) -> str:
    """``src="cid:…"`` in sanitised HTML → the message's attachment with that Content-ID."""
    index_of = {}
    for index, attachment in enumerate(attachments):
        if isinstance(attachment, dict) and isinstance(attachment.get("content_id"), str):
            index_of.setdefault(attachment["content_id"].strip("<>"), index)
    if not index_of:
        return html

    def link(match: re.Match[str]) -> str:
        index = index_of.get(html_lib.unescape(match.group(1)).strip("<>"))
        return match.group(0) if index is None else f'src="/api/v1/messages/{int(message_id)}/attachments/{index}"'

    return _CID_SRC.sub(link, html)
