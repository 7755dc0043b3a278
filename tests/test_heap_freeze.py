"""The serving process moves its startup heap out of the collector's full passes."""

from __future__ import annotations

import gc

from okno.app import create_app
from okno.config import Settings


async def test_serving_app_freezes_the_heap_it_started_with(settings: Settings) -> None:
    gc.unfreeze()
    plain = create_app(settings, start_workers=False)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0  # tests and tools build apps freely: nothing is frozen for them
    serving = create_app(settings, start_workers=False, freeze_heap=True)
    try:
        async with serving.router.lifespan_context(serving):
            assert gc.get_freeze_count() > 10_000
            assert serving.state.ctx is not None
    finally:
        gc.unfreeze()
