"""The webhook fast path reads a body in one message or in chunks, and refuses one over the limit
either way (declared or not)."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from okno.api.webhooks import _read_body


def _receiver(*chunks: bytes):  # noqa: ANN202
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)]

    async def receive() -> dict:
        return messages.pop(0)

    return receive


@pytest.mark.parametrize(
    ("chunks", "declared", "expected"),
    [
        ((b"abc",), None, b"abc"),
        ((b"",), None, b""),
        ((b"x" * 10,), None, b"x" * 10),
        ((b"x" * 11,), None, None),
        ((b"ab", b"cd", b""), None, b"abcd"),
        ((b"x" * 6, b"x" * 4), None, b"x" * 10),
        ((b"x" * 6, b"x" * 5), None, None),
        ((b"abc",), "3", b"abc"),
        ((b"abc",), "11", None),
        ((b"abc",), "-1", None),
        ((b"abc",), "3x", None),
    ],
)
async def test_bodies_and_limits(chunks: tuple[bytes, ...], declared: str | None, expected: bytes | None) -> None:
    headers = Headers(headers={"content-length": declared} if declared is not None else {})
    assert await _read_body(_receiver(*chunks), headers, 10) == expected
