"""Blocking over a :class:`~okno.customers.matching.table.PersonTable`: the keys of
:func:`~okno.customers.matching.fields.blocking_keys`, built as integers from the coded columns
(the phonetic key of each distinct name is worked out once), and the candidate pairs they give.

Each key kind is a tuple of codes that stands for exactly one key string; a key string of 96
characters or more (which ``blocking_keys`` cuts to 96) is built as text, so the blocks are
the same as those of the string keys.
"""

from __future__ import annotations

import numpy as np

from okno.customers.matching.fields import MAX_BLOCK_SIZE, MAX_KEY_LENGTH, MAX_SINGLE_VALUE, SINGLE_FIELD_KEYS, SMALL_BLOCK_SIZE
from okno.customers.matching.table import PersonTable
from okno.customers.names import name_key

KIND_BITS = 58  # a key id is kind << KIND_BITS | the kind's own number
SINGLE_FIELD_KIND = 24  # single-field keys are kinds 24, 25…: blocks of them are capped at SMALL_BLOCK_SIZE


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` for integers by sorting (numpy 2's hash-based unique is far slower here)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def dense_codes(values: np.ndarray) -> np.ndarray:
    """Each value's rank among the distinct values (equal values, equal codes)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    codes = np.empty(len(values), dtype=np.int64)
    codes[order] = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1 if len(values) else codes
    return codes


def combine(*parts: np.ndarray) -> np.ndarray:
    """One int64 per row that is equal exactly when all ``parts`` are equal."""
    key = parts[0].astype(np.int64)
    for part in parts[1:]:
        radix = int(part.max()) + 1 if len(part) else 1
        if len(key) and int(key.max()) >= (1 << KIND_BITS) // radix:
            key = dense_codes(key)
        key = key * radix + part
    return dense_codes(key) if len(key) and int(key.max()) >= 1 << KIND_BITS else key


class _Names:
    """Per distinct name: its phonetic key's code (codes sorted as the keys are) and length."""

    def __init__(self, names: np.ndarray) -> None:
        keys = np.empty(len(names), dtype=object)
        keys[:] = [name_key(n) for n in names]
        self.keys, self.code = np.unique(keys, return_inverse=True)
        self.length = np.fromiter((len(k) for k in self.keys), dtype=np.int64, count=len(self.keys))


def block_entries(table: PersonTable) -> tuple[np.ndarray, np.ndarray]:
    """``(key id, record)`` for every blocking key of every record."""
    rows = np.arange(table.size, dtype=np.int64)
    first, last = table.first_name.codes, table.last_name.codes
    born, post = table.birth_date.codes, table.postcode.codes
    names = _Names(table.first_name.values)
    pf, pl = names.code[first], names.code[last]
    has_first, has_last, has_born = first != 0, last != 0, born != 0
    dates = table.birth_date.values
    year = dense_codes(np.asarray([d[:4] for d in dates], dtype=object))
    day = dense_codes(np.asarray([d[5:] for d in dates], dtype=object))
    date_length = np.fromiter((len(d) for d in dates), dtype=np.int64, count=len(dates))
    year_length = np.minimum(date_length, 4)
    day_length = np.maximum(date_length - 5, 0)
    initials = np.fromiter((ord(n[0]) if n else ord("?") for n in table.first_name.values), dtype=np.int64, count=len(table.first_name.values))
    lengths = {name: np.fromiter((len(v) for v in getattr(table, name).values), dtype=np.int64) for name in ("phone", "email", "postcode", "id_number", "address", "city")}
    low, high = np.minimum(pf, pl), np.maximum(pf, pl)
    surname_or_first = np.where(has_last, last, first)
    kinds: list[tuple[str, np.ndarray, list[np.ndarray], np.ndarray]] = []  # (prefix, rows, parts, key length)

    def add(prefix: str, where: np.ndarray, parts: list[np.ndarray], length: np.ndarray) -> None:
        kinds.append((prefix, rows[where], [p[where] for p in parts], length[where]))

    phone, email = table.phone.codes, table.email.codes
    add("p", phone != 0, [phone], 2 + lengths["phone"][phone])
    add("e", email != 0, [email], 2 + lengths["email"][email])
    both = has_first & has_last
    pair_length = names.length[low] + 1 + names.length[high]
    add("n", both & has_born, [low, high, year[born]], 3 + pair_length + year_length[born])
    add("nd", both & has_born, [low, high, day[born]], 4 + pair_length + day_length[born])
    add("nn", both & ~has_born, [low, high], 3 + pair_length)
    city = table.city.codes
    add("nc", both & (city != 0), [low, high, city], 4 + pair_length + lengths["city"][city])
    add("b", has_born, [born, initials[surname_or_first]], 4 + date_length[born])
    add("bf", has_born & both, [born, initials[first]], 5 + date_length[born])
    add("fb", has_born & has_first, [pf, born], 4 + names.length[pf] + date_length[born])
    add("z", (post != 0) & (has_first | has_last), [post, names.code[surname_or_first]], 3 + lengths["postcode"][post] + names.length[names.code[surname_or_first]])
    add("bz", has_born & (post != 0), [born, post], 4 + date_length[born] + lengths["postcode"][post])
    add("fz", (post != 0) & has_first & has_last, [post, pf], 4 + lengths["postcode"][post] + names.length[pf])
    address = table.address.codes
    add("a", address != 0, [address], 2 + lengths["address"][address])
    id_number = table.id_number.codes
    add("i", id_number != 0, [id_number], 2 + lengths["id_number"][id_number])
    keys, owners, texts, text_owners = [], [], [], []
    for number, (prefix, owner, parts, length) in enumerate(kinds):
        short = length < MAX_KEY_LENGTH
        if short.any():
            keys.append((number << KIND_BITS) | combine(*(p[short] for p in parts)))
            owners.append(owner[short])
        for row in owner[~short].tolist():  # as text, cut like blocking_keys cuts it
            texts.append(_key_text(table, names, prefix, row)[:MAX_KEY_LENGTH])
            text_owners.append(row)
    for number, (name, prefix) in enumerate((("phone", "p"), ("email", "e"))):  # a record's second and later phones, e-mails
        more, more_owners = _more_values(table, name, prefix, texts, text_owners)
        keys.append((number << KIND_BITS) | more)  # the same kind numbers as the first values' keys above
        owners.append(more_owners)
    keys.append((len(kinds) << KIND_BITS) | dense_codes(np.asarray(texts, dtype=object)))
    owners.append(np.asarray(text_owners, dtype=np.int64))
    for number, name in enumerate(SINGLE_FIELD_KEYS.values()):
        column = getattr(table, name)
        short = np.fromiter((len(v) <= MAX_SINGLE_VALUE for v in column.values), dtype=bool, count=len(column.values))
        where = (column.codes != 0) & short[column.codes]
        keys.append(((SINGLE_FIELD_KIND + number) << KIND_BITS) | column.codes[where].astype(np.int64))
        owners.append(rows[where])
    return np.concatenate(keys), np.concatenate(owners)


def _key_text(table: PersonTable, names: _Names, prefix: str, row: int) -> str:
    """The key string of kind ``prefix`` for record ``row``, as ``blocking_keys`` writes it."""
    first, last, born = table.first_name.values[table.first_name.codes[row]], table.last_name.values[table.last_name.codes[row]], table.birth_date.values[table.birth_date.codes[row]]
    pf, pl = names.keys[names.code[table.first_name.codes[row]]], names.keys[names.code[table.last_name.codes[row]]]
    if prefix in ("p", "e"):
        column = table.phone if prefix == "p" else table.email
        return f"{prefix}:{column.values[column.codes[row]]}"
    if prefix in ("n", "nn", "nd"):
        pair = ":".join(sorted((pf, pl)))
        return {"n": f"n:{pair}:{born[:4]}", "nd": f"nd:{pair}:{born[5:]}", "nn": f"nn:{pair}"}[prefix]
    if prefix == "nc":
        return f"nc:{':'.join(sorted((pf, pl)))}:{table.city.values[table.city.codes[row]]}"
    if prefix == "bf":
        return f"bf:{born}:{first[0]}"
    if prefix == "b":
        return f"b:{born}:{(last or first or '?')[0]}"
    if prefix == "fb":
        return f"fb:{pf}:{born}"
    postcode = table.postcode.values[table.postcode.codes[row]]
    if prefix == "bz":
        return f"bz:{born}:{postcode}"
    if prefix == "i":
        return f"i:{table.id_number.values[table.id_number.codes[row]]}"
    if prefix == "fz":
        return f"fz:{postcode}:{pf}"
    if prefix == "a":
        return f"a:{table.address.values[table.address.codes[row]]}"
    return f"z:{postcode}:{pl if last else pf}"


def _more_values(table: PersonTable, name: str, prefix: str, texts: list[str], text_owners: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Codes (and owners) of the phones or e-mails beyond a record's first; long ones go to ``texts``."""
    several = table.several[name]
    column = getattr(table, name)
    code_of = {value: code for code, value in enumerate(column.values)} if several else {}
    codes, owners = [], []
    for row, values in several.items():
        for value in set(values) - {column.values[column.codes[row]]}:
            if len(prefix) + 1 + len(value) < MAX_KEY_LENGTH:
                codes.append(code_of[value])
                owners.append(row)
            else:
                texts.append(f"{prefix}:{value}"[:MAX_KEY_LENGTH])
                text_owners.append(row)
    return np.asarray(codes, dtype=np.int64), np.asarray(owners, dtype=np.int64)


def candidate_pairs(keys: np.ndarray, owners: np.ndarray, size: int, *, max_block: int = MAX_BLOCK_SIZE) -> tuple[np.ndarray, np.ndarray, int]:
    """Unique ``(i, j)``, ``i < j``, sharing a key, sorted; blocks above ``max_block`` (single-field
    keys: above ``SMALL_BLOCK_SIZE``) are skipped."""
    order = np.argsort(keys, kind="stable")
    blocks, people = keys[order], owners[order]
    del order
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]]) if len(blocks) else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, len(blocks)])
    cap = np.where((blocks[starts] >> KIND_BITS) >= SINGLE_FIELD_KIND, min(SMALL_BLOCK_SIZE, max_block), max_block) if len(starts) else sizes
    skipped = int((sizes > cap).sum())
    usable = (sizes >= 2) & (sizes <= cap)
    codes = []
    for block_size in np.unique(sizes[usable]).tolist():  # all blocks of one size at once
        first = starts[(sizes == block_size) & usable]
        a, b = np.triu_indices(block_size, k=1)
        left, right = people[(first[:, None] + a[None, :]).ravel()], people[(first[:, None] + b[None, :]).ravel()]
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        keep = lo != hi
        codes.append(sorted_unique(lo[keep] * max(size, 1) + hi[keep]))
    pairs = sorted_unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    return pairs // max(size, 1), pairs % max(size, 1), skipped
