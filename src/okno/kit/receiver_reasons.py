"""What operators are told about a failed outbound call: the receiver's status and a short reason.

A delivery error, a webhook failure and a channel's health reason are shown to every operator,
so they never quote a response body: a URL okno calls may answer with anything (an internal
page, a stack trace, another system's data). Only a field the provider's protocol defines as its
error text (Telegram's ``description``, WhatsApp's ``error.message``…) is shown, after parsing,
as plain text of at most ``MAX_REASON`` characters.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

MAX_REASON = 200


def short_text(value: Any, limit: int = MAX_REASON) -> str | None:
    """``value`` when it is a non-empty string, on one line with control characters dropped and
    whitespace collapsed, cut to ``limit`` characters (with an ellipsis); None otherwise."""
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in value[: limit * 4]).split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def status_phrase(code: int) -> str:
    """``Not Found`` for 404: the standard phrase, never the receiver's own text ("" if none)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def status_line(code: int) -> str:
    """``HTTP 404 Not Found``."""
    return f"HTTP {code} {status_phrase(code)}".rstrip()


def receiver_reason(code: int, detail: Any = None) -> str:
    """``HTTP 422 Unprocessable Entity: <detail>`` with the detail made short and plain, if any."""
    text = short_text(detail)
    return f"{status_line(code)}: {text}" if text else status_line(code)


def error_field(answer: Any) -> Any:
    """The error text of okno's own outbound contracts (the API channel's receiver, automation
    webhooks) in a JSON answer: ``{"error": "…"}``, ``{"error": {"message": "…"}}`` or
    ``{"detail": "…"}`` (what FastAPI and many frameworks answer)."""
    if not isinstance(answer, dict):
        return None
    error = answer.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    return error if isinstance(error, str) else answer.get("detail")
