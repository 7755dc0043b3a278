"""Per-field comparisons with agreement levels, vectorised over many record pairs at once.

The real-time path (one record against a handful of candidates) and the batch path (millions
of blocked pairs) call the same :func:`compare_pairs`, so both judge a pair identically.

Levels are small integers, 0 = strongest agreement; ``-1`` = missing on either side (weight 0).
The address and the area (postcode, else city) are two comparisons: in a base without
households they are independent evidence, as Splink counts them; where relatives live together
they agree together, and :func:`~okno.customers.matching.model.score_gamma` counts them as one
fact (with surname and phone). "One typo" in a date,
postcode or id number is one edit or two neighbouring characters swapped (``1956`` / ``1965``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from okno.customers.matching.fields import ONE_VALUE_FIELDS
from okno.customers.nicknames import full_name_of

MISSING = -1
NAME_SIMILAR, NAME_SOMEWHAT_SIMILAR = 0.92, 0.80  # Jaro-Winkler
NEAR_DAYS, YEAR_DAYS = 31, 366  # birth dates this many days apart at most: partial credit (a slip of a day or a year)
ADDRESS_SAME_RATIO = 90  # token sort ratio: the same words, give or take a typo, in any order
# token set ratio: one address's words within the other's, give or take a typo (a building's
# name left out on one side, two words run together)
ADDRESS_SIMILAR_RATIO = 85
ADDRESS_SOMEWHAT_SIMILAR_RATIO = 70  # token set ratio: most of the words, or most of their letters
CITY_SIMILAR = 0.92  # Jaro-Winkler


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # human names of the levels, strongest first
    tf_level: int | None = None  # level whose weight is adjusted by the value's term frequency
    tf_column: str | None = None


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", ("exact", "similar", "somewhat similar", "different"), tf_level=0, tf_column="first_name"),
    Comparison("last_name", ("exact", "similar", "somewhat similar", "different"), tf_level=0, tf_column="last_name"),
    Comparison("birth_date", ("exact", "one typo or day/month swapped", "same day and month, another year", "within a month", "within a year", "different")),
    Comparison("phone", ("same", "one digit apart", "different")),
    Comparison("email", ("same", "same mailbox name or one typo", "different")),
    Comparison("address", ("same address", "similar address", "somewhat similar address", "different")),
    Comparison("id_number", ("same", "one typo or two characters swapped", "two typos", "different")),
    Comparison("area", ("same postcode and city", "same postcode", "postcode one typo", "same city", "different"), tf_level=3, tf_column="city"),
)
COLUMNS = ("first_name", "last_name", "birth_date", "phone", "phones", "email", "emails", "address", "postcode", "city", "id_number")


class Frame:
    """Records as columns (numpy object arrays; ``""`` or ``()`` when missing), plus the derived
    columns the comparisons need, computed once per record rather than once per pair."""

    def __init__(self, records: list[dict]) -> None:
        self.size = len(records)
        cols: dict[str, list] = {c: [] for c in COLUMNS}
        for fields in records:
            phones, emails = tuple(fields.get("phones", ())), tuple(fields.get("emails", ()))
            cols["phones"].append(phones)
            cols["emails"].append(emails)
            cols["phone"].append(phones[0] if phones else "")
            cols["email"].append(emails[0] if emails else "")
            for name in ONE_VALUE_FIELDS:
                cols[name].append(fields.get(name, ""))
        self.columns = {name: _array(values) for name, values in cols.items()}
        self.columns["several_phones"] = np.fromiter((len(p) > 1 for p in cols["phones"]), dtype=bool, count=self.size)
        self.columns["several_emails"] = np.fromiter((len(e) > 1 for e in cols["emails"]), dtype=bool, count=self.size)
        self.columns["mailbox"] = _array([e.split("@")[0] for e in cols["email"]])
        self.columns["birth_date_swapped"] = _array([f"{d[:4]}-{d[8:10]}-{d[5:7]}" if len(d) == 10 else "" for d in cols["birth_date"]])
        self.columns["birth_day_number"] = day_numbers(cols["birth_date"])
        self.shares: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def set_term_shares(self, column: str, share_of: dict[str, float]) -> None:
        """Each record's share of the whole base for ``column`` (term-frequency adjustment)."""
        self.shares[column] = np.fromiter((share_of.get(v, np.nan) if v else np.nan for v in self.columns[column]), dtype=np.float64, count=self.size)


def _array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def compare_pairs(left: Frame, right: Frame, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """``gamma[p, c]``: the agreement level of pair ``(left[li[p]], right[ri[p]])`` on comparison ``c``."""
    gamma = np.full((len(li), len(COMPARISONS)), MISSING, dtype=np.int8)
    if len(li) == 0:
        return gamma
    pick = lambda frame, idx, col: frame[col][idx]  # noqa: E731
    fa, fb = pick(left, li, "first_name"), pick(right, ri, "first_name")
    la, lb = pick(left, li, "last_name"), pick(right, ri, "last_name")
    gamma[:, 0], gamma[:, 1] = _names(fa, fb, la, lb)
    days_apart = np.abs(pick(left, li, "birth_day_number") - pick(right, ri, "birth_day_number"))
    gamma[:, 2] = _dates(pick(left, li, "birth_date"), pick(right, ri, "birth_date"), pick(left, li, "birth_date_swapped"), days_apart)
    several_phones = pick(left, li, "several_phones") | pick(right, ri, "several_phones")
    gamma[:, 3] = _keys(pick(left, li, "phone"), pick(right, ri, "phone"), pick(left, li, "phones"), pick(right, ri, "phones"), several_phones, None)
    several_emails = pick(left, li, "several_emails") | pick(right, ri, "several_emails")
    ma, mb = pick(left, li, "mailbox"), pick(right, ri, "mailbox")
    gamma[:, 4] = _keys(pick(left, li, "email"), pick(right, ri, "email"), pick(left, li, "emails"), pick(right, ri, "emails"), several_emails, (ma == mb) & (ma != ""))
    gamma[:, 5], gamma[:, 7] = _places(left, right, li, ri)
    ia, ib = pick(left, li, "id_number"), pick(right, ri, "id_number")
    gamma[:, 6] = id_levels(ia == ib, (ia == "") | (ib == ""), process.cpdist(ia, ib, scorer=OSA.distance, workers=1))
    return gamma


def similarity_levels(equal: np.ndarray, missing: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """Name levels; ``similarity`` only matters where neither ``equal`` nor ``missing``."""
    levels = np.where(equal, 0, np.where(similarity >= NAME_SIMILAR, 1, np.where(similarity >= NAME_SOMEWHAT_SIMILAR, 2, 3))).astype(np.int8)
    levels[missing] = MISSING
    return levels


def swap_aware_names(first: np.ndarray, last: np.ndarray, cross_first: np.ndarray, cross_last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last name levels; a record with the two names swapped is compared swapped."""
    cost = lambda lv: np.where(lv == MISSING, 2, lv)  # noqa: E731
    swapped = (cost(cross_first) + cost(cross_last)) < (cost(first) + cost(last))
    return np.where(swapped, cross_first, first), np.where(swapped, cross_last, last)


def date_levels(equal: np.ndarray, missing: np.ndarray, one_edit: np.ndarray, day_month_swapped: np.ndarray, days_apart: np.ndarray,
                same_day_and_month: np.ndarray) -> np.ndarray:  # fmt: skip
    """Exact / one typo or day and month swapped / the same day and month in another year (a
    mistyped year: ``1990`` / ``2000``, ``1969`` / ``1970``) / within a month / within a year /
    different (``days_apart``: calendar days between the two dates, as :func:`day_numbers` gives them)."""
    near = np.where(days_apart <= NEAR_DAYS, 3, np.where(days_apart <= YEAR_DAYS, 4, 5))
    levels = np.where(equal, 0, np.where(one_edit | day_month_swapped, 1, np.where(same_day_and_month, 2, near))).astype(np.int8)
    levels[missing] = MISSING
    return levels


def day_numbers(dates: list[str] | np.ndarray) -> np.ndarray:
    """Each ISO date's day number (``date.toordinal``); a far-off number for a missing one."""
    out = np.full(len(dates), -(10**7), dtype=np.int64)
    for i, text in enumerate(dates):
        if len(text) == 10:
            try:
                out[i] = date(int(text[:4]), int(text[5:7]), int(text[8:10])).toordinal()
            except ValueError:
                continue
    return out


def key_levels(same: np.ndarray, close: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Phones or e-mails: any value in common; else one edit apart (or the same mailbox name)."""
    levels = np.where(same, 0, np.where(close, 1, 2)).astype(np.int8)
    levels[missing] = MISSING
    return levels


def place_levels(address_same: np.ndarray, address_ratio: np.ndarray, has_address: np.ndarray, post_same: np.ndarray, post_close: np.ndarray, city_same: np.ndarray,
                 has_area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Address levels (same / similar / somewhat similar / different; ``address_ratio``: the
    token set ratio, used where not the same) and area levels (same postcode and city / same postcode /
    postcode one typo / same city / different); ``has_area``: a postcode on both sides or a city on both sides."""
    similar = np.where(address_ratio >= ADDRESS_SIMILAR_RATIO, 1, np.where(address_ratio >= ADDRESS_SOMEWHAT_SIMILAR_RATIO, 2, 3))
    address = np.where(address_same, 0, similar).astype(np.int8)
    address[~has_address] = MISSING
    area = np.where(post_same, np.where(city_same, 0, 1), np.where(post_close, 2, np.where(city_same, 3, 4))).astype(np.int8)
    area[~has_area] = MISSING
    return address, area


def id_levels(equal: np.ndarray, missing: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """``distance``: edits (a swap of neighbours is one) between the two id numbers."""
    levels = np.where(equal, 0, np.where(distance <= 1, 1, np.where(distance <= 2, 2, 3))).astype(np.int8)
    levels[missing] = MISSING
    return levels


def nickname_aware(similarity: np.ndarray, same_full_name: np.ndarray) -> np.ndarray:
    """Two forms of one given name (``sasha`` / ``aleksandr``) count as "similar" at least."""
    return np.where(same_full_name, np.maximum(similarity, NAME_SIMILAR), similarity)


def initial_aware(similarity: np.ndarray, initial_of_other: np.ndarray) -> np.ndarray:
    """A given name written as its initial (``J`` / ``James``) counts as "somewhat similar" at least."""
    return np.where(initial_of_other, np.maximum(similarity, NAME_SOMEWHAT_SIMILAR), similarity)


def is_initial_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x[p]`` or ``y[p]`` is one letter, the other's first (both present, not equal)."""
    return np.fromiter(((len(a) == 1 or len(b) == 1) and a != b and a[:1] == b[:1] and a != "" and b != "" for a, b in zip(x.tolist(), y.tolist(), strict=True)),
                       dtype=bool, count=len(x))  # fmt: skip


def _full_names(values: np.ndarray) -> np.ndarray:
    return _array([full_name_of(v) for v in values.tolist()])


def _names(fa: np.ndarray, fb: np.ndarray, la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def jw(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        similarity = process.cpdist(x, y, scorer=JaroWinkler.normalized_similarity, workers=1)
        return initial_aware(nickname_aware(similarity, _full_names(x) == _full_names(y)), is_initial_of(x, y))

    levels = lambda x, y: similarity_levels(x == y, (x == "") | (y == ""), jw(x, y))  # noqa: E731
    return swap_aware_names(levels(fa, fb), levels(la, lb), levels(fa, lb), levels(la, fb))


def _dates(a: np.ndarray, b: np.ndarray, a_swapped: np.ndarray, days_apart: np.ndarray) -> np.ndarray:
    distance = process.cpdist(a, b, scorer=OSA.distance, workers=1)
    return date_levels(a == b, (a == "") | (b == ""), distance <= 1, (a_swapped == b) & (a_swapped != ""), days_apart, same_day_and_month(a, b))


def same_day_and_month(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both ISO dates present and agreeing on ``-mm-dd`` (whatever the year)."""
    return np.fromiter((len(x) == 10 and x[4:] == y[4:] for x, y in zip(a.tolist(), b.tolist(), strict=True)), dtype=bool, count=len(a))


def _keys(a: np.ndarray, b: np.ndarray, sets_a: np.ndarray, sets_b: np.ndarray, several: np.ndarray, same_name: np.ndarray | None) -> np.ndarray:
    same = a == b
    for p in np.flatnonzero(several & ~same):
        same[p] = bool(set(sets_a[p]) & set(sets_b[p]))
    close = process.cpdist(a, b, scorer=Levenshtein.distance, workers=1) <= 1
    if same_name is not None:
        close |= same_name
    return key_levels(same, close, (a == "") | (b == ""))


def _places(left: Frame, right: Frame, li: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    aa, ab = left["address"][li], right["address"][ri]
    pa, pb = left["postcode"][li], right["postcode"][ri]
    ca, cb = left["city"][li], right["city"][ri]
    has_address, has_post, has_city = (aa != "") & (ab != ""), (pa != "") & (pb != ""), (ca != "") & (cb != "")
    address_same = has_address & (process.cpdist(aa, ab, scorer=fuzz.token_sort_ratio, workers=1) >= ADDRESS_SAME_RATIO)
    address_ratio = process.cpdist(aa, ab, scorer=fuzz.token_set_ratio, workers=1)
    post_same = has_post & (pa == pb)
    post_close = has_post & ~post_same & (process.cpdist(pa, pb, scorer=OSA.distance, workers=1) <= 1)
    city_same = has_city & ((ca == cb) | (process.cpdist(ca, cb, scorer=JaroWinkler.normalized_similarity, workers=1) >= CITY_SIMILAR))
    return place_levels(address_same, address_ratio, has_address, post_same, post_close, city_same, has_post | has_city)
