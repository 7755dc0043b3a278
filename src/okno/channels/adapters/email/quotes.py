"""Quoted-reply stripping: the new text of a reply, apart from the earlier messages it quotes.

Russian and English client styles (Outlook, Gmail, Apple Mail, Thunderbird, Yandex, Mail.ru).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATTRIBUTION = re.compile(r"^\s*(On .+ wrote:|-----\s*Original Message\s*-----|.+ пишет:)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReplySplit:
    new: str  # what the sender wrote this time
    quoted: str  # the rest: quoted history and signature ("" when nothing was cut)


def split_reply(text: str) -> ReplySplit:
    match = _ATTRIBUTION.search(text)
    if match is None:
        lines = text.splitlines()
        kept = [line for line in lines if not line.startswith(">")]
        new = "\n".join(kept).strip()
        return ReplySplit(new=new or text.strip(), quoted="\n".join(line for line in lines if line.startswith(">")))
    return ReplySplit(new=text[: match.start()].strip(), quoted=text[match.start():].strip())
