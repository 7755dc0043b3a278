"""The SMTP side: a reply composed as an RFC 5322 message and handed to the server (aiosmtplib).

Threading headers: ``Message-ID`` on the support address's domain (derived from the delivery's
idempotency key, so a retried send carries the same id and the customer's client shows it once),
``In-Reply-To`` the newest id of the thread, ``References`` every id of it oldest first, and
``Subject: Re: <the thread's subject>`` with any ``Re:``/``Fwd:`` prefixes folded into one.
"""

from __future__ import annotations

import hashlib
import html
import re
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from okno.channels.adapters.email.config import EmailConfig
from okno.channels.adapters.email.imap import tls_context
from okno.channels.base import ChannelNeedsAction, DeliveryError, OutboundFile, PermanentFailure, RetryLater, TemporaryFailure
from okno.kit.time import utcnow

TIMEOUT = 30.0
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|ответ|отв)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Thread:
    """What the reply answers: the thread's ids oldest first, and its subject."""

    ids: tuple[str, ...] = ()
    subject: str = ""


def reply_subject(subject: str) -> str:
    bare = _PREFIX.sub("", subject or "").strip()
    return f"Re: {bare}" if bare else "Re: your message"


def message_id_for(config: EmailConfig, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"okno.{digest}@{config.domain}"


def compose(
    config: EmailConfig, *, to: str, to_name: str, text: str, thread: Thread, message_id: str,
    files: list[tuple[OutboundFile, bytes]], reply_token: str | None = None, signature: str = "",
) -> EmailMessage:
    """``signature`` (the author's and his team's) goes under the text after the usual "-- " line."""
    mail = EmailMessage()
    mail["From"] = formataddr((config.from_name, config.address)) if config.from_name else config.address
    mail["To"] = formataddr((to_name, to)) if to_name else to
    mail["Subject"] = reply_subject(thread.subject) if thread.ids else (thread.subject or _first_line(text))
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{message_id}>"
    if thread.ids:
        mail["In-Reply-To"] = f"<{thread.ids[-1]}>"
        mail["References"] = " ".join(f"<{i}>" for i in thread.ids)
    reply_to = config.reply_to
    if reply_token is not None:
        local, _, domain = (reply_to or config.address).partition("@")
        reply_to = f"{local}+{reply_token}@{domain}"
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Auto-Submitted"] = "no"
    mail.set_content(f"{text}\n\n-- \n{signature}" if signature else text)
    mail.add_alternative(_as_html(text, signature), subtype="html")
    for file, data in files:
        maintype, _, subtype = (file.content_type or "application/octet-stream").partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=file.filename)
    return mail


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line[:78] or "Message"


_URL = re.compile(r"https?://[^\s<>\"']+")


def _linked(text: str) -> str:
    """Escaped, with every web address a link (a survey's score links, an operator's URLs)."""
    out, at = [], 0
    for found in _URL.finditer(text):
        url = found.group(0).rstrip(".,;:!?)")
        out += [html.escape(text[at : found.start()]), f'<a href="{html.escape(url)}">{html.escape(url)}</a>']
        at = found.start() + len(url)
    out.append(html.escape(text[at:]))
    return "".join(out)


def _as_html(text: str, signature: str = "") -> str:
    paragraphs = "".join(f"<p>{_linked(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip())
    if signature:
        lines = html.escape(signature).replace(chr(10), "<br>")
        paragraphs += f'<div class="signature" style="color:#555">-- <br>{lines}</div>'
    return f'<!doctype html><html><body style="font-family:sans-serif">{paragraphs}</body></html>'


async def deliver(config: EmailConfig, mail: EmailMessage, recipient: str) -> None:
    """Hands the message to the SMTP server; raises the typed failure its answer means."""
    username, password = config.smtp_login()
    context = tls_context(config)
    client = aiosmtplib.SMTP(
        hostname=config.smtp_host, port=config.smtp_port, timeout=TIMEOUT,
        use_tls=config.smtp_security == "ssl", start_tls=config.smtp_security == "starttls",
        tls_context=context, validate_certs=config.verify_tls,
    )
    try:
        await client.connect()
        if username and password and client.supports_extension("auth"):
            await client.login(username, password)
        await client.send_message(mail, sender=config.address, recipients=[recipient])
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ChannelNeedsAction(f"SMTP login refused: {exc.code} {_said(exc.message)}; check the channel's login and password") from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused is not None else 550
        raise _by_code(code, refused.message if refused is not None else str(exc)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _by_code(exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        raise TemporaryFailure(f"SMTP {config.smtp_host}:{config.smtp_port}: {_said(str(exc)) or type(exc).__name__}") from exc
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def check(config: EmailConfig) -> None:
    """Connect and log in (the connection test when a channel is saved); raises a DeliveryError."""
    username, password = config.smtp_login()
    client = aiosmtplib.SMTP(
        hostname=config.smtp_host, port=config.smtp_port, timeout=10.0,
        use_tls=config.smtp_security == "ssl", start_tls=config.smtp_security == "starttls",
        tls_context=tls_context(config), validate_certs=config.verify_tls,
    )
    try:
        await client.connect()
        if username and password and client.supports_extension("auth"):
            await client.login(username, password)
    except aiosmtplib.SMTPResponseException as exc:
        raise PermanentFailure(f"SMTP {exc.code}: {_said(exc.message)}") from exc
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        raise PermanentFailure(f"SMTP {config.smtp_host}:{config.smtp_port}: {_said(str(exc)) or type(exc).__name__}") from exc
    finally:
        if client.is_connected:
            client.close()


_WAIT = re.compile(r"(\d{1,6})\s*(seconds?|secs?|minutes?|mins?)\b", re.IGNORECASE)


def _by_code(code: int, message: str) -> DeliveryError:
    """4xx: try again (after the wait a greylisting server names: "try again in 300 seconds");
    5xx: the server refused for good, in its own words."""
    reason = f"SMTP {code}: {_said(message)}"
    if not 400 <= code < 500:
        return PermanentFailure(reason)
    if (wait := _WAIT.search(message)) is not None:
        seconds = int(wait.group(1)) * (60 if wait.group(2).lower().startswith("min") else 1)
        return RetryLater(reason, float(min(seconds, 3600)))
    return TemporaryFailure(reason)


def _said(message: str) -> str:
    return " ".join(str(message).split())[:300]
