"""One raw RFC 5322 message (bytes, as IMAP returns it) → :class:`ParsedEmail`.

The adapter (IMAP poller, threading, bounces) reads only these fields; how they are worked out
(charsets, transfer encodings, multipart/alternative, sanitising, quoted-reply stripping) is this
module's and ``quotes.py``'s business. The standard library's ``email`` with ``policy.default``.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from okno.channels.adapters.email.quotes import split_reply


@dataclass(frozen=True)
class EmailAttachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None  # without <>, for inline images referenced as cid:
    inline: bool = False


@dataclass(frozen=True)
class BounceReport:
    """A delivery status notification (multipart/report; report-type=delivery-status)."""

    original_message_id: str | None  # the bounced message's Message-ID, without <>
    status: str  # the DSN Status field ("5.1.1"), "" when absent
    diagnostic: str  # Diagnostic-Code or the human-readable part, shortened
    recipient: str | None = None


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None  # without <>
    in_reply_to: tuple[str, ...]  # ids without <>
    references: tuple[str, ...]  # ids without <>, oldest first as sent
    subject: str
    from_address: str | None
    from_name: str
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None  # UTC-aware
    text: str  # the whole plain text (text/plain, else derived from the HTML)
    new_text: str  # ``text`` without the quoted earlier messages and the signature
    html: str | None  # the HTML part as sent (the pipeline sanitises it before storing)
    attachments: tuple[EmailAttachment, ...] = ()
    # Auto-Submitted other than "no", Precedence bulk/list/junk, a List-Id: never answer automatically
    automatic: bool = False
    bounce: BounceReport | None = None
    headers: dict[str, str] = field(default_factory=dict)  # a few raw headers kept for the "why" panel


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip().strip("<>") for part in str(value).replace(",", " ").split() if part.strip("<> "))


def _addresses(message: EmailMessage, header: str) -> tuple[str, ...]:
    values = message.get_all(header) or []
    return tuple(addr.lower() for _, addr in email.utils.getaddresses([str(v) for v in values]) if addr)


def parse_email(raw: bytes) -> ParsedEmail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    name, address = email.utils.parseaddr(str(message.get("From", "")))
    date = None
    if message.get("Date"):
        try:
            date = email.utils.parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
    body = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = body.get_content() if body is not None else ""
    html = html_part.get_content() if html_part is not None else None
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return ParsedEmail(
        message_id=(_ids(message.get("Message-ID")) or (None,))[0],
        in_reply_to=_ids(message.get("In-Reply-To")),
        references=_ids(message.get("References")),
        subject=str(message.get("Subject", "")),
        from_address=address.lower() or None,
        from_name=name,
        reply_to=_addresses(message, "Reply-To"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        date=date,
        text=text,
        new_text=split_reply(text).new,
        html=html,
        automatic=(auto not in ("", "no")) or precedence in ("bulk", "list", "junk") or "List-Id" in message,
    )
