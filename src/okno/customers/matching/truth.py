"""Scoring a batch dedupe against known truth: precision/recall/F1, where each missed true pair
is lost, and a precision/recall curve over thresholds.

A true pair (two records of one person) is lost in one of three places:

* **blocking** — the two records never share a blocking key, so they are never compared;
* **scored below 0.5** — compared, but the model's match probability says "someone else"
  (comparison levels, m/u estimates, term frequencies, household discounting);
* **cut by the output threshold** — the model leans to "same person" (p ≥ 0.5) but not as far
  as the threshold asked for.

All figures count pairs (not clusters): a pair is "found" when its own probability reaches the
threshold, as the written pairs file has it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from okno.customers.matching.compare import COMPARISONS, MISSING

CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999)
MODEL_SAYS_MATCH = 0.5


@dataclass
class TruthReport:
    true_pairs: int
    found: int  # pairs at or above the threshold
    hits: int  # of them, true
    threshold: float
    lost_blocking: int
    lost_scored_below: int  # p < 0.5
    lost_output_cut: int  # 0.5 ≤ p < threshold
    curve: list[tuple[float, float, float, float]] = field(default_factory=list)  # (threshold, precision, recall, F1)
    missed_patterns: list[tuple[str, int]] = field(default_factory=list)  # most common comparison levels among pairs compared and missed
    false_patterns: list[tuple[str, int]] = field(default_factory=list)  # ... among pairs found that are not the same person

    @property
    def precision(self) -> float:
        return self.hits / max(self.found, 1)

    @property
    def recall(self) -> float:
        return self.hits / max(self.true_pairs, 1)

    @property
    def f1(self) -> float:
        return f1_of(self.precision, self.recall)

    def as_dict(self) -> dict:
        return {
            "true_pairs": self.true_pairs, "found": self.found, "hits": self.hits, "threshold": self.threshold,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
            "lost": {"blocking": self.lost_blocking, "scored_below_0.5": self.lost_scored_below, "cut_by_output_threshold": self.lost_output_cut},
            "curve": [{"threshold": t, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)} for t, p, r, f in self.curve],
        }  # fmt: skip

    def lines(self) -> list[str]:
        missed = self.true_pairs - self.hits
        out = [
            f"against the truth column: precision {self.precision:.4f}, recall {self.recall:.4f}, F1 {self.f1:.4f} ({self.true_pairs} true pairs, threshold {self.threshold})",
            f"missed true pairs: {missed} — never a candidate (blocking) {self.lost_blocking}, scored below {MODEL_SAYS_MATCH} {self.lost_scored_below}, "
            f"cut by the output threshold {self.lost_output_cut}",
            "precision / recall / F1 by threshold:",
        ]
        out += [f"  p ≥ {t:<7} {p:.4f} / {r:.4f} / {f:.4f}" for t, p, r, f in self.curve]
        if self.missed_patterns:
            out.append("most common comparison levels among compared true pairs scored below the threshold:")
            out += [f"  {count:6d}  {pattern}" for pattern, count in self.missed_patterns]
        if self.false_patterns:
            out.append("most common comparison levels among false pairs at or above the threshold:")
            out += [f"  {count:6d}  {pattern}" for pattern, count in self.false_patterns]
        return out


def f1_of(precision: float, recall: float) -> float:
    return 2 * precision * recall / max(precision + recall, 1e-12)


def truth_report(truth: np.ndarray, li: np.ndarray, ri: np.ndarray, probability: np.ndarray, threshold: float,
                 gamma: np.ndarray | None = None, *, patterns: int = 8) -> TruthReport:  # fmt: skip
    """``truth``: per record, a code of the true person; ``li, ri, probability``: every candidate
    pair and its match probability; ``gamma`` (optional, same rows): their comparison levels."""
    truth = np.asarray(truth, dtype=np.int64)
    sizes = np.bincount(truth) if len(truth) else np.zeros(0, dtype=np.int64)
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    same = truth[li] == truth[ri] if len(li) else np.zeros(0, dtype=bool)
    true_p = probability[same]
    compared = int(same.sum())
    hits = int((true_p >= threshold).sum())
    below = int((true_p < min(threshold, MODEL_SAYS_MATCH)).sum())
    curve = []
    for t in sorted({*CURVE_THRESHOLDS, threshold}):
        found_t = int((probability >= t).sum())
        hits_t = int((true_p >= t).sum())
        p, r = hits_t / max(found_t, 1), hits_t / max(true_pairs, 1)
        curve.append((t, p, r, f1_of(p, r)))
    missed_patterns = _patterns(gamma, same & (probability < threshold), patterns) if gamma is not None else []
    false_patterns = _patterns(gamma, ~same & (probability >= threshold), patterns) if gamma is not None else []
    return TruthReport(
        true_pairs=true_pairs, found=int((probability >= threshold).sum()), hits=hits, threshold=threshold,
        lost_blocking=true_pairs - compared, lost_scored_below=below, lost_output_cut=compared - hits - below,
        curve=curve, missed_patterns=missed_patterns, false_patterns=false_patterns,
    )  # fmt: skip


def _patterns(gamma: np.ndarray, chosen: np.ndarray, top: int) -> list[tuple[str, int]]:
    """The ``top`` commonest combinations of comparison levels among the ``chosen`` pairs."""
    out = []
    for key, count in Counter(map(bytes, gamma[np.flatnonzero(chosen)].astype(np.int8))).most_common(top):
        levels = np.frombuffer(key, dtype=np.int8)
        described = ", ".join(f"{c.name} {c.levels[lv]}" for c, lv in zip(COMPARISONS, levels.tolist(), strict=True) if lv != MISSING)
        out.append((described or "nothing compared", count))
    return out
