"""A resolver for tests of the outbound URL policy: names answer what the test says, in turn."""

from __future__ import annotations

import pytest

from okno.kit import outbound_urls


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> dict[str, int]:
    """``answers[host]`` is the list of answers ``host`` gives, one per lookup (the last one
    repeats); other names and IP literals resolve as usual. Returns lookups made per host."""
    real = outbound_urls.resolve_host
    asked: dict[str, int] = {}

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            return await real(host, port)
        asked[host] = asked.get(host, 0) + 1
        turns = answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]

    monkeypatch.setattr(outbound_urls, "resolve_host", resolve)
    return asked
