"""How many candidates real-time scoring must fetch: where the best-scored candidate and the true
match sit in the blocking ranking, on data the budget was not chosen on.

    .venv/bin/python bench/identity_budget.py                       # five generators, 20,000 records each
    .venv/bin/python bench/identity_budget.py --synthetic 100000    # okno's own generator instead

Per data set (``bench/identity_data.py``'s generators, each with its own error model; or
okno's synthetic records), the first record of each person is the stored base and every later
one a query. Each query is filed, blocked and ranked exactly as ``score_record`` ranks it
(``fields.blocking_keys``, ``block_cap``, ``realtime.rank_candidates``) over the in-memory base,
the first ``--reference`` candidates are scored (``score_candidates``, default model, no term
frequencies), and for each budget N it prints how often the best of the first N is the best of
the reference among queries with candidates (*same best*, and how many differ), and over all
queries how often it is the query's own person (*top-1*) and how often the true match is among
the first N (*true in*)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from okno.customers.matching.columns import map_columns, person_from_row  # noqa: E402
from okno.customers.matching.fields import block_cap, blocking_keys, comparison_fields  # noqa: E402
from okno.customers.matching.model import MatchModel  # noqa: E402
from okno.customers.matching.realtime import rank_candidates, score_candidates  # noqa: E402


def fields_of(rows: list[dict]) -> list[dict]:
    mapping = map_columns([h for h in rows[0] if h not in ("rec_id", "person_id")])
    return [comparison_fields(person_from_row({k: str(v) for k, v in r.items()}, mapping)) for r in rows]


def base_and_queries(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    seen: set = set()
    stored, queries = [], []
    for row in rows:
        (queries if row["person_id"] in seen else stored).append(row)
        seen.add(row["person_id"])
    return stored, queries


def measure(stored_rows: list[dict], query_rows: list[dict], budgets: list[int], reference: int) -> dict:
    stored = fields_of(stored_rows)
    truth = [row["person_id"] for row in stored_rows]
    members: dict[str, list[int]] = {}
    for customer, fields in enumerate(stored):
        for key in blocking_keys(fields):
            members.setdefault(key, []).append(customer)
    model, counts, sizes = MatchModel(), {"queries": 0}, []
    for fields, row in zip(fields_of(query_rows), query_rows, strict=True):
        blocks = {key: members[key] for key in blocking_keys(fields) if key in members and len(members[key]) <= block_cap(key)}
        ranked = rank_candidates(blocks, limit=reference)
        counts["queries"] += 1
        if not ranked:
            continue
        counts["with_candidates"] = counts.get("with_candidates", 0) + 1
        sizes.append(len(ranked))
        scored = score_candidates(model, fields, ranked, [stored[c] for c in ranked], {}, base_size=len(stored))
        position = {c: p for p, c in enumerate(ranked)}
        best = scored[0].customer_id  # scored: best first, ties in ranking order (as score_record orders them)
        true_at = next((p for p, c in enumerate(ranked) if truth[c] == row["person_id"]), None)
        for n in [*budgets, reference]:
            best_n = next(c.customer_id for c in scored if position[c.customer_id] < n)  # what score_record with a budget of n puts first
            counts[f"same {n}"] = counts.get(f"same {n}", 0) + (best_n == best)
            counts[f"top1 {n}"] = counts.get(f"top1 {n}", 0) + (truth[best_n] == row["person_id"])
            counts[f"in {n}"] = counts.get(f"in {n}", 0) + (true_at is not None and true_at < n)
    counts["candidates_mean"] = sum(sizes) / max(len(sizes), 1)
    counts["candidates_max"] = max(sizes, default=0)
    return counts


def report(label: str, c: dict, budgets: list[int], reference: int) -> None:
    q, w = max(c["queries"], 1), max(c.get("with_candidates", 0), 1)
    cells = [f"N={n}: same best {c[f'same {n}'] / w:.4f} ({w - c[f'same {n}']} differ), top-1 {c[f'top1 {n}'] / q:.4f}, true in {c[f'in {n}'] / q:.4f}" for n in budgets]
    print(f"{label}: {c['queries']} queries ({c.get('with_candidates', 0)} with candidates), candidates (up to {reference}) mean {c['candidates_mean']:.1f}, max {c['candidates_max']};"
          f" reference N={reference}: top-1 {c[f'top1 {reference}'] / q:.4f}, true in {c[f'in {reference}'] / q:.4f}")  # fmt: skip
    for cell in cells:
        print(f"  {cell}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="records per generated data set (default 20000)")
    parser.add_argument("--generators", default=None, help="bench/identity_data.py generators, comma-separated (default: all)")
    parser.add_argument("--synthetic", type=int, default=0, help="instead: this many stored people from okno's own generator")
    parser.add_argument("--budgets", default="10,20,30,50,100", help="candidate budgets to compare (default 10,20,30,50,100)")
    parser.add_argument("--reference", type=int, default=200, help="the budget compared against (default 200, the old one)")
    parser.add_argument("--queries", type=int, default=2000, help="queries per data set (default 2000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",")]
    results = {}
    if args.synthetic:
        from okno.customers.matching.synthetic import generate_records

        stored, queries = base_and_queries(generate_records(int(args.synthetic / 0.7) + 1000, duplicate_share=0.3, seed=args.seed))
        stored = stored[: args.synthetic]
        kept = {row["person_id"] for row in stored}
        sets = {f"synthetic {args.synthetic} (seed {args.seed})": (stored, [q for q in queries if q["person_id"] in kept])}
    else:
        sys.path.append(str(ROOT / "bench"))
        import identity_data

        names = args.generators.split(",") if args.generators else list(identity_data.RECIPES)
        sets = {f"{name} {args.size}": base_and_queries(identity_data.generate(name, args.size, seed=args.seed)) for name in names}
    for label, (stored, queries) in sets.items():
        results[label] = measure(stored, queries[: args.queries], budgets, args.reference)
        report(label, results[label], budgets, args.reference)
    return results


if __name__ == "__main__":
    main()
