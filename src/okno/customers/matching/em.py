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
STRICT_RULE_RECALL = 0.7  # assumed share of true matches a strict rule catches, as in Splink's examples (true matches disagree now and then: typos, moves, new numbers)
MAX_LEVELS = max(len(c.levels) for c in COMPARISONS)
MIN_SESSION_PAIRS = 50
# What selects the pairs of the first EM session, in order of preference. Households share a
# phone (and surname, address) but rarely an e-mail, so e-mail comes first.
SELECTORS: tuple[tuple[str, ...], ...] = (("email",), ("email", "phone"), ("id_number",), ("birth_date",))
MIN_RULE_COVERAGE = 0.05  # a strict rule counts where its fields are compared on at least this share of pairs


def _similar(levels: np.ndarray) -> np.ndarray:
    return (levels == 0) | (levels == 1)


STRICT_RULES: tuple[tuple[tuple[str, ...], Callable[[dict[str, np.ndarray]], np.ndarray]], ...] = (
    (("email", "phone"), lambda g: (g["email"] == 0) | ((g["phone"] == 0) & _similar(g["first_name"]))),
    (("id_number",), lambda g: (g["id_number"] == 0) & (_similar(g["first_name"]) | _similar(g["last_name"]))),
    (("first_name", "last_name", "birth_date"), lambda g: (g["first_name"] == 0) & (g["last_name"] == 0) & (g["birth_date"] == 0)),
)


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

    1. pairs agreeing on the first of :data:`SELECTORS` that enough pairs agree on (e-mail,
       where the data has e-mails) → ``m`` of everything else;
    2. pairs with the same first name, last name and birth date (those of them not used in 1)
       → ``m`` of what selected the pairs of 1.
    Returns a new model; ``u`` is unchanged.
    """
    if len(gamma) == 0:
        return model
    names = [c.name for c in COMPARISONS]
    m = {k: list(v) for k, v in model.m.items()}
    selector = next((s for s in SELECTORS if _agreeing(gamma, names, s).sum() >= MIN_SESSION_PAIRS), None)
    if selector is None:
        return MatchModel(m=m, u=model.u, prior=_prior(gamma), review_threshold=model.review_threshold, auto_threshold=model.auto_threshold)
    selected = [names.index(n) for n in selector]
    personal = [n for n in ("first_name", "last_name", "birth_date") if n not in selector]
    sessions = [
        (_agreeing(gamma, names, selector), [c for c in range(len(COMPARISONS)) if c not in selected]),
        (_agreeing(gamma, names, personal), selected),
    ]
    for chosen, free in sessions:  # the comparisons not in ``free`` are left out of the likelihood
        subset = gamma[chosen]
        if len(subset) < MIN_SESSION_PAIRS:
            continue
        estimated, _ = _em(subset, m, model.u, free, prior=0.5, iterations=iterations, tolerance=tolerance)
        for c in free:
            name = COMPARISONS[c].name
            m[name] = _floored(np.asarray(estimated[name]), FLOOR, DIFFERENT_FLOOR_M)
    prior = _prior(gamma)
    return MatchModel(m=m, u=model.u, prior=prior, review_threshold=model.review_threshold, auto_threshold=model.auto_threshold)


def _agreeing(gamma: np.ndarray, names: list[str], fields: tuple[str, ...] | list[str]) -> np.ndarray:
    """Pairs at the exact level of any of ``fields`` if they are e-mail or phone (keys: one
    shared is enough), else of all of them."""
    columns = [gamma[:, names.index(n)] == 0 for n in fields]
    return np.logical_or.reduce(columns) if set(fields) <= {"email", "phone"} else np.logical_and.reduce(columns)


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
    person, divided by the share of true matches that rule is assumed to catch. The rule is the
    first of :data:`STRICT_RULES` whose fields are compared on enough pairs (same e-mail, or
    same phone and first name; else the same id number and a similar name; else the same
    names and birth date). EM's own estimate drifts high: treating fields as independent
    inflates every posterior a little, and millions of pairs add that up."""
    names = [c.name for c in COMPARISONS]
    level = {name: gamma[:, c] for c, name in enumerate(names)}
    for fields, rule in STRICT_RULES:
        compared = np.logical_or.reduce([level[n] != MISSING for n in fields])
        if compared.mean() >= MIN_RULE_COVERAGE:
            return float(np.clip(rule(level).mean() / STRICT_RULE_RECALL, 1e-4, 0.5))
    return 1e-4


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
