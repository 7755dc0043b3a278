"""Person records as coded columns, for the batch matcher.

A column is one small integer per record (``0`` = missing) into the column's distinct
normalised values. Names, dates and cities repeat a lot, so each distinct value is normalised
and compared once, equality is an integer comparison, and a million records need no
per-record dicts. :func:`table_from_fields` builds the same table from
:func:`~okno.customers.matching.fields.comparison_fields` dicts; :class:`TableBuilder` builds it
straight from CSV columns with the same normalisation as ``comparison_fields``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from okno.customers.matching.fields import ONE_VALUE_FIELDS, comparable_email, comparable_id, comparable_phone, comparable_postcode, normalize_date
from okno.customers.names import latin_key, split_full_name

_fold = latin_key.__wrapped__  # type: ignore[attr-defined]  # mostly-distinct addresses would only churn its cache
REMEMBER_UP_TO = 50_000  # raw values remembered before a mostly-distinct column stops being remembered
_ASCII_SPACE = re.compile(r"[\t-\r\x1c-\x1f ]+")


@dataclass(frozen=True)
class Column:
    codes: np.ndarray  # int32 per record; 0 = missing
    values: np.ndarray  # object array of the distinct values; values[0] == ""

    def strings(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.values[self.codes[rows]]


@dataclass
class PersonTable:
    """The comparison fields of ``size`` records. ``first_name`` and ``last_name`` share one
    vocabulary (swapped names are compared across); ``address`` holds each address with its
    words sorted (the address comparison is word-order blind); ``several`` keeps, for the few
    records with two or more phones or e-mails, all of them (the column holds the first)."""

    size: int
    first_name: Column
    last_name: Column
    birth_date: Column
    phone: Column
    email: Column
    address: Column
    postcode: Column
    city: Column
    id_number: Column
    several: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=lambda: {"phone": {}, "email": {}})

    def values_of(self, name: str, row: int) -> tuple[str, ...]:
        """All phones or e-mails of record ``row``."""
        if row in self.several[name]:
            return self.several[name][row]
        column: Column = getattr(self, name)
        code = column.codes[row]
        return (column.values[code],) if code else ()

    def term_shares(self, name: str) -> np.ndarray:
        """Each record's share of the whole table holding its value of ``name`` (nan: missing)."""
        column: Column = getattr(self, name)
        counts = np.bincount(column.codes, minlength=len(column.values)).astype(np.float64)
        shares = counts[column.codes] / max(self.size, 1)
        shares[column.codes == 0] = np.nan
        return shares


def sorted_words(text: str) -> str:
    return " ".join(sorted(text.split()))


class WordFolder:
    """``latin_key`` of a text worked out one distinct word at a time: addresses are mostly
    distinct, their words are not. ``latin_key`` folds within words only, and ASCII white
    space always separates words (other white space may vanish in it, joining its neighbours)."""

    def __init__(self) -> None:
        self.words: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        words = self.words
        out = []
        for word in _ASCII_SPACE.split(text):
            folded = words.get(word)
            if folded is None:
                folded = words[word] = _fold(word)
            if folded:
                out.append(folded)
        return " ".join(out)


class Vocabulary:
    """Distinct strings → codes in order of first sight; ``""`` is code 0."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {"": 0}

    def code(self, value: str) -> int:
        return self.codes.setdefault(value, len(self.codes))

    def codes_of(self, values: list[str]) -> list[int]:
        codes = self.codes
        new = [v for v in dict.fromkeys(values) if v not in codes]
        codes.update(zip(new, range(len(codes), len(codes) + len(new)), strict=True))
        return list(map(codes.__getitem__, values))

    def array(self) -> np.ndarray:
        out = np.empty(len(self.codes), dtype=object)
        out[:] = list(self.codes)
        return out


class Encoder:
    """Raw text → the code of its normalised value. Each distinct raw text is normalised once;
    raw texts are remembered across chunks while they repeat (names, dates, cities), and only
    within a chunk once a column turns out mostly distinct (addresses, phones)."""

    def __init__(self, normalise: Callable[[str], str], vocabulary: Vocabulary) -> None:
        self.normalise, self.vocabulary = normalise, vocabulary
        self.seen: dict[str, int] | None = {}

    def encode(self, raws: list[str] | tuple[str, ...]) -> np.ndarray:
        seen = self.seen if self.seen is not None else {}
        fresh = [raw for raw in dict.fromkeys(raws) if raw not in seen]
        seen.update(zip(fresh, self.vocabulary.codes_of(list(map(self.normalise, fresh))), strict=True))
        codes = np.fromiter(map(seen.__getitem__, raws), dtype=np.int32, count=len(raws))
        if self.seen is not None and len(seen) > REMEMBER_UP_TO and len(fresh) > len(raws) // 2:
            self.seen = None  # mostly distinct: remembering them would cost memory and save nothing
        return codes


def _address_folder() -> Callable[[str], str]:
    fold = WordFolder()
    return lambda raw: sorted_words(fold(raw))


def _stripped_or_empty(normalise: Callable[[str], str]) -> Callable[[str], str]:
    return lambda raw: normalise(raw.strip()) if raw.strip() else ""


VOCABULARY_OF = {"first_name": "name", "last_name": "name", "birth_date": "birth_date", "phone": "phone", "email": "email",
                 "address": "address", "postcode": "postcode", "city": "city", "id_number": "id_number"}  # fmt: skip
VOCABULARIES = tuple(dict.fromkeys(VOCABULARY_OF.values()))  # first and last names share one


class TableBuilder:
    """Folds CSV columns into a :class:`PersonTable`, chunk by chunk, exactly as
    ``comparison_fields(person_from_row(row, mapping))`` folds one row."""

    def __init__(self, mapping: dict[str, list[str]], *, default_region: str = "RU") -> None:
        self.mapping = mapping
        self.vocabularies = {name: Vocabulary() for name in VOCABULARIES}
        v = self.vocabularies
        self.encoders = {
            "first_name": Encoder(_fold, v["name"]),
            "last_name": Encoder(_fold, v["name"]),
            "birth_date": Encoder(normalize_date, v["birth_date"]),
            "city": Encoder(_fold, v["city"]),
            "address": Encoder(_address_folder(), v["address"]),
            "postcode": Encoder(lambda raw: comparable_postcode(raw.strip()), v["postcode"]),
            "phone": Encoder(_stripped_or_empty(lambda raw: comparable_phone(raw, default_region)), v["phone"]),
            "email": Encoder(_stripped_or_empty(comparable_email), v["email"]),
            "id_number": Encoder(comparable_id, v["id_number"]),
        }
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in self.encoders}
        self.several: dict[str, dict[int, tuple[str, ...]]] = {"phone": {}, "email": {}}
        self.full_names: dict[str, tuple[str, str]] = {}
        self.size = 0

    def add(self, columns: dict[str, tuple[str, ...]]) -> None:
        """``columns``: header → that column's raw values for the next rows (one chunk)."""
        rows = len(next(iter(columns.values()), []))
        for name in ONE_VALUE_FIELDS:
            if self.mapping.get(name):
                self.parts[name].append(self.encoders[name].encode(self._joined(name, columns, rows)))
            else:  # no such column: all missing
                self.parts[name].append(np.zeros(rows, dtype=np.int32))
        if self.mapping.get("full_name"):
            self._names_from_full_name(self._joined("full_name", columns, rows))
        for name, target in (("phone", "phone"), ("email", "email")):
            self.parts[target].append(self._listed(name, columns, rows))
        self.size += rows

    def export(self) -> dict:
        """What :meth:`absorb` needs, small enough to send between processes."""
        return {
            "size": self.size,
            "codes": {name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32) for name, parts in self.parts.items()},
            "values": {name: list(vocabulary.codes) for name, vocabulary in self.vocabularies.items()},
            "several": self.several,
        }

    def absorb(self, part: dict) -> None:
        """Appends the rows another builder (another part of the file) has folded."""
        recode = {name: np.asarray(self.vocabularies[name].codes_of(values), dtype=np.int32) for name, values in part["values"].items()}
        for name, codes in part["codes"].items():
            self.parts[name].append(recode[VOCABULARY_OF[name]][codes])
        for name, rows in part["several"].items():
            self.several[name].update({self.size + row: values for row, values in rows.items()})
        self.size += part["size"]

    def build(self) -> PersonTable:
        values = {name: vocabulary.array() for name, vocabulary in self.vocabularies.items()}

        def column(name: str, vocabulary: str) -> Column:
            parts = self.parts[name]
            return Column(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32), values[vocabulary])

        return PersonTable(
            size=self.size,
            first_name=column("first_name", "name"), last_name=column("last_name", "name"),
            birth_date=column("birth_date", "birth_date"), phone=column("phone", "phone"), email=column("email", "email"),
            address=column("address", "address"), postcode=column("postcode", "postcode"), city=column("city", "city"),
            id_number=column("id_number", "id_number"), several=self.several,
        )  # fmt: skip

    def _joined(self, name: str, columns: dict[str, tuple[str, ...]], rows: int) -> Sequence[str]:
        headers = self.mapping.get(name, [])
        if len(headers) == 1:
            return columns[headers[0]]
        if not headers:
            return [""] * rows
        return [" ".join(s for s in (v.strip() for v in values) if s) for values in zip(*(columns[h] for h in headers), strict=True)]

    def _names_from_full_name(self, full: Sequence[str]) -> None:
        first, last = self.parts["first_name"][-1], self.parts["last_name"][-1]
        code = self.vocabularies["name"].code
        for row in np.flatnonzero((first == 0) & (last == 0)).tolist():
            text = full[row].strip()
            if text:
                if text not in self.full_names:
                    self.full_names[text] = split_full_name(text)
                a, b = self.full_names[text]
                first[row], last[row] = code(a), code(b)

    def _listed(self, name: str, columns: dict[str, tuple[str, ...]], rows: int) -> np.ndarray:
        """The first (smallest) of a record's phones or e-mails; all of them in ``several``."""
        headers = self.mapping.get(name, [])
        if not headers:
            return np.zeros(rows, dtype=np.int32)
        per_header = [self.encoders[name].encode(columns[h]) for h in headers]
        if len(per_header) == 1:
            return per_header[0]
        values = list(self.vocabularies[name].codes)  # code → value, for the few rows with several
        codes = np.zeros(rows, dtype=np.int32)
        for row, found in enumerate(zip(*per_header, strict=True)):
            distinct = sorted({values[c] for c in found if c})
            if distinct:
                codes[row] = self.vocabularies[name].codes[distinct[0]]
            if len(distinct) > 1:
                self.several[name][self.size + row] = tuple(distinct)
        return codes


def table_from_fields(records: Iterable[dict]) -> PersonTable:
    """The table of ``comparison_fields`` dicts (stored profiles, or records already folded)."""
    vocabularies = {name: Vocabulary() for name in VOCABULARIES}
    codes: dict[str, list[int]] = {name: [] for name in VOCABULARY_OF}
    several: dict[str, dict[int, tuple[str, ...]]] = {"phone": {}, "email": {}}
    plain = [(name, VOCABULARY_OF[name]) for name in ONE_VALUE_FIELDS if name != "address"]
    size = 0
    for row, fields in enumerate(records):
        for name, vocabulary in plain:
            codes[name].append(vocabularies[vocabulary].code(fields.get(name, "")))
        codes["address"].append(vocabularies["address"].code(sorted_words(fields.get("address", ""))))
        for name, key in (("phone", "phones"), ("email", "emails")):
            listed = tuple(fields.get(key, ()))
            codes[name].append(vocabularies[name].code(listed[0]) if listed else 0)
            if len(listed) > 1:
                several[name][row] = listed
                for value in listed[1:]:
                    vocabularies[name].code(value)  # every value has a code (their blocking keys)
        size += 1
    arrays = {name: np.asarray(values, dtype=np.int32) for name, values in codes.items()}
    values = {name: vocabulary.array() for name, vocabulary in vocabularies.items()}
    return PersonTable(size=size, several=several, **{name: Column(arrays[name], values[VOCABULARY_OF[name]]) for name in arrays})


def columns_of(rows: list[list[str]], headers: list[str]) -> dict[str, tuple[str, ...]]:
    """CSV rows (lists, possibly ragged) → header → that column's values (``""`` past a short row)."""
    transposed = list(zip_longest(*rows, fillvalue=""))[: len(headers)]
    out = dict(zip(headers, transposed, strict=False))
    for header in headers[len(transposed) :]:
        out[header] = ("",) * len(rows)
    return out
