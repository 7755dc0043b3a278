"""Recall without phones or e-mails: generated household data with known truth must keep a
recall floor at the default file threshold; nicknames and initials count as similar names; the
truth-column breakdown says where each missed pair was lost, and its parts add up."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from okno.cli import app as cli
from okno.customers.cli import SAME_PERSON_THRESHOLD
from okno.customers.matching.batch import candidate_pairs, dedupe
from okno.customers.matching.columns import map_columns, person_from_row
from okno.customers.matching.compare import COMPARISONS, Frame, compare_pairs
from okno.customers.matching.fields import RawPerson, blocking_keys, comparison_fields
from okno.customers.matching.synthetic import generate_records
from okno.customers.matching.truth import truth_report

COLUMNS = ["rec_id", "person_id", "first_name", "last_name", "birth_date", "city", "address", "postcode"]  # no phone, no e-mail
LEVEL = {c.name: {name: level for level, name in enumerate(c.levels)} for c in COMPARISONS}


def _households(n: int = 4000, seed: int = 5) -> list[dict]:
    return [{k: str(r[k]) for k in COLUMNS} for r in generate_records(n, duplicate_share=0.3, household_share=0.2, seed=seed)]


def _fields(rows: list[dict]) -> list[dict]:
    mapping = map_columns([c for c in COLUMNS if c not in ("rec_id", "person_id")])
    return [comparison_fields(person_from_row(row, mapping)) for row in rows]


def _truth(rows: list[dict]) -> np.ndarray:
    return np.unique([r["person_id"] for r in rows], return_inverse=True)[1]


def test_households_without_phones_or_emails_keep_a_recall_floor() -> None:
    rows = _households()
    truth = _truth(rows)
    result = dedupe(_fields(rows), threshold=SAME_PERSON_THRESHOLD, keep_candidates=True)
    li, ri, probability, gamma = result.candidates
    report = truth_report(truth, li, ri, probability, SAME_PERSON_THRESHOLD, gamma)
    assert report.true_pairs > 1000
    assert report.recall >= 0.90 and report.precision >= 0.90, report.lines()
    assert report.lost_blocking / report.true_pairs < 0.03, report.lines()  # blocking survives one typo in a field
    # m without phones or e-mails did not collapse: a different birth date is evidence against
    assert result.model.m["birth_date"][-1] < 0.35 and result.model.match_rate is not None


def test_a_common_first_name_and_surname_alone_is_not_the_same_person() -> None:
    rows = _households()
    fields = _fields(rows)
    result = dedupe(fields, threshold=0.0, keep_candidates=True)
    li, ri, probability, gamma = result.candidates
    names_only = (gamma[:, 0] == 0) & (gamma[:, 1] == 0) & (gamma[:, 2] == LEVEL["birth_date"]["different"]) & (gamma[:, 5] != LEVEL["address"]["same address"]) & (gamma[:, 7] >= LEVEL["area"]["same city"])
    assert names_only.sum() > 50
    assert float(np.quantile(probability[names_only], 0.9)) < SAME_PERSON_THRESHOLD


def test_nicknames_and_initials_are_similar_names_and_share_blocking_keys() -> None:
    a = comparison_fields(RawPerson(first_name="Саша", last_name="Петров", birth_date="1990-04-01"))
    b = comparison_fields(RawPerson(first_name="Aleksandr", last_name="Petrov", birth_date="1990-04-01"))
    c = comparison_fields(RawPerson(first_name="Bill", last_name="Smith", birth_date="1980-01-02"))
    d = comparison_fields(RawPerson(first_name="William", last_name="Smith", birth_date="1980-01-02"))
    e = comparison_fields(RawPerson(first_name="W", last_name="Smith", birth_date="1980-01-02"))
    frame = Frame([a, b, c, d, e])
    gamma = compare_pairs(frame, frame, np.array([0, 2, 3]), np.array([1, 3, 4]))
    assert gamma[0, 0] == LEVEL["first_name"]["similar"] and gamma[1, 0] == LEVEL["first_name"]["similar"]
    assert gamma[2, 0] == LEVEL["first_name"]["somewhat similar"]
    assert {k for k in blocking_keys(a) & blocking_keys(b) if k.startswith(("n:", "fb:"))}  # a nickname files under its full name
    li, ri, _ = candidate_pairs([a, b, c, d])
    assert {(0, 1), (2, 3)} <= set(zip(li.tolist(), ri.tolist(), strict=True))


def test_blocking_survives_one_typo_in_any_single_field() -> None:
    person = {"first_name": "Marina", "last_name": "Kuznetsova", "birth_date": "1984-07-21", "postcode": "630112", "city": "Novosibirsk", "address": "ul Lenina 5 kv 12"}
    typos = {"first_name": "Mraina", "last_name": "Kuzentsova", "birth_date": "1948-07-21", "postcode": "631012", "city": "Novosibrsk", "address": "ul Lenian 5 kv 12"}
    original = comparison_fields(RawPerson(**person))
    for field, wrong in typos.items():
        for other in typos:  # and one more field missing
            changed = {**person, field: wrong} | ({other: ""} if other != field else {})
            assert blocking_keys(original) & blocking_keys(comparison_fields(RawPerson(**changed))), (field, other)


def test_the_truth_column_prints_where_missed_pairs_were_lost(tmp_path: Path) -> None:
    rows = _households(2500, seed=8)
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(cli, ["customers", "dedupe", "--input", str(path), "--id-column", "rec_id", "--output", str(tmp_path / "pairs.csv"),
                                      "--truth-column", "person_id", "--threshold", "0.9"])  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = re.search(r"precision ([\d.]+), recall ([\d.]+), F1 ([\d.]+) \((\d+) true pairs, threshold 0.9\)", result.output)
    lost = re.search(r"missed true pairs: (\d+) — never a candidate \(blocking\) (\d+), scored below 0.5 (\d+), cut by the output threshold (\d+)", result.output)
    assert scored and lost, result.output
    missed, blocking, below, cut = map(int, lost.groups())
    assert missed == blocking + below + cut and missed == round(int(scored[4]) * (1 - float(scored[2])))
    curve = re.findall(r"p ≥ ([\d.]+)\s+([\d.]+) / ([\d.]+) / ([\d.]+)", result.output)
    recalls = [float(r) for _, _, r, _ in curve]
    assert len(curve) >= 10 and recalls == sorted(recalls, reverse=True)  # recall falls as the threshold rises
    pairs = list(csv.DictReader((tmp_path / "pairs.csv").open(encoding="utf-8")))
    assert pairs and min(float(p["score"]) for p in pairs) >= 0.9


def test_an_estimated_match_rate_calibrates_real_time_scores_and_survives_saving() -> None:
    from okno.customers.matching.model import MatchModel, score_gamma
    from okno.customers.matching.profiles import TERM_FIELDS

    model = MatchModel.from_params({**MatchModel(match_rate=0.4).params()})
    assert model.match_rate == 0.4 and abs(model.pair_prior(1_000_001) - 0.4e-6) < 1e-12
    names_only = np.full((1, len(COMPARISONS)), -1, dtype=np.int8)
    names_only[0, 0] = names_only[0, 1] = 0  # the same first name and surname, nothing else known
    common = {c: np.array([0.02]) for c in TERM_FIELDS}  # each held by 2 % of the base
    at_1m = score_gamma(model, names_only, common, base_size=1_000_000).probability[0]
    assert at_1m < 0.01 < model.review_threshold
    everything = np.array([[0, 0, 0, -1, -1, 0, -1, 0]], dtype=np.int8)  # names, birth date, address and postcode agree
    assert score_gamma(model, everything, common, base_size=1_000_000).probability[0] > model.review_threshold
    assert score_gamma(model, names_only, common).probability[0] == score_gamma(MatchModel(), names_only, common).probability[0]  # no base size: the fixed prior


def test_relatives_of_a_common_given_name_are_no_anchor_for_the_birth_date() -> None:
    """Anchor pairs agree strongly on everything but the field measured. Relatives at one
    address who share a common given name look like that too; counted as anchors, their
    different birth dates would make a different birth date little evidence against a match."""
    from okno.customers.matching.em import MAX_ANCHOR_NAME_SHARE, anchored_m

    names = [c.name for c in COMPARISONS]
    born, diff = LEVEL["birth_date"], LEVEL["birth_date"]["different"]

    def pairs(count: int, birth_level: int) -> np.ndarray:
        gamma = np.full((count, len(names)), -1, dtype=np.int8)
        gamma[:, names.index("first_name")] = 0
        gamma[:, names.index("last_name")] = 0
        gamma[:, names.index("address")] = LEVEL["address"]["same address"]
        gamma[:, names.index("birth_date")] = birth_level
        return gamma

    same_person = np.concatenate([pairs(900, born["exact"]), pairs(80, born["one typo or day/month swapped"]), pairs(20, diff)])
    relatives = pairs(600, diff)  # father and son, both of the commonest given name
    gamma = np.concatenate([same_person, relatives])
    shares = np.r_[np.full(len(same_person), MAX_ANCHOR_NAME_SHARE / 4), np.full(len(relatives), 0.03)]
    assert anchored_m(gamma)["birth_date"][diff] > 0.35  # every shared name counted: the relatives poison m
    assert anchored_m(gamma, shares)["birth_date"][diff] < 0.03  # only rarer names anchor
    # where rare names leave too few anchors, every name counts again (small bases)
    assert anchored_m(gamma[:1200], np.full(1200, 0.03))["birth_date"][diff] > 0.1


def test_the_household_discount_follows_the_households_the_data_holds() -> None:
    from okno.customers.matching.em import household_share
    from okno.customers.matching.model import MatchModel, score_gamma

    def at_one_address(count: int, someone_else: int) -> np.ndarray:
        gamma = np.full((count, len(COMPARISONS)), -1, dtype=np.int8)
        gamma[:, 0], gamma[:, 1], gamma[:, 2], gamma[:, 5] = LEVEL["first_name"]["exact"], 0, LEVEL["birth_date"]["exact"], LEVEL["address"]["same address"]
        gamma[:someone_else, 0], gamma[:someone_else, 2] = LEVEL["first_name"]["different"], LEVEL["birth_date"]["different"]
        return gamma

    assert household_share(at_one_address(10, 5)) is None  # too few pairs to tell
    families, no_families = household_share(at_one_address(400, 160)), household_share(at_one_address(400, 2))
    assert families == 0.4 and no_families == 0.005
    # a surname and an address in common, another first name, no birth date: a relative where
    # families live together, the same person's damaged record where none do
    pair = np.full((1, len(COMPARISONS)), -1, dtype=np.int8)
    pair[0, 0], pair[0, 1], pair[0, 5] = LEVEL["first_name"]["different"], LEVEL["last_name"]["exact"], LEVEL["address"]["same address"]
    with_families, without = MatchModel(household_share=families), MatchModel(household_share=no_families)
    assert with_families.households and not without.households and MatchModel().households  # not estimated: households assumed
    assert score_gamma(without, pair).total[0] > score_gamma(with_families, pair).total[0] + 5
    assert MatchModel.from_params(without.params()).household_share == no_families  # saved with the model


def test_generated_households_keep_the_discount() -> None:
    result = dedupe(_fields(_households()), threshold=SAME_PERSON_THRESHOLD)
    assert result.model.household_share is not None and result.model.households, result.model.household_share
