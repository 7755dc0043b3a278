"""Fellegi–Sunter weights: ``log2(m/u)`` per comparison level, term-frequency adjusted, summed.

``m[c][l]`` is the share of true matches at level ``l`` of comparison ``c``, ``u[c][l]`` the
share of non-matches. ``prior`` is the match probability of a *candidate pair* (one that
shares a blocking key). Defaults below are sensible starting values; :mod:`.em` estimates them
from the data and an admin may override any of them (``matcher_settings.params``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from okno.customers.matching.compare import COMPARISONS, MISSING

DEFAULT_M: dict[str, list[float]] = {
    "first_name": [0.82, 0.09, 0.04, 0.05],
    "last_name": [0.82, 0.09, 0.04, 0.05],
    "birth_date": [0.86, 0.07, 0.02, 0.02, 0.01, 0.02],
    "phone": [0.70, 0.06, 0.24],
    "email": [0.65, 0.05, 0.30],
    "address": [0.60, 0.08, 0.04, 0.28],
    "id_number": [0.85, 0.06, 0.03, 0.06],
    "area": [0.55, 0.15, 0.03, 0.12, 0.15],
}
DEFAULT_U: dict[str, list[float]] = {
    "first_name": [0.02, 0.01, 0.03, 0.94],
    "last_name": [0.01, 0.005, 0.02, 0.965],
    "birth_date": [0.0001, 0.0015, 0.0002, 0.0012, 0.028, 0.969],
    "phone": [0.0001, 0.0005, 0.9994],
    "email": [0.0001, 0.0005, 0.9994],
    "address": [0.001, 0.004, 0.02, 0.975],
    "id_number": [0.0001, 0.0005, 0.002, 0.9974],
    "area": [0.008, 0.002, 0.005, 0.09, 0.895],
}
DEFAULT_PRIOR = 0.01
DEFAULT_REVIEW_THRESHOLD = 0.95
TF_FLOOR_FACTOR = 20.0
MIN_BASE_FOR_TF = 1000  # frequencies from fewer profiles than this are noise: the average u applies
# A household shares phone, address, area and surname: these agree together, so only the strongest
# counts in full and the others at this share (correlated evidence is not independent evidence).
CORRELATED = ("phone", "address", "area", "last_name")  # a different first name or birth date = "someone else"
CORRELATED_SHARE = 0.25  # a rare value weighs at most log2(20) ≈ 4.3 bits more than an average one
# Below this share of "someone else" among candidates at one address (see ``household_share``)
# the base holds no households to speak of: the discount is off and the fields count as the
# independent evidence they then are. Measured: 0.3–0.7 % in FEBRL 1–4, 31–62 % in the
# generated sets with 5–25 % households (bench/identity_recall.py).
MIN_HOUSEHOLD_SHARE = 0.05


@dataclass
class MatchModel:
    m: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_M.items()})
    u: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_U.items()})
    prior: float = DEFAULT_PRIOR
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD
    auto_threshold: float | None = None  # off by default: merges only after an operator's review
    # comparisons whose saved m/u no longer fit (their levels changed, or they are newer than the
    # save): the defaults stand in for them until the next estimate or override
    out_of_date: tuple[str, ...] = ()
    # estimated: how many other records each record matches on average. When set, a pair's
    # prior is that over the base size — the chance that two *random* records are one person,
    # which is the prior that goes with ``u`` measured on random pairs (Splink's
    # ``probability_two_random_records_match``). ``prior`` (a candidate pair's chance) then only
    # stands in when the base size is unknown. A candidate-pair prior with random-pair ``u``
    # counts the blocking agreement twice and makes every probability overconfident.
    match_rate: float | None = None
    # estimated: among candidate pairs at the same address with a first name and a birth date on
    # both sides, the share naming someone else (another first name *and* another birth date) —
    # relatives living together. ``None``: not estimated, households assumed.
    household_share: float | None = None

    @property
    def households(self) -> bool:
        """Whether the household discount applies (:func:`_discount_correlated`)."""
        return self.household_share is None or self.household_share >= MIN_HOUSEHOLD_SHARE

    def pair_prior(self, base_size: int | None) -> float:
        if self.match_rate is None or not base_size or base_size < 2:
            return self.prior
        return min(max(self.match_rate / (base_size - 1), 1e-12), 0.5)

    @classmethod
    def from_params(cls, params: dict) -> MatchModel:
        """Saved parameters over the defaults, comparison by comparison: a saved list that still
        has one value per level is kept, one that doesn't is set aside (``out_of_date``)."""
        model = cls()
        stale: set[str] = set()
        for name in ("m", "u"):
            saved, current = params.get(name) or {}, getattr(model, name)
            for comparison, values in saved.items():
                if comparison in current and len(values) == len(current[comparison]):
                    current[comparison] = [float(v) for v in values]
                elif comparison in current:
                    stale.add(comparison)
            if saved:
                stale |= current.keys() - saved.keys()  # added to the matcher since they were saved
        for name in ("prior", "review_threshold", "auto_threshold", "match_rate", "household_share"):
            if name in params:
                setattr(model, name, None if params[name] is None else float(params[name]))
        model.out_of_date = tuple(c.name for c in COMPARISONS if c.name in stale)
        return model

    def params(self) -> dict:
        return {"m": self.m, "u": self.u, "prior": self.prior, "review_threshold": self.review_threshold, "auto_threshold": self.auto_threshold,
                "match_rate": self.match_rate, "household_share": self.household_share}

    def saved_params(self) -> dict:
        """:meth:`params` as stored: out-of-date comparisons are left out, so the defaults
        standing in for them are not saved as if someone had chosen them."""
        params = self.params()
        for side in ("m", "u"):
            params[side] = {k: v for k, v in params[side].items() if k not in self.out_of_date}
        return params

    def weight_table(self) -> list[np.ndarray]:
        return [np.log2(np.asarray(self.m[c.name]) / np.asarray(self.u[c.name])) for c in COMPARISONS]


@dataclass
class Scores:
    weights: np.ndarray  # (pairs, comparisons) contributions in bits
    total: np.ndarray  # prior log-odds + Σ weights
    probability: np.ndarray


def score_gamma(model: MatchModel, gamma: np.ndarray, tf_shares: dict[str, np.ndarray] | None = None, *, base_size: int | None = None) -> Scores:
    """Weights per pair and comparison; ``tf_shares[column][p]`` is the share of the whole base
    holding the value pair ``p`` agreed on (nan: unknown, the average ``u`` applies);
    ``base_size``: records in the base (the prior, :meth:`MatchModel.pair_prior`)."""
    table = model.weight_table()
    weights = np.zeros(gamma.shape, dtype=np.float64)
    for c, comparison in enumerate(COMPARISONS):
        levels = gamma[:, c]
        present = levels != MISSING
        weights[present, c] = table[c][levels[present]]
        if tf_shares is not None and comparison.tf_level is not None and comparison.tf_column in tf_shares:
            _adjust_for_frequency(model, weights, levels, c, comparison, tf_shares[comparison.tf_column])
    if model.households:
        _discount_correlated(weights, gamma)
    chance = model.pair_prior(base_size)
    prior = math.log2(chance / (1 - chance))
    total = prior + weights.sum(axis=1)
    return Scores(weights=weights, total=total, probability=1.0 / (1.0 + np.exp2(-total)))


def _adjust_for_frequency(model: MatchModel, weights: np.ndarray, levels: np.ndarray, c: int, comparison, all_shares: np.ndarray) -> None:  # noqa: ANN001
    """At the exact level, ``u`` becomes the agreed value's own frequency: a common name agrees
    by chance far more often than a rare one, so it counts less."""
    rows = np.flatnonzero(levels == comparison.tf_level)
    if not len(rows):
        return
    shares = all_shares[rows]
    known = ~np.isnan(shares)
    u_average = model.u[comparison.name][comparison.tf_level]
    m_exact = model.m[comparison.name][comparison.tf_level]
    u_value = np.clip(shares[known], u_average / TF_FLOOR_FACTOR, 1.0)
    weights[rows[known], c] = np.log2(m_exact / u_value)


def _discount_correlated(weights: np.ndarray, gamma: np.ndarray) -> None:
    """Household fields agree together. Normally the strongest counts in full and the others at
    :data:`CORRELATED_SHARE`; when the personal fields say "someone else" (a different first
    name, or a different birth date without the same first name), all of them count at that
    share: same family, not the same person. The address and its area are one place: only the
    stronger of the two counts at all."""
    names = [c.name for c in COMPARISONS]
    address, area = names.index("address"), names.index("area")
    both = (weights[:, address] > 0) & (weights[:, area] > 0)
    weaker = np.where(weights[:, address] < weights[:, area], address, area)
    weights[np.flatnonzero(both), weaker[both]] = 0.0
    group = [names.index(n) for n in CORRELATED]
    block = weights[:, group]
    positive = np.where(block > 0, block, 0.0)
    strongest = positive.argmax(axis=1)
    factor = np.where(block > 0, CORRELATED_SHARE, 1.0)
    first = gamma[:, names.index("first_name")]
    # a different birth date alone is a typo as often as a relative: with the same first name it is not "someone else"
    born = COMPARISONS[names.index("birth_date")]
    # nor is a different first name with the very same birth date (a relative shares it only as a
    # twin), nor a similar first name (a nickname, a typo) with a different one
    birth = gamma[:, names.index("birth_date")]
    someone_else = ((first == 3) & (birth != 0)) | ((birth == len(born.levels) - 1) & (first >= 2))
    rows = np.flatnonzero(~someone_else)
    factor[rows, strongest[rows]] = 1.0
    weights[:, group] = block * factor


def explain(weights_row: np.ndarray, gamma_row: np.ndarray) -> list[dict]:
    """Per-field contributions, strongest evidence first: ``[{"field", "comparison", "weight"}]``."""
    out = []
    for c, comparison in enumerate(COMPARISONS):
        level = int(gamma_row[c])
        if level == MISSING:
            continue
        out.append({"field": comparison.name, "comparison": comparison.levels[level], "weight": round(float(weights_row[c]), 2)})
    return sorted(out, key=lambda e: -abs(e["weight"]))
