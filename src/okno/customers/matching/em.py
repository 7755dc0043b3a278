"""Parameters estimated from the data itself.

``u`` (how often non-matches agree by chance) comes from random record pairs, which are
almost all non-matches. ``m`` and the candidate-pair prior come from expectation–maximisation
over the blocked candidate pairs, holding ``u`` fixed (the usual, stable recipe).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from okno.customers.matching.compare import COMPARISONS, MISSING
from okno.customers.matching.model import MatchModel

PSEUDO_COUNT = 1.0
FLOOR = 1e-4  # no level is ever impossible: caps any single field at log2(1/1e-4) ≈ 13 bits
DIFFERENT_FLOOR_M = 0.01
STRICT_RULE_RECALL = 0.7  # assumed share of true matches that share an e-mail or a phone (as in Splink's examples)  # true matches do disagree now and then (typos, moves, new numbers)
MAX_LEVELS = max(len(c.levels) for c in COMPARISONS)


def estimate_u(size: int, compare: Callable[[np.ndarray, np.ndarray], np.ndarray], *, sample: int = 200_000, seed: int = 7) -> dict[str, list[float]]:
    """``u`` from ``sample`` random pairs of ``size`` records; ``compare(li, ri)`` gives their levels."""
    rng = np.random.default_rng(seed)
    if size < 2:
        return {}
    li, ri = rng.integers(0, size, sample), rng.integers(0, size, sample)
    keep = li != ri
    gamma = compare(li[keep], ri[keep])
    return _level_shares(gamma, np.ones(len(gamma)))


def estimate_m(model: MatchModel, gamma: np.ndarray, *, iterations: int = 25, tolerance: float = 1e-4) -> MatchModel:
    """``m`` in two EM sessions, each on pairs selected by fields it then leaves out of the
    likelihood (so the selection can't bias what it estimates), then the candidate-pair prior.

    1. pairs sharing an e-mail (a phone, if too few do) → ``m`` of everything but e-mail;
    2. pairs with the same first name, last name and birth date → ``m`` of e-mail.
    Returns a new model; ``u`` is unchanged.
    """
    if len(gamma) == 0:
        return model
    names = [c.name for c in COMPARISONS]
    phone, email = names.index("phone"), names.index("email")
    first, last, born = names.index("first_name"), names.index("last_name"), names.index("birth_date")
    m = {k: list(v) for k, v in model.m.items()}
    # Households share a phone (and surname, address) but rarely an e-mail: select by e-mail.
    by_email = gamma[:, email] == 0
    if by_email.sum() < 50:
        by_email |= gamma[:, phone] == 0
    sessions = [
        (by_email, [email]),
        ((gamma[:, first] == 0) & (gamma[:, last] == 0) & (gamma[:, born] == 0), [c for c in range(len(COMPARISONS)) if c != email]),
    ]
    for selected, fixed in sessions:
        subset = gamma[selected]
        if len(subset) < 50:
            continue
        free = [c for c in range(len(COMPARISONS)) if c not in fixed]  # the rest are left out of the likelihood
        estimated, _ = _em(subset, m, model.u, free, prior=0.5, iterations=iterations, tolerance=tolerance)
        for c in free:
            name = COMPARISONS[c].name
            m[name] = _floored(np.asarray(estimated[name]), FLOOR, DIFFERENT_FLOOR_M)
    prior = _prior(gamma)
    return MatchModel(m=m, u=model.u, prior=prior, review_threshold=model.review_threshold, auto_threshold=model.auto_threshold)


def _em(gamma: np.ndarray, m: dict, u: dict, free: list[int], *, prior: float, iterations: int, tolerance: float) -> tuple[dict, float]:
    m = {k: list(v) for k, v in m.items()}
    log_u = _log_table(u)
    for _ in range(iterations):
        log_m = _log_table(m)
        score = np.log(prior) - np.log1p(-prior) + _sum_logs(gamma, log_m, free) - _sum_logs(gamma, log_u, free)
        posterior = 1.0 / (1.0 + np.exp(-np.clip(score, -60, 60)))
        new_prior = float(np.clip(posterior.mean(), 1e-4, 0.9999))
        shares = _level_shares(gamma, posterior)
        change = abs(new_prior - prior)
        for c in free:
            name = COMPARISONS[c].name
            change = max(change, *(abs(a - b) for a, b in zip(shares[name], m[name], strict=True)))
            m[name] = shares[name]
        prior = new_prior
        if change < tolerance:
            break
    return m, prior


def _prior(gamma: np.ndarray) -> float:
    """The match share among candidate pairs, Splink's way: pairs a strict rule calls the same
    person (same e-mail, or same phone and first name), divided by the share of true matches
    that rule is assumed to catch. EM's own estimate drifts high: treating fields as
    independent inflates every posterior a little, and millions of pairs add that up."""
    names = [c.name for c in COMPARISONS]
    phone, email, first = names.index("phone"), names.index("email"), names.index("first_name")
    sure = (gamma[:, email] == 0) | ((gamma[:, phone] == 0) & (gamma[:, first] >= 0) & (gamma[:, first] <= 1))
    return float(np.clip(sure.mean() / STRICT_RULE_RECALL, 1e-4, 0.5))


def _level_shares(gamma: np.ndarray, weight: np.ndarray) -> dict[str, list[float]]:
    shares = {}
    for c, comparison in enumerate(COMPARISONS):
        levels = gamma[:, c]
        present = levels != MISSING
        counts = np.bincount(levels[present].astype(np.int64), weights=weight[present], minlength=len(comparison.levels))
        counts = counts[: len(comparison.levels)] + PSEUDO_COUNT * 1e-3
        shares[comparison.name] = _floored(counts / counts.sum(), FLOOR)
    return shares


def _floored(shares: np.ndarray, floor: float, last_floor: float | None = None) -> list[float]:
    values = np.maximum(shares, floor)
    if last_floor is not None:
        values[-1] = max(values[-1], last_floor)
    return [float(x) for x in values / values.sum()]


def _log_table(values: dict[str, list[float]]) -> np.ndarray:
    """``(comparisons, MAX_LEVELS + 1)``; the last column (index -1 = missing) is 0."""
    table = np.zeros((len(COMPARISONS), MAX_LEVELS + 1))
    for c, comparison in enumerate(COMPARISONS):
        table[c, : len(comparison.levels)] = np.log(np.asarray(values[comparison.name]))
    return table


def _sum_logs(gamma: np.ndarray, table: np.ndarray, columns: list[int]) -> np.ndarray:
    total = np.zeros(len(gamma))
    for c in columns:
        total += table[c][gamma[:, c].astype(np.int64)]  # MISSING (-1) picks the zero column
    return total
