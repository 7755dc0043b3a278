"""Headless Chromium (Debian's package) driven by Playwright; the test tool's own browser
download does not work on these machines."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

CHROMIUM = os.environ.get("OKNO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"browser tests not run: {CHROMIUM} not found (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


# The browser tests exercise the page and its scripts; the server code under them runs on both
# databases in the API and web tests. Each browser test runs on SQLite; these journeys (the
# operator's whole loop, team scoping, keyboard-safe actions, data-subject requests) also run on
# PostgreSQL, where a slower commit shows timing faults the page must survive. The PostgreSQL
# variants of the others are deselected (pytest reports the count), about 2.5 minutes of CI.
ON_BOTH_DATABASES = {"test_operator_ui.py", "test_team_scoping.py", "test_safe_actions.py", "test_data_subject_ui.py", "test_admin_edit.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    dropped = [
        item for item in items
        if os.path.dirname(str(item.path)) == here and "[postgresql" in item.nodeid and item.path.name not in ON_BOTH_DATABASES
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        kept = set(map(id, dropped))
        items[:] = [item for item in items if id(item) not in kept]
