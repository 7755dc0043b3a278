"""Bytes and header text in whatever charset a mail client claimed, or failed to claim.

Real mail says ``koi8-r``, ``windows-1251``, ``cp-1251``, ``x-user-defined``, ``unknown-8bit`` or
nothing at all, puts raw 8-bit bytes into headers, and splits or truncates RFC 2047 encoded-words.
Nothing here raises: a label Python does not know, or bytes that do not decode under the label,
fall back to UTF-8, then to whichever of windows-1251 / KOI8-R reads as Russian, then to Latin-1
(which decodes any byte).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

# labels seen in the wild that Python's codec registry does not know, mapped to what they mean
_ALIASES = {
    "cp-1251": "cp1251",
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
    "x-cp1251": "cp1251",
    "x-user-defined-cyr": "",  # The Bat! and others: "some Cyrillic 8-bit", guess it
    "koi8": "koi8_r",
    "koi8r": "koi8_r",
    "x-koi8-r": "koi8_r",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "ks_c_5601-1987": "cp949",  # Outlook's name for Korean
    "iso-8859-8-i": "iso8859_8",
    "gb2312": "gb18030",  # a superset: clients label GBK text gb2312
    "gbk": "gb18030",
}
_UNKNOWN = frozenset({"", "unknown", "unknown-8bit", "x-unknown", "x-unknown-8bit", "x-user-defined", "default", "8bit"})

# the most frequent lowercase Russian letters: text decoded with the right Cyrillic codec is mostly
# lowercase; windows-1251 bytes read as KOI8-R (or the other way round) come out mostly uppercase
_RUSSIAN_LOWER = frozenset("оеаинтсрвлкмдпуяызьбгчйхжшюцщэфъё")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, None when unknown or "guess"."""
    name = (label or "").strip().strip("\"'").lower()
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Text of ``data`` under ``label``, falling back sensibly (see the module's docstring)."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong label (us-ascii on UTF-8, utf-8 on windows-1251): guess below
    return guess_decode(data)


def guess_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if not any(byte >= 0xC0 for byte in data):
        return data.decode("cp1252", errors="replace") if any(byte >= 0x80 for byte in data) else data.decode("ascii", errors="replace")
    candidates = [data.decode(codec, errors="replace") for codec in ("cp1251", "koi8_r")]
    return max(candidates, key=_russian_score)


def _russian_score(text: str) -> int:
    return sum(1 for ch in text if ch in _RUSSIAN_LOWER) - 2 * text.count("\ufffd")


def _unescape(raw: str) -> str:
    """A header as the parser left it (raw 8-bit bytes as surrogate escapes) → real text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in raw):
        return raw
    return guess_decode(raw.encode("utf-8", errors="surrogateescape"))


# an encoded-word; the closing "?=" may be missing at the end of the header or before a space or <
_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*?)(?:\?=|(?=[\s<>\"]|$))")
_GAP = re.compile(r"\s+")


def decode_header_text(raw: object) -> str:
    """A header value as a person reads it: RFC 2047 words decoded, adjacent words joined."""
    try:
        text = _unescape(str(raw or ""))
    except Exception:  # noqa: BLE001 - an object whose str() fails: treat it as empty
        return ""
    pieces: list[str] = []
    pending: list[tuple[str | None, bytes]] = []  # adjacent words, joined before decoding (split characters)
    position = 0
    for match in _WORD.finditer(text):
        between = text[position : match.start()]
        if between and (not pending or not _GAP.fullmatch(between)):
            _flush(pending, pieces)
            pieces.append(between)
        charset, mode, payload = match.groups()
        pending.append((charset.split("*", 1)[0], _word_bytes(mode, payload)))
        position = match.end()
    _flush(pending, pieces)
    pieces.append(text[position:])
    return _CONTROL.sub(" ", "".join(pieces)).strip()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\r\n\t]+")


def _word_bytes(mode: str, payload: str) -> bytes:
    if mode in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return payload.encode("ascii", errors="replace")
    return quopri.decodestring(payload.encode("ascii", errors="replace"), header=True)


def _flush(pending: list[tuple[str | None, bytes]], pieces: list[str]) -> None:
    """Decode the run of adjacent words, joining the bytes of words in the same charset."""
    run: list[tuple[str | None, bytes]] = []
    for charset, data in pending:
        if run and run[-1][0] == charset:
            run[-1] = (charset, run[-1][1] + data)
        else:
            run.append((charset, data))
    pieces.extend(decode_bytes(data, charset) for charset, data in run)
    pending.clear()
