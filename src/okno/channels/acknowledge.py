"""Answers a provider wants for each button press (MAX's ``POST /answers``), sent after the
presses are stored and off the webhook's answer path: the provider gets its 200 at once, the
acknowledgement follows. Best effort by nature (a press is answerable for seconds only): a
failure is logged, the stored answer stays."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from okno.channels.base import InboundMessage

log = structlog.get_logger()
_running: set[asyncio.Task[None]] = set()


def acknowledge_later(adapter: Any, config: Any, items: Sequence[object], http: httpx.AsyncClient) -> None:
    """Schedules the adapter's ``acknowledge_answers`` for the presses among ``items``, if it has one."""
    acknowledge = getattr(adapter, "acknowledge_answers", None)
    if acknowledge is None:
        return
    answers = [item for item in items if isinstance(item, InboundMessage) and item.answer is not None]
    if not answers:
        return
    task = asyncio.create_task(_run(acknowledge, config, answers, http))
    _running.add(task)
    task.add_done_callback(_running.discard)


async def _run(acknowledge: Any, config: Any, answers: list[InboundMessage], http: httpx.AsyncClient) -> None:
    try:
        await acknowledge(config, answers, http)
    except Exception:  # an adapter bug must not surface as an unretrieved task error
        log.exception("answer_acknowledgement_failed", answers=len(answers))


async def acknowledgements_done() -> None:
    """Waits for the acknowledgements scheduled so far (tests, shutdown)."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)
