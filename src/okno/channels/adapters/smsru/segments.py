"""How many SMS segments a text costs (docs/sms.md): pure, no I/O.

A text that fits the GSM 03.38 alphabet (Latin letters, digits, common punctuation) goes as
GSM-7: 160 characters in one SMS, 153 per part when it is split (the rest of each part carries
the concatenation header). Anything else — Cyrillic, emoji — goes as UCS-2: 70 in one, 67 per
part. Characters of the GSM extension table (``{}[]~^|\\€`` and form feed) take two places.
UCS-2 counts UTF-16 code units, so an emoji outside the basic plane takes two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")
SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # characters as the encoding counts them (septets or UTF-16 code units)
    segments: int
    per_segment: int  # how many units each segment of this text holds (160/153 or 70/67)
    left: int  # units still free in the last segment


def count_segments(text: str) -> Segments:
    """``count_segments("Привет")`` → 1 UCS-2 segment of 70, 64 left."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        encoding, units = "gsm7", sum(2 if c in GSM_EXTENDED else 1 for c in text)
    else:
        encoding, units = "ucs2", len(text.encode("utf-16-le")) // 2
    if units <= SINGLE[encoding]:
        per, segments = SINGLE[encoding], 1
    else:
        per = PART[encoding]
        segments = math.ceil(units / per)
    return Segments(encoding=encoding, units=units, segments=segments, per_segment=per, left=segments * per - units)
