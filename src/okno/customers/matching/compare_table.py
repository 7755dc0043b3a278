"""The comparisons of :mod:`.compare` over a :class:`~okno.customers.matching.table.PersonTable`,
for millions of pairs: equality is a comparison of codes, and a similarity is computed only
where the values differ and both are present, once per distinct pair of values. The levels
come from the same functions as :func:`~okno.customers.matching.compare.compare_pairs`, and a
test holds the two to the same result on generated records.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from okno.customers.matching.blocking import sorted_unique
from okno.customers.matching.compare import (
    ADDRESS_SAME_RATIO,
    CITY_SIMILAR,
    COMPARISONS,
    MISSING,
    date_levels,
    day_numbers,
    id_levels,
    initial_aware,
    key_levels,
    nickname_aware,
    place_levels,
    similarity_levels,
    swap_aware_names,
)
from okno.customers.matching.table import Column, PersonTable
from okno.customers.nicknames import full_name_of


class TableComparer:
    """``comparer(li, ri)`` → ``gamma[p, c]`` for pairs of records of one table."""

    def __init__(self, table: PersonTable) -> None:
        self.table = table

    @cached_property
    def swapped_dates(self) -> np.ndarray:
        """Per distinct birth date: the code of the same date with day and month swapped (-1: none)."""
        values = self.table.birth_date.values
        code_of = {v: c for c, v in enumerate(values)}
        return np.fromiter((code_of.get(f"{d[:4]}-{d[8:10]}-{d[5:7]}", -1) if len(d) == 10 else -1 for d in values), dtype=np.int64, count=len(values))

    @cached_property
    def day_numbers(self) -> np.ndarray:
        """Per distinct birth date: its day number (:func:`~okno.customers.matching.compare.day_numbers`)."""
        return day_numbers(self.table.birth_date.values)

    @cached_property
    def days_of_year(self) -> np.ndarray:
        """Per distinct birth date: a code of its ``-mm-dd`` (0: none)."""
        code_of: dict[str, int] = {}
        values = self.table.birth_date.values
        return np.fromiter((code_of.setdefault(d[4:], len(code_of) + 1) if len(d) == 10 else 0 for d in values), dtype=np.int64, count=len(values))

    @cached_property
    def full_names(self) -> np.ndarray:
        """Per distinct name: a code of its full form (nicknames share their full name's code)."""
        code_of: dict[str, int] = {}
        return np.fromiter((code_of.setdefault(full_name_of(v), len(code_of)) for v in self.table.first_name.values), dtype=np.int64,
                           count=len(self.table.first_name.values))  # fmt: skip

    @cached_property
    def initials(self) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct name: its first letter's code point, and whether it is one letter long."""
        values = self.table.first_name.values
        first = np.fromiter((ord(v[0]) if v else 0 for v in values), dtype=np.int64, count=len(values))
        return first, np.fromiter((len(v) == 1 for v in values), dtype=bool, count=len(values))

    @cached_property
    def mailboxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct e-mail: a code of its mailbox name, and whether it has one."""
        code_of: dict[str, int] = {}
        names = [e.split("@")[0] for e in self.table.email.values]
        codes = np.fromiter((code_of.setdefault(n, len(code_of)) for n in names), dtype=np.int64, count=len(names))
        return codes, np.fromiter((n != "" for n in names), dtype=bool, count=len(names))

    def __call__(self, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
        gamma = np.full((len(li), len(COMPARISONS)), MISSING, dtype=np.int8)
        if len(li) == 0:
            return gamma
        t = self.table
        gamma[:, 0], gamma[:, 1] = self._names(t.first_name.codes[li], t.first_name.codes[ri], t.last_name.codes[li], t.last_name.codes[ri])
        gamma[:, 2] = self._dates(t.birth_date.codes[li], t.birth_date.codes[ri])
        gamma[:, 3] = self._keys("phone", li, ri, None)
        mailbox, has_mailbox = self.mailboxes
        ea, eb = t.email.codes[li], t.email.codes[ri]
        gamma[:, 4] = self._keys("email", li, ri, (mailbox[ea] == mailbox[eb]) & has_mailbox[ea])
        gamma[:, 5], gamma[:, 7] = self._places(li, ri)
        gamma[:, 6] = self._ids(t.id_number.codes[li], t.id_number.codes[ri])
        return gamma

    def _names(self, fa: np.ndarray, fb: np.ndarray, la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = ((fa, fb), (la, lb), (fa, lb), (la, fb))
        needed = [(x != y) & (x != 0) & (y != 0) for x, y in pairs]
        scores = distinct_pair_scores(
            self.table.first_name.values,
            np.concatenate([x[n] for (x, _), n in zip(pairs, needed, strict=True)]),
            np.concatenate([y[n] for (_, y), n in zip(pairs, needed, strict=True)]),
            JaroWinkler.normalized_similarity,
        )
        levels, start = [], 0
        for (x, y), n in zip(pairs, needed, strict=True):
            similarity = np.zeros(len(x))
            similarity[n] = scores[start : start + int(n.sum())]
            start += int(n.sum())
            similarity = nickname_aware(similarity, n & (self.full_names[x] == self.full_names[y]))
            first, single = self.initials
            similarity = initial_aware(similarity, n & (single[x] | single[y]) & (first[x] == first[y]))
            levels.append(similarity_levels(x == y, (x == 0) | (y == 0), similarity))
        return swap_aware_names(*levels)

    def _dates(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        missing, equal = (a == 0) | (b == 0), a == b
        needed = ~equal & ~missing
        one_edit = np.zeros(len(a), dtype=bool)
        one_edit[needed] = distinct_pair_scores(self.table.birth_date.values, a[needed], b[needed], OSA.distance) <= 1
        swapped = self.swapped_dates[a]
        days_apart = np.abs(self.day_numbers[a] - self.day_numbers[b])
        same_day = (self.days_of_year[a] == self.days_of_year[b]) & (self.days_of_year[a] > 0)
        return date_levels(equal, missing, one_edit, (swapped == b) & (swapped > 0), days_apart, same_day)

    def _keys(self, name: str, li: np.ndarray, ri: np.ndarray, same_name: np.ndarray | None) -> np.ndarray:
        column: Column = getattr(self.table, name)
        a, b = column.codes[li], column.codes[ri]
        missing, same = (a == 0) | (b == 0), a == b
        several = self.table.several[name]
        if several:
            rows = np.fromiter(several, dtype=np.int64, count=len(several))
            for p in np.flatnonzero((np.isin(li, rows) | np.isin(ri, rows)) & ~same).tolist():
                same[p] = bool(set(self.table.values_of(name, int(li[p]))) & set(self.table.values_of(name, int(ri[p]))))
        needed = ~same & ~missing
        close = np.zeros(len(a), dtype=bool)
        close[needed] = process.cpdist(column.values[a[needed]], column.values[b[needed]], scorer=Levenshtein.distance, score_cutoff=1, workers=1) <= 1
        if same_name is not None:
            close |= same_name
        return key_levels(same, close, missing)

    def _places(self, li: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self.table
        aa, ab = t.address.codes[li], t.address.codes[ri]
        pa, pb = t.postcode.codes[li], t.postcode.codes[ri]
        ca, cb = t.city.codes[li], t.city.codes[ri]
        has_address, has_post, has_city = (aa != 0) & (ab != 0), (pa != 0) & (pb != 0), (ca != 0) & (cb != 0)
        address_same = has_address & (aa == ab)  # the words sorted: the same words in any order
        differ = has_address & ~address_same
        address_same[differ] = process.cpdist(t.address.values[aa[differ]], t.address.values[ab[differ]], scorer=fuzz.ratio, workers=1) >= ADDRESS_SAME_RATIO
        differ &= ~address_same
        address_ratio = np.zeros(len(li))
        address_ratio[differ] = distinct_pair_scores(t.address.values, aa[differ], ab[differ], fuzz.token_set_ratio)
        city_same = has_city & (ca == cb)
        differ = has_city & ~city_same
        city_same[differ] = distinct_pair_scores(t.city.values, ca[differ], cb[differ], JaroWinkler.normalized_similarity) >= CITY_SIMILAR
        post_same = has_post & (pa == pb)
        post_close = np.zeros(len(li), dtype=bool)
        differ = has_post & ~post_same
        post_close[differ] = distinct_pair_scores(t.postcode.values, pa[differ], pb[differ], OSA.distance) <= 1
        return place_levels(address_same, address_ratio, has_address, post_same, post_close, city_same, has_post | has_city)

    def _ids(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        missing, equal = (a == 0) | (b == 0), a == b
        needed = ~equal & ~missing
        distance = np.zeros(len(a))
        distance[needed] = distinct_pair_scores(self.table.id_number.values, a[needed], b[needed], OSA.distance)
        return id_levels(equal, missing, distance)


def distinct_pair_scores(values: np.ndarray, x: np.ndarray, y: np.ndarray, scorer) -> np.ndarray:  # noqa: ANN001
    """``scorer(values[x[p]], values[y[p]])`` per ``p``, each distinct ``(x, y)`` scored once."""
    if len(x) == 0:
        return np.zeros(0)
    key = x.astype(np.int64) * len(values) + y
    distinct = sorted_unique(key)
    scores = process.cpdist(values[distinct // len(values)], values[distinct % len(values)], scorer=scorer, workers=1)
    return scores[np.searchsorted(distinct, key)]
