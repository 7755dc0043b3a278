"""Headless Chromium (Debian's package) driven by Playwright; the test tool's own browser
download does not work on these machines.

One Chromium per test process (a Playwright browser server), not one per test: starting Chromium
cost ~1 s of CPU and 2-4 s on a loaded machine for each of ~70 tests. Each test connects to it
with its own Playwright and gets fresh contexts; disconnecting at the end closes them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("OKNO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# Playwright's own launchServer (Node.js API, run by the Node.js that ships with Playwright): the
# same launch as ``chromium.launch``; prints its address, stops when its stdin closes.
_SERVE_CHROMIUM = """
const { chromium } = require(process.argv[1]);
chromium.launchServer({ executablePath: process.argv[2], headless: true, args: JSON.parse(process.argv[3]) }).then((server) => {
  console.log(server.wsEndpoint());
  process.stdin.on("end", () => server.close().then(() => process.exit(0)));
  process.stdin.resume();
});
"""


@pytest.fixture(scope="session")
def chromium_server() -> Iterator[str]:
    """The address of this test process's Chromium."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"browser tests not run: {CHROMIUM} not found (apt-get install chromium)")
    from playwright._impl._driver import compute_driver_executable

    node, cli = compute_driver_executable()
    server = subprocess.Popen(
        [node, "-e", _SERVE_CHROMIUM, str(Path(cli).parent), CHROMIUM, json.dumps(ARGS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    address = server.stdout.readline().strip()
    if not address.startswith("ws://"):
        server.kill()
        pytest.fail(f"Chromium did not start (Playwright's browser server said {address!r}, exit code {server.wait()})")
    yield address
    server.stdin.close()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
async def browser(chromium_server: str) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.connect(chromium_server)
        try:
            yield chromium
        finally:
            await chromium.close()  # closes the contexts this test opened


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
