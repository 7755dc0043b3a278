from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from okno.context import AppContext
from okno.kit import time as okno_time


@pytest.fixture
def travel(monkeypatch: pytest.MonkeyPatch, ctx: AppContext) -> Callable[[datetime], None]:
    """Move okno's clock to a moment (it keeps running from there); undone after the test.
    Sign-ins made before a jump of days stay valid."""
    monkeypatch.setattr(okno_time, "_offset", okno_time._offset)
    monkeypatch.setattr(ctx.settings, "token_ttl_hours", 24 * 365)
    return okno_time.travel_to


@pytest.fixture
def stop_clock(monkeypatch: pytest.MonkeyPatch, ctx: AppContext) -> Callable[[datetime], None]:
    """Stop okno's clock at a moment (every stamp reads exactly it until the next call), for a test
    that asserts durations to the second: a running clock adds however long the steps between two
    moments took on a loaded machine. Undone after the test."""
    monkeypatch.setattr(okno_time, "_frozen", okno_time._frozen)
    monkeypatch.setattr(ctx.settings, "token_ttl_hours", 24 * 365)
    return okno_time.stop_at
