"""The contract suite covers every channel kind okno ships: each one has a harness (so
test_contract.py runs for it) and recorded provider payloads under fixtures/<kind>/ that a test
feeds through the real adapter. Adding a kind without them fails here."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from okno.channels.registry import ADAPTERS
from tests.channels.harnesses import HARNESSES

FIXTURES = Path(__file__).parent / "fixtures"
TESTS = Path(__file__).parent

# Kinds okno itself ships. Third-party kinds come in through the ``okno.channels`` entry point and
# are tested by their own packages.
BUILT_IN_KINDS = sorted(kind for kind, cls in ADAPTERS.items() if cls.__module__.startswith("okno.channels.adapters."))


def test_the_built_in_kinds_are_found() -> None:
    assert {"api", "telegram", "whatsapp", "max", "vk", "widget"} <= set(BUILT_IN_KINDS)


@pytest.mark.parametrize("kind", BUILT_IN_KINDS)
def test_every_kind_has_a_contract_harness(kind: str) -> None:
    assert kind in HARNESSES, f"channel kind {kind!r} has no harness in tests/channels/harnesses.py: the contract suite skips it"
    assert HARNESSES[kind].kind == kind


@pytest.mark.parametrize("kind", BUILT_IN_KINDS)
def test_every_kind_has_recorded_payloads_that_a_test_uses(kind: str) -> None:
    folder = FIXTURES / kind
    payloads = sorted(folder.glob("*.json")) if folder.is_dir() else []
    assert payloads, f"channel kind {kind!r} has no recorded provider payloads in tests/channels/fixtures/{kind}/"
    for path in payloads:
        assert isinstance(orjson.loads(path.read_bytes()), dict | list), f"{path.name} is not a JSON payload"
    users = [path.name for path in TESTS.glob("test_*.py") if f'"fixtures" / "{kind}"' in path.read_text(encoding="utf-8")]
    assert users, f"no test under tests/channels/ reads fixtures/{kind}/ (Path(...) / \"fixtures\" / \"{kind}\")"


def test_every_harness_is_a_registered_kind() -> None:
    assert set(HARNESSES) <= set(ADAPTERS), "a harness names a kind the registry does not know"
