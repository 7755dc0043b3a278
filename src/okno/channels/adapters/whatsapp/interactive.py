"""WhatsApp choices: ``type: interactive`` messages out (``button``: up to 3 reply buttons;
``list``: up to 10 rows behind a button), and the customer's pick in: ``interactive.button_reply``
/ ``interactive.list_reply``, or ``button`` for a template's quick-reply button."""

from __future__ import annotations

from typing import Any

from okno.channels.base import OutboundMessage
from okno.channels.interactive import Answer, ChoiceLimits, Interactive, InteractiveSupport

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_BODY = 1024
MAX_FRAME = 60  # header and footer text
MAX_LIST_BUTTON = 20

_REPLY_BUTTONS = ChoiceLimits(max_options=MAX_BUTTONS, max_title=MAX_BUTTON_TITLE)
SUPPORT = InteractiveSupport(
    buttons=_REPLY_BUTTONS,
    quick_replies=_REPLY_BUTTONS,  # reply buttons are WhatsApp's quick replies
    list=ChoiceLimits(max_options=MAX_ROWS, max_title=MAX_ROW_TITLE, max_description=MAX_ROW_DESCRIPTION),
    max_text=MAX_BODY,
    max_header=MAX_FRAME,
    max_footer=MAX_FRAME,
    max_button=MAX_LIST_BUTTON,
)
ANSWER_KINDS = frozenset({"interactive", "button"})


def interactive_body(message: OutboundMessage) -> dict[str, Any] | None:
    """The ``type``/``interactive`` part of a send, or None for a plain text message."""
    offered = message.interactive
    if offered is None:
        return None
    content: dict[str, Any] = {"type": "list" if offered.style == "list" else "button"}
    if offered.header:
        content["header"] = {"type": "text", "text": offered.header}
    content["body"] = {"text": message.text}
    if offered.footer:
        content["footer"] = {"text": offered.footer}
    content["action"] = _list_action(offered) if offered.style == "list" else _button_action(offered)
    return {"type": "interactive", "interactive": content}


def _button_action(offered: Interactive) -> dict[str, Any]:
    return {"buttons": [{"type": "reply", "reply": {"id": o.id, "title": o.title}} for o in offered.options]}


def _list_action(offered: Interactive) -> dict[str, Any]:
    rows = [{"id": o.id, "title": o.title, **({"description": o.description} if o.description else {})} for o in offered.options]
    return {"button": offered.button, "sections": [{"rows": rows}]}


def answer_of(kind: str, raw: dict[str, Any]) -> Answer | None:
    """The pick in a message of type ``interactive`` or ``button``, else None."""
    prompt = _text(raw.get("context"), "id")
    if kind == "button":  # a template's quick-reply button: its payload is the option id
        pressed = raw.get("button")
        option_id = _text(pressed, "payload") or _text(pressed, "text")
        return Answer(option_id=option_id[:256], title=(_text(pressed, "text") or "")[:1000], in_reply_to=prompt[:255] if prompt else None) if option_id else None
    content = raw.get("interactive")
    reply_kind = _text(content, "type")
    if reply_kind not in ("button_reply", "list_reply"):
        return None  # flows (nfm_reply) and others: not a choice okno offered
    reply = content.get(reply_kind)
    option_id = _text(reply, "id")
    if option_id is None:
        return None
    return Answer(option_id=option_id[:256], title=(_text(reply, "title") or "")[:1000], in_reply_to=prompt[:255] if prompt else None)


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None
