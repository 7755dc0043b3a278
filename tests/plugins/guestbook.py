"""The example channel plugin (examples/okno-example-channel), for tests in this process.

``tests/test_example_plugin.py`` installs the package with pip and drives a real server; the
tests here import it from its source folder and register it the way the entry point would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from okno.channels import registry

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "okno-example-channel"
API_KEY = "guestbook-key-0123"


@pytest.fixture
def guestbook_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    """Registers the plugin's adapter (list this fixture before ``app``: its routes mount at startup)."""
    monkeypatch.syspath_prepend(str(SOURCE / "src"))
    from okno_example_channel.adapter import GuestbookChannel

    registry.register_adapter(GuestbookChannel)  # its identity kind stays declared: harmless
    try:
        yield GuestbookChannel
    finally:
        registry.ADAPTERS.pop(GuestbookChannel.kind, None)
