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


TRAINING_SESSIONS: tuple[tuple[str, ...], ...] = (("first_name", "last_name"), ("birth_date",), ("address",))


def estimate_m(model: MatchModel, gamma: np.ndarray, *, iterations: int = 25, tolerance: float = 1e-4,
               sessions: list[tuple[tuple[str, ...], np.ndarray]] | None = None, first_name_shares: np.ndarray | None = None) -> MatchModel:  # fmt: skip
    """``m`` by EM over several sessions, as Splink trains: each session takes pairs that agree
    exactly on its own fields, leaves those fields out of the likelihood (the selection can't
    bias what it estimates) and estimates ``m`` of every other comparison; a comparison's ``m``
    is the mean of its estimates over the sessions that estimated it.

    ``sessions``: ``(fields, levels of pairs blocked on exactly those fields)`` — pairs found by
    blocking on the session's own fields (:func:`session_pairs`), so that the other fields of
    its non-matches agree about as often as ``u`` says. Pairs drawn from the matcher's own
    candidates would not do: a candidate shares *some* key (names and city, say), so its
    non-matches agree on that city far more often than random pairs, and EM reads that as
    evidence of a match. Without ``sessions`` (a caller with candidate levels only), the
    sessions select from ``gamma``.

    A session whose likelihood would rest on a single comparison is skipped: with one field
    free, matches and non-matches can't be told apart and EM drifts anywhere.
    ``first_name_shares`` (per row of ``gamma``): the share of the base holding the first
    record's given name, for :func:`anchored_m`.
    Then the candidate-pair prior (:func:`_prior`, from ``gamma``). Returns a new model; ``u`` is unchanged.
    """
    if len(gamma) == 0:
        return model
    names = [c.name for c in COMPARISONS]
    m = {k: list(v) for k, v in model.m.items()}
    if sessions is None:
        sessions = [(fields, gamma[_agreeing(gamma, names, fields)]) for fields in session_fields(gamma)]
    estimates: dict[str, list[np.ndarray]] = {}
    for fields, subset in sessions:
        if len(subset) < MIN_SESSION_PAIRS:
            continue
        free = [c for c, name in enumerate(names) if name not in fields and (subset[:, c] != MISSING).mean() >= MIN_RULE_COVERAGE]
        if len(free) < 2:
            continue
        estimated, _ = _em(subset, m, model.u, free, prior=0.5, iterations=iterations, tolerance=tolerance)
        for c in free:
            estimates.setdefault(names[c], []).append(np.asarray(estimated[names[c]]))
    for name, found in estimates.items():
        m[name] = _floored(np.mean(found, axis=0), FLOOR, DIFFERENT_FLOOR_M)
    for name, shares in anchored_m(gamma, first_name_shares).items():
        m[name] = shares
    return MatchModel(m=m, u=model.u, prior=_prior(gamma, m), review_threshold=model.review_threshold, auto_threshold=model.auto_threshold,
                      household_share=household_share(gamma))  # fmt: skip


def household_share(gamma: np.ndarray) -> float | None:
    """Among candidate pairs at the same address with a first name and a birth date on both
    sides, the share at a different first name *and* a different birth date: another person at
    one address — a relative. The same person's records differ in both only when two fields
    are damaged at once, which is rare; ``None`` when too few such pairs to tell."""
    names = [c.name for c in COMPARISONS]
    first, born, place = (gamma[:, names.index(n)] for n in ("first_name", "birth_date", "address"))
    at_one_address = (place == 0) & (first != MISSING) & (born != MISSING)
    if at_one_address.sum() < MIN_SESSION_PAIRS:
        return None
    different = COMPARISONS[names.index("first_name")].levels.index("different"), COMPARISONS[names.index("birth_date")].levels.index("different")
    return float(((first == different[0]) & (born == different[1]))[at_one_address].mean())


# "Strong agreement" per comparison: the levels at which it all but proves the same person
# on its own account, given the rest agrees (a nickname counts; a shared postcode does).
STRONG: dict[str, tuple[int, ...]] = {"first_name": (0, 1), "last_name": (0, 1), "birth_date": (0,), "phone": (0,), "email": (0,), "address": (0,), "id_number": (0,), "area": (0, 1)}
MIN_ANCHORS = 3  # other comparisons present and strongly agreeing: an anchor pair
MIN_ANCHOR_PAIRS = 50
# A given name held by more of the base than this is no anchor: relatives living together share
# surname and address, and a common given name too more often than one would think (father and
# son, or two cousins, both Aleksandr); only a rarer shared name makes "same person" near certain.
MAX_ANCHOR_NAME_SHARE = 0.002


def anchored_m(gamma: np.ndarray, first_name_shares: np.ndarray | None = None) -> dict[str, list[float]]:
    """``m`` of each comparison as its level shares among *anchor* pairs: candidates on which
    every other comparison present agrees strongly (:data:`STRONG`), at least
    :data:`MIN_ANCHORS` of them. Such pairs are the same person all but always, and how often
    *this* field still disagrees on them is its error rate — whatever the data lacks (no phones,
    no e-mails) and however the blocking chose the pairs. EM is unreliable exactly there: pairs
    sharing a common name and a city (as blocking finds them) agree on the city far more often
    than random pairs do, and EM takes that for evidence of a match. Comparisons with fewer
    than :data:`MIN_ANCHOR_PAIRS` anchors keep the EM estimate.

    With ``first_name_shares`` (per pair, the share of the base holding the first record's given
    name), a given name shared by more than :data:`MAX_ANCHOR_NAME_SHARE` of the base is no
    strong agreement: otherwise relatives of one common name at one address pass for the same
    person, and their different birth dates teach the matcher that a different birth date is
    little evidence against a match. Where that leaves too few anchors, every name counts."""
    names = [c.name for c in COMPARISONS]
    strong = np.stack([np.isin(gamma[:, c], STRONG[n]) for c, n in enumerate(names)], axis=1)
    rare_strong = strong.copy()
    if first_name_shares is not None:
        rare_strong[:, names.index("first_name")] &= np.nan_to_num(first_name_shares, nan=1.0) <= MAX_ANCHOR_NAME_SHARE
    present = gamma != MISSING
    out = {}
    for c, comparison in enumerate(COMPARISONS):
        others = [o for o in range(len(names)) if o != c]
        for agreeing in (rare_strong, strong):
            weak_other = (present[:, others] & ~agreeing[:, others]).any(axis=1)
            anchors = ~weak_other & (agreeing[:, others].sum(axis=1) >= MIN_ANCHORS) & present[:, c]
            if anchors.sum() >= MIN_ANCHOR_PAIRS:
                break
        else:
            continue
        counts = np.bincount(gamma[anchors, c].astype(np.int64), minlength=len(comparison.levels))[: len(comparison.levels)] + PSEUDO_COUNT
        out[comparison.name] = _floored(counts / counts.sum(), FLOOR, DIFFERENT_FLOOR_M)
    return out


def session_fields(gamma: np.ndarray) -> list[tuple[str, ...]]:
    """The sessions' fields: the first of :data:`SELECTORS` that enough candidate pairs agree on
    (e-mail where the data has e-mails, else phone, id number, birth date), then
    :data:`TRAINING_SESSIONS`."""
    names = [c.name for c in COMPARISONS]
    selector = next((s for s in SELECTORS if _agreeing(gamma, names, s).sum() >= MIN_SESSION_PAIRS), None)
    return list(dict.fromkeys([*([selector] if selector else []), *TRAINING_SESSIONS]))


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


def _prior(gamma: np.ndarray, m: dict[str, list[float]] | None = None) -> float:
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
            return float(np.clip(rule(level).mean() / _rule_recall(fields, level, m), 1e-4, 0.5))
    return 1e-4


def _rule_recall(fields: tuple[str, ...], level: dict[str, np.ndarray], m: dict[str, list[float]] | None) -> float:
    """The share of true matches the rule catches. For the names-and-birth-date rule it follows
    from the estimated ``m`` (each field exact, and present: a rule can't fire on a blank) —
    in data full of transliterations, nicknames and date typos it catches far fewer than the
    0.7 assumed for the key rules, and an assumed figure would put the prior off by as much."""
    if m is None or fields != ("first_name", "last_name", "birth_date"):
        return STRICT_RULE_RECALL
    recall = 1.0
    for name in fields:
        recall *= m[name][0] * float((level[name] != MISSING).mean())
    return float(np.clip(recall, 0.05, 1.0))


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
