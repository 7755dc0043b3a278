"""Long-running processes set the garbage collector up once started (okno.kit.heap): startup's
heap frozen out of the collector's passes, young collections spaced out; tests and tools that
build apps in their own process are left alone."""

from __future__ import annotations

import asyncio
import gc

from okno.app import create_app
from okno.config import Settings
from okno.kit.heap import YOUNG_THRESHOLD


async def test_serving_app_freezes_the_heap_it_started_with(settings: Settings) -> None:
    gc.unfreeze()
    default = gc.get_threshold()
    plain = create_app(settings, start_workers=False)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0  # tests and tools build apps freely: nothing is frozen for them
        assert gc.get_threshold() == default
    serving = create_app(settings, start_workers=False, freeze_heap=True)
    try:
        async with serving.router.lifespan_context(serving):
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *default[1:])
            assert serving.state.ctx is not None
    finally:
        gc.unfreeze()
        gc.set_threshold(*default)


async def test_the_worker_process_settles_its_heap_once_started(settings: Settings) -> None:
    from okno.worker_process import run_worker

    gc.unfreeze()
    default = gc.get_threshold()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, settle=True))
    try:
        for _ in range(200):
            if gc.get_freeze_count() > 10_000:
                break
            await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *default[1:])
    finally:
        stop.set()
        await worker
        gc.unfreeze()
        gc.set_threshold(*default)
