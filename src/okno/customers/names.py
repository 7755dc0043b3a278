"""Names, cities and addresses folded to one Latin spelling for comparison.

Display always keeps what was written; only the matcher uses these keys. Cyrillic is
transliterated (one table, close to the passport standard), then the Latin spellings that
different systems produce for the same Russian name are folded together: ``Юлия``, ``Yulia``,
``Iuliia`` and ``Julia`` all become ``yulia``; ``Алексей``/``Aleksey``/``Alexei`` → ``aleksey``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish

CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}  # fmt: skip

# Latin spellings of one Russian sound, folded to one (applied in order, on whole strings).
LATIN_FOLDS: tuple[tuple[str, str], ...] = (
    ("shch", "sh"), ("sch", "sh"), ("iu", "yu"), ("ju", "yu"), ("ia", "ya"), ("ja", "ya"), ("ie", "ye"), ("je", "ye"),
    ("jo", "yo"), ("kh", "h"), ("tz", "ts"), ("x", "ks"), ("w", "v"), ("ph", "f"), ("ck", "k"), ("q", "k"),
    ("ei", "ey"), ("ii", "iy"), ("yy", "y"), ("iy", "y"), ("ff", "v"), ("j", "y"), ("c", "k"),
)  # fmt: skip

_TRANSLIT = str.maketrans(CYRILLIC_TO_LATIN)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=200_000)
def latin_key(text: str) -> str:
    """``"  Щукина-Юлия "`` → ``"shukina yulia"``: lower-case Latin words separated by one space."""
    out = text.strip().lower().translate(_TRANSLIT)
    out = unicodedata.normalize("NFKD", out).encode("ascii", "ignore").decode()  # é → e
    out = _NOT_WORD.sub(" ", out).strip()
    for old, new in LATIN_FOLDS:
        out = out.replace(old, new)
    words = [_fold_ending(w) for w in out.split()]
    return " ".join(w for w in words if w)


def _fold_ending(word: str) -> str:
    """Final ``-iy``/``-yi``/``-i`` of Russian masculine names and surnames (Dmitriy, Dmitry, Dmitrii)."""
    if len(word) > 3 and word.endswith("yi"):
        return word[:-2] + "y"
    if len(word) > 4 and word.endswith("ri"):
        return word[:-1] + "y"  # Dmitri → dmitry
    return word


@lru_cache(maxsize=200_000)
def phonetic_key(word: str) -> str:
    """A sound key of one folded word, tolerant of single-letter typos in most names."""
    return jellyfish.metaphone(word).replace(" ", "") if word else ""


def name_key(word: str) -> str:
    """The blocking key of one folded name: the phonetic key of its full form, so that a
    nickname (``sasha``) files under its full name (``aleksandr``)."""
    from okno.customers.nicknames import full_name_of

    return phonetic_key(full_name_of(word)) if word else ""


def split_full_name(full: str) -> tuple[str, str]:
    """Best effort ``(first, last)`` from one display name: first word and last word."""
    words = latin_key(full).split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return words[0], words[-1]
