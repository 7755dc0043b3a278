"""Text helpers shared by adapters."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Splits at the last newline or space before the limit, never inside a word if avoidable."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    return [*chunks, text] if text or not chunks else chunks
