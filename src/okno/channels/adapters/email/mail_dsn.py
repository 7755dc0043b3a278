"""Delivery status notifications (RFC 3464): which of our messages bounced, for whom, and why.

A DSN is ``multipart/report; report-type=delivery-status`` with a human-readable part, a
``message/delivery-status`` part (per-message fields, then one block per recipient: ``Action``,
``Status``, ``Final-Recipient``, ``Diagnostic-Code``) and the returned message — whole
(``message/rfc822``, Postfix) or its headers only (``text/rfc822-headers``, Exchange).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

from okno.channels.adapters.email.mail_charsets import decode_bytes, decode_header_text

MAX_DIAGNOSTIC = 500  # characters kept of the reason
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_FOLD = re.compile(r"\s+")
_ID = re.compile(r"<([^<>\s]+)>|(\S+@\S+)")


def is_delivery_report(message: Message) -> bool:
    return message.get_content_type() == "multipart/report" and str(message.get_param("report-type") or "").lower() == "delivery-status"


def read_report(message: Message, human_text: str) -> tuple[str | None, str, str, str | None]:
    """(original Message-ID, status, diagnostic, recipient) of a delivery report."""
    blocks: list[dict[str, str]] = []
    original: str | None = None
    for part in message.iter_parts() if message.is_multipart() else ():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _status_blocks(part)
        elif kind in ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers") and original is None:
            original = _returned_id(part)
    per_message = blocks[0] if blocks else {}
    recipients = blocks[1:] or blocks[:1]
    chosen = next((b for b in recipients if b.get("action", "").lower() == "failed"), recipients[0] if recipients else {})
    if original is None:
        original = _first_id(per_message.get("original-message-id") or chosen.get("original-message-id"))
    status_match = _STATUS.search(chosen.get("status", ""))
    diagnostic = _diagnostic(chosen.get("diagnostic-code", "")) or _FOLD.sub(" ", human_text).strip()
    recipient = _address(chosen.get("final-recipient") or chosen.get("original-recipient") or "")
    return original, status_match.group(0) if status_match else "", diagnostic[:MAX_DIAGNOSTIC], recipient


def _status_blocks(part: Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    if isinstance(payload, list):  # the parser split the blocks into header-only messages
        return [{k.lower(): decode_header_text(v) for k, v in block.items()} for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True)
    text = decode_bytes(raw, "utf-8") if isinstance(raw, bytes) else str(payload or "")
    return [_fields(chunk) for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _fields(chunk: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = None
    for line in chunk.splitlines():
        if line[:1] in (" ", "\t") and last:
            fields[last] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            last = name.strip().lower()
            fields[last] = value.strip()
    return fields


def _returned_id(part: Message) -> str | None:
    if part.get_content_type().startswith("message/") and part.is_multipart():
        inner = part.get_payload(0)
        return _first_id(inner.get("Message-ID")) if isinstance(inner, Message) else None
    raw = part.get_payload(decode=True)
    text = decode_bytes(raw, "utf-8") if isinstance(raw, bytes) else str(part.get_payload() or "")
    headers = email.message_from_string(text.split("\n\n", 1)[0].split("\r\n\r\n", 1)[0] + "\n\n", policy=email.policy.compat32)
    return _first_id(headers.get("Message-ID"))


def _first_id(value: object) -> str | None:
    match = _ID.search(str(value or ""))
    return (match.group(1) or match.group(2)) if match else None


def _diagnostic(value: str) -> str:
    kind, _, rest = value.partition(";")
    text = rest if rest and kind.strip().lower() in ("smtp", "x-unix", "x-postfix", "x-local", "x-exchange") else value
    return _FOLD.sub(" ", text).strip()


def _address(value: str) -> str | None:
    _, _, address = value.rpartition(";")
    address = address.strip().strip("<>").lower()
    return address if "@" in address else None
