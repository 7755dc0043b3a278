"""One map of which domain handles which event."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from okno.routing.hooks import route_new_conversation

if TYPE_CHECKING:
    from okno.context import AppContext

SUBSCRIBERS = {
    "conversation.opened": [route_new_conversation],
}


def wire_subscribers(ctx: AppContext) -> None:
    for topic, handlers in SUBSCRIBERS.items():
        for handler in handlers:
            bound = partial(handler, ctx)
            bound.__qualname__ = handler.__qualname__  # type: ignore[attr-defined]
            ctx.bus.subscribe(topic, bound)
