"""One raw RFC 5322 message (bytes, as IMAP returns it) → :class:`ParsedEmail`.

The adapter (IMAP poller, threading, bounces) reads only these fields; how they are worked out
(charsets, transfer encodings, multipart/alternative, sanitising, quoted-reply stripping) is this
module's and ``quotes.py``'s business. The standard library's ``email`` with ``policy.default``
splits the MIME tree and undoes transfer encodings; header words and body charsets are decoded by
``mail_charsets`` (tolerant of what real clients send), bounces are read by ``mail_dsn``.

:func:`parse_email` never raises: hostile or broken input gives a ParsedEmail with what could be
read (see docs/email-parsing.md).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

from okno.channels.adapters.email.mail_charsets import decode_bytes, decode_header_text, guess_decode
from okno.channels.adapters.email.mail_dsn import is_delivery_report, read_report
from okno.channels.adapters.email.mail_html import mail_html_to_text
from okno.channels.adapters.email.quotes import split_reply

MAX_PART_BYTES = 25 * 1024 * 1024  # one attachment or inline image, decoded
MAX_TOTAL_BYTES = 50 * 1024 * 1024  # all attachments of one message together
MAX_TEXT_CHARS = 500_000  # the plain text (and, separately, the HTML) kept of one message
MAX_PARTS = 200  # MIME parts looked at; a message with more is read up to there
MAX_DEPTH = 16  # multipart nesting
KEPT_HEADERS = ("Auto-Submitted", "Precedence", "List-Id", "X-Mailer", "User-Agent", "Return-Path", "Reply-To", "Received-SPF", "Authentication-Results")


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
    quoted: str = ""  # what ``new_text`` left out: the quoted history and the signature
    # parts not kept (over a size limit, too deep, too many), one line each; also noted in ``text``
    notes: tuple[str, ...] = ()
    # messages attached whole (``message/rfc822`` parts, "forward as attachment"), as raw bytes
    forwarded: tuple[bytes, ...] = ()


def parse_email(
    raw: bytes, *, max_part_bytes: int = MAX_PART_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES, max_text_chars: int = MAX_TEXT_CHARS
) -> ParsedEmail:
    """The parsed message; never raises (a message the parser cannot read at all comes back as its
    raw text, every other field empty)."""
    try:
        return _parse(bytes(raw), _Limits(max_part_bytes, max_total_bytes, max_text_chars))
    except Exception:  # noqa: BLE001 - the last resort for input nobody foresaw: keep the bytes readable
        text = guess_decode(bytes(raw)[: max_text_chars * 4])[:max_text_chars]
        return ParsedEmail(
            message_id=None, in_reply_to=(), references=(), subject="", from_address=None, from_name="", reply_to=(), to=(), cc=(),
            date=None, text=text, new_text=text.strip(), html=None, notes=("the message could not be parsed; its raw text is kept / письмо не разобрано, сохранён его исходный текст",),
        )


@dataclass(frozen=True)
class _Limits:
    part: int
    total: int
    text: int


@dataclass
class _Body:
    """What the walk over the MIME tree found."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[EmailAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    parts_seen: int = 0


def _parse(raw: bytes, limits: _Limits) -> ParsedEmail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = _sender(message)
    body = _Body()
    _walk(message, body, limits, depth=0)
    html = "\n".join(body.html)[: limits.text] or None
    text = "\n\n".join(t for t in body.plain if t.strip())
    if not text.strip() and html:
        text = mail_html_to_text(html)
    text = _CID_LINE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BLANK_RUN.sub("\n\n", text).strip("\n")
    if len(text) > limits.text:
        body.notes.append(f"the text was cut at {limits.text} characters / текст обрезан до {limits.text} знаков")
        text = text[: limits.text]
    bounce = None
    if is_delivery_report(message):
        original, status, diagnostic, recipient = read_report(message, text)
        bounce = BounceReport(original_message_id=original, status=status, diagnostic=diagnostic, recipient=recipient)
    reply = split_reply(text) if bounce is None else None
    new_text = reply.new if reply is not None else text.strip()
    if body.notes:
        note_lines = "\n".join(f"[{note}]" for note in body.notes)
        text = f"{text}\n\n{note_lines}".strip()
        new_text = f"{new_text}\n\n{note_lines}".strip()
    in_reply_to = _ids(_header(message, "In-Reply-To"))
    return ParsedEmail(
        message_id=(_ids(_header(message, "Message-ID")) or (None,))[0],
        in_reply_to=in_reply_to,
        references=_ids(_header(message, "References")),
        subject=decode_header_text(_header(message, "Subject")),
        from_address=address,
        from_name=name,
        reply_to=_addresses(message, "Reply-To"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        date=_date(_header(message, "Date")),
        text=text,
        new_text=new_text,
        html=html,
        attachments=tuple(body.attachments),
        automatic=bounce is not None or _automatic(message),
        bounce=bounce,
        headers={h: decode_header_text(_header(message, h))[:500] for h in KEPT_HEADERS if _header(message, h)},
        quoted=reply.quoted if reply is not None else "",
        notes=tuple(body.notes),
        forwarded=_forwarded(message) if bounce is None else (),
    )


def _forwarded(message: Message) -> tuple[bytes, ...]:
    """The messages attached whole at the top level (a client's "forward as attachment")."""
    if not message.is_multipart():
        return ()
    found = []
    for child in message.get_payload() or []:
        if isinstance(child, Message) and child.get_content_type() == "message/rfc822":
            inner = child.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.append(inner[0].as_bytes(policy=email.policy.SMTP))
    return tuple(found[:5])


_CID_LINE = re.compile(r"^[ \t]*\[cid:[^\]\n]*\][ \t]*$", re.MULTILINE)  # Outlook's stand-in for an inline image
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


# ---------------------------------------------------------------- headers

def _header(message: Message, name: str) -> str:
    """The header's raw value (the first one), unparsed: decoding is ours, and never raises."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return ""


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found:  # no angle brackets: ids separated by spaces or commas, as some clients write them
        found = [part.strip("<>") for part in value.replace(",", " ").split() if "@" in part]
    seen: dict[str, None] = {}
    for item in found[:100]:
        item = guess_decode(item.encode("utf-8", errors="surrogateescape"))[:255]
        seen.setdefault(item, None)
    return tuple(seen)


def _sender(message: Message) -> tuple[str, str | None]:
    pairs = _pairs(message, "From") or _pairs(message, "Sender")
    if not pairs:
        return "", None
    name, address = pairs[0]
    return name, address or None


def _pairs(message: Message, header: str) -> list[tuple[str, str]]:
    values = [str(v) for key, v in message.raw_items() if key.lower() == header.lower()]
    if not values:
        return []
    unfolded = [_FOLDING.sub(" ", guess_decode(v.encode("utf-8", errors="surrogateescape"))) for v in values]
    pairs = []
    for name, address in email.utils.getaddresses(unfolded):
        address = address.strip().lower()
        if address and ("@" not in address or any(ch.isspace() for ch in address)):
            address = ""
        pairs.append((decode_header_text(name), address))
    if not any(address for _, address in pairs):  # getaddresses gave up on a broken display name
        pairs = [("", found.lower()) for found in _BARE_ADDRESS.findall(" ".join(unfolded))]
    return pairs


_FOLDING = re.compile(r"\r?\n[ \t]+")
_BARE_ADDRESS = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")


def _addresses(message: Message, header: str) -> tuple[str, ...]:
    return tuple(address for _, address in _pairs(message, header) if address)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # "-0000": the time is UTC, the zone unknown (RFC 5322)
    return parsed.astimezone(UTC)


def _automatic(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    return (
        (bool(auto) and not auto.startswith("no"))
        or precedence in ("bulk", "list", "junk")
        or bool(_header(message, "List-Id"))
        or _header(message, "X-Autoreply").strip().lower() == "yes"
        or bool(_header(message, "X-Autorespond"))
    )


# ---------------------------------------------------------------- the MIME tree

def _walk(part: Message, body: _Body, limits: _Limits, depth: int) -> None:
    body.parts_seen += 1
    if body.parts_seen > MAX_PARTS or depth > MAX_DEPTH:
        if body.parts_seen == MAX_PARTS + 1 or depth == MAX_DEPTH + 1:
            body.notes.append("parts beyond the limits (too many or too deeply nested) were not read / части письма сверх пределов не прочитаны")
        return
    kind = part.get_content_type()
    if part.is_multipart():
        children = [child for child in (part.get_payload() or []) if isinstance(child, Message)]
        if kind == "multipart/alternative":
            _alternative(children, body, limits, depth)
        elif kind == "multipart/report":
            for child in children:
                if child.get_content_type() in ("message/delivery-status", "message/rfc822", "text/rfc822-headers", "message/global-delivery-status"):
                    continue  # read by mail_dsn; the returned message is ours, not the customer's
                _walk(child, body, limits, depth + 1)
        else:
            for child in children:
                _walk(child, body, limits, depth + 1)
        return
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if kind == "text/plain" and disposition != "attachment" and not filename:
        body.plain.append(_unflow(_text_of(part), part))
    elif kind == "text/html" and disposition != "attachment" and not filename and not body.html:
        body.html.append(_text_of(part))
    else:
        _attachment(part, kind, disposition, filename, body, limits)


def _alternative(children: list[Message], body: _Body, limits: _Limits, depth: int) -> None:
    """One text and one HTML of the versions on offer (the last is the sender's favourite)."""
    found = []
    for child in children:
        branch = _Body(kept_bytes=body.kept_bytes, parts_seen=body.parts_seen)
        _walk(child, branch, limits, depth + 1)
        body.parts_seen = branch.parts_seen
        found.append(branch)
    plain = next((b.plain for b in reversed(found) if b.plain), [])
    html = next((b.html for b in reversed(found) if b.html), [])
    body.plain.extend(plain)
    if not body.html:
        body.html.extend(html)
    for branch in found:
        body.notes.extend(branch.notes)
        for attachment in branch.attachments:
            if body.kept_bytes + len(attachment.data) <= limits.total:
                body.attachments.append(attachment)
                body.kept_bytes += len(attachment.data)
            else:
                body.notes.append(_over_total(attachment.filename, len(attachment.data), limits))


def _text_of(part: Message) -> str:
    data = _payload(part)
    return decode_bytes(data, _charset(part))


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a transfer encoding the library chokes on: the raw payload
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else b""


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:  # noqa: BLE001
        return None
    if isinstance(value, tuple):  # RFC 2231 form
        value = value[2]
    return str(value) if value else None


def _unflow(text: str, part: Message) -> str:
    """RFC 3676 format=flowed: a line ending in a space continues on the next one."""
    try:
        flowed = str(part.get_param("format") or "").lower() == "flowed"
        delsp = str(part.get_param("delsp") or "").lower() == "yes"
    except Exception:  # noqa: BLE001
        return text
    if not flowed:
        return text
    out: list[str] = []
    joining = False
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" ") and depth:
            content = content[1:]
        elif content.startswith(" "):
            content = content[1:]  # space-stuffing
        if joining and out and out[-1][0] == depth:
            out[-1] = (depth, out[-1][1] + content)
        else:
            out.append((depth, content))
        joining = content.endswith(" ") and content != "-- "
        if joining and delsp:
            out[-1] = (depth, out[-1][1][:-1])
    return "\n".join((">" * depth + (" " if depth and content else "") + content) for depth, content in out)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter
        name = None
    if not name:
        try:
            name = part.get_param("name")
        except Exception:  # noqa: BLE001
            name = None
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    return decode_header_text(name or "").replace("/", "_").replace("\\", "_")[:255]


def _attachment(part: Message, kind: str, disposition: str, filename: str, body: _Body, limits: _Limits) -> None:
    data = _payload(part)
    if kind.startswith("message/") and part.is_multipart():  # message/rfc822 forwarded inside
        inner = part.get_payload(0)
        data = inner.as_bytes(policy=email.policy.compat32) if isinstance(inner, Message) else data
    content_id = _content_id(part)
    name = filename or _made_up_name(kind, content_id, len(body.attachments) + 1)
    size = len(data)
    if size > limits.part:
        body.notes.append(
            f"attachment «{name}» ({_megabytes(size)}) was not kept: larger than the {_megabytes(limits.part)} limit for one file"
            f" / вложение «{name}» ({_megabytes(size)}) не сохранено: больше предела {_megabytes(limits.part)} на один файл"
        )
        return
    if body.kept_bytes + size > limits.total:
        body.notes.append(_over_total(name, size, limits))
        return
    body.kept_bytes += size
    inline = disposition == "inline" or (bool(content_id) and disposition != "attachment")
    body.attachments.append(EmailAttachment(filename=name, content_type=kind, data=data, content_id=content_id, inline=inline))


def _over_total(name: str, size: int, limits: _Limits) -> str:
    return (
        f"attachment «{name}» ({_megabytes(size)}) was not kept: the message's files exceed {_megabytes(limits.total)} together"
        f" / вложение «{name}» ({_megabytes(size)}) не сохранено: файлы письма вместе больше {_megabytes(limits.total)}"
    )


def _content_id(part: Message) -> str | None:
    value = _header(part, "Content-ID").strip()
    value = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    return value.strip()[:255] or None


def _made_up_name(kind: str, content_id: str | None, number: int) -> str:
    extension = ".eml" if kind.startswith("message/") else (mimetypes.guess_extension(kind) or ".bin")
    stem = (content_id or "").split("@", 1)[0]
    stem = stem if stem and re.fullmatch(r"[\w.-]{1,80}", stem) else f"attachment-{number}"
    return stem if stem.endswith(extension) else stem + extension


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:  # a small limit (set lower by an operator, or in tests) reads "0.0 MB" otherwise
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
