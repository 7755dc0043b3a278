"""VK choices: a bot keyboard in ``messages.send`` (``keyboard``, JSON): buttons are an inline
keyboard under the message, quick replies a one-time keyboard in place of the customer's;
each is a ``text`` button whose JSON ``payload`` names the option and the okno message. A press
arrives as an ordinary ``message_new`` whose text is the label and whose ``payload`` is ours."""

from __future__ import annotations

import math
from typing import Any

import orjson

from okno.channels.base import OutboundMessage
from okno.channels.interactive import Answer, ChoiceLimits, InteractiveSupport, framed_for
from okno.kit.bounds import MAX_ID

MAX_LABEL = 40
MAX_PAYLOAD = 255
INLINE = {"buttons": 10, "rows": 6, "per_row": 5}
ONE_TIME = {"buttons": 40, "rows": 10, "per_row": 5}
PAYLOAD_KEY = "okno"

SUPPORT = InteractiveSupport(
    buttons=ChoiceLimits(max_options=INLINE["buttons"], max_title=MAX_LABEL),
    quick_replies=ChoiceLimits(max_options=ONE_TIME["buttons"], max_title=MAX_LABEL),
)


def outgoing(message: OutboundMessage) -> tuple[str, str | None]:
    """The text to send and the ``keyboard`` form field for its last chunk (None without choices)."""
    offered = message.interactive
    if offered is None:
        return message.text, None
    inline = offered.style == "buttons"
    layout = INLINE if inline else ONE_TIME
    buttons = [
        {"action": {"type": "text", "label": o.title, "payload": payload_of(o.id, message.message_id)}, "color": "secondary"}
        for o in offered.options
    ]
    per_row = max(1, math.ceil(len(buttons) / layout["rows"]))
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    keyboard: dict[str, Any] = {"inline": True, "buttons": rows} if inline else {"one_time": True, "inline": False, "buttons": rows}
    return framed_for(SUPPORT, offered, message.text), orjson.dumps(keyboard).decode()


def payload_of(option_id: str, message_id: int) -> str:
    return orjson.dumps({PAYLOAD_KEY: option_id, "m": message_id}).decode()  # ≤ 255: ids are ≤ 64


def answer_of(message: dict[str, Any]) -> Answer | None:
    """The option a ``message_new`` carrying one of our button payloads picked, else None."""
    raw = message.get("payload")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_PAYLOAD * 4:
        return None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    option_id = payload.get(PAYLOAD_KEY) if isinstance(payload, dict) else None
    if not isinstance(option_id, str) or not option_id:
        return None  # a start button ({"command":"start"}) or another bot's payload
    prompt = payload.get("m")
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    return Answer(option_id=option_id[:256], title=text[:1000], message_id=prompt if type(prompt) is int and 0 < prompt <= MAX_ID else None)
