"""Splink 5 on one labelled CSV, set up as Splink's documentation sets up person data, for
``bench/identity.py``. Run with an interpreter that can ``import splink`` (the ``bench`` extra):

    python bench/splink_run.py FILE THRESHOLD generated|febrl [--no-ssn]

``generated``: records already folded by okno (``unique_id, person_id, first_name, surname, dob,
city, address, postcode, phone, email`` — Splink has no Cyrillic transliteration, so it gets the
same Latin spellings okno compares), set up as Splink's "deduplicate 50k historical persons"
example: the forename-surname comparison with term frequencies on the concatenated name, the
date-of-birth comparison, exact postcode and city with term frequencies (the postcodes are mostly
Russian six-digit ones, which Splink's UK-shaped PostcodeComparison can't split into areas),
Jaro-Winkler on address, e-mail and phone when present; the example's blocking rules (postcode
and city standing in for its postcode and birth place) plus address, phone and e-mail; the prior
from the example's three deterministic rules at recall 0.6; u by random sampling of 10⁷ pairs;
EM blocked on names, then on date of birth, then on postcode. ``febrl``: Splink's own FEBRL3
example (without the SSN blocking rule, comparison and training rule when ``--no-ssn``), with
the address and suburb it leaves out compared by Jaro-Winkler and blocked on, term frequencies
on both names, and u from 10⁷ pairs. Prints one JSON line.
"""

import json
import sys
import time
from pathlib import Path

# off the path: no script of bench/ may shadow a standard-library module (an email.py once did)
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import duckdb  # noqa: E402
import splink  # noqa: E402
import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

path, threshold, data = sys.argv[1], float(sys.argv[2]), sys.argv[3]
no_ssn = "--no-ssn" in sys.argv
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{path}', all_varchar = true)")
present = {r[0] for r in con.execute("DESCRIBE raw").fetchall()}


def people_table(id_column: str, columns: tuple[str, ...]):  # noqa: ANN201
    columns = tuple(c for c in columns if c in present and con.execute(f"SELECT count(*) FROM raw WHERE trim({c}) <> ''").fetchone()[0])  # blank: absent
    con.execute(
        f"CREATE TABLE people AS SELECT {id_column} AS unique_id, "
        + ", ".join(f"nullif(trim({c}), '') AS {c}" for c in columns)
        + " FROM raw"
    )
    return DuckDBAPI(con).register("people"), columns


if data == "generated":  # set up as Splink's person-data example (deduplicate_50k_synthetic) sets it up
    people, columns = people_table("unique_id", ("first_name", "surname", "dob", "phone", "email", "city", "address", "postcode"))
    con.execute("CREATE TABLE people_named AS SELECT *, first_name || ' ' || surname AS first_name_surname_concat FROM people")
    people = DuckDBAPI(con).register("people_named")
    comparisons = [cl.ForenameSurnameComparison("first_name", "surname", forename_surname_concat_col_name="first_name_surname_concat"),
                   cl.DateOfBirthComparison("dob", input_is_string=True)]  # fmt: skip
    blocking = [block_on("substr(first_name, 1, 3)", "substr(surname, 1, 4)"), block_on("surname", "dob"), block_on("first_name", "dob"),
                block_on("substr(first_name, 1, 2)", "substr(surname, 1, 2)", "substr(dob, 1, 4)")]  # fmt: skip
    same_person = [block_on("first_name", "surname", "dob")]
    training = [block_on("first_name", "surname"), block_on("dob")]
    if "postcode" in columns:
        comparisons.append(cl.ExactMatch("postcode").configure(term_frequency_adjustments=True))
        blocking += [block_on("postcode", "first_name"), block_on("postcode", "surname"), block_on("substr(postcode, 1, 3)", "dob"),
                     block_on("substr(postcode, 1, 3)", "first_name"), block_on("substr(postcode, 1, 3)", "surname")]  # fmt: skip
        same_person += [block_on("substr(first_name, 1, 2)", "surname", "substr(postcode, 1, 2)"), block_on("dob", "postcode")]
        training.append(block_on("postcode"))
    if "city" in columns:
        comparisons.append(cl.ExactMatch("city").configure(term_frequency_adjustments=True))
        blocking.append(block_on("dob", "city"))
    if "address" in columns:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.9, 0.7]))
        blocking.append(block_on("address"))
    if "phone" in columns:
        comparisons.append(cl.LevenshteinAtThresholds("phone", 1))
        blocking.append(block_on("phone"))
    if "email" in columns:
        comparisons.append(cl.EmailComparison("email"))
        blocking.append(block_on("email"))
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking,
                               retain_intermediate_calculation_columns=False)  # fmt: skip
    linker = Linker(people, settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(same_person, recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    for rule in training:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
else:  # FEBRL as published, set up the way Splink's own FEBRL3 example sets it up
    people, columns = people_table(
        "rec_id", ("given_name", "surname", "street_number", "address_1", "suburb", "postcode", "date_of_birth", "soc_sec_id")
    )
    use_ssn = "soc_sec_id" in columns and not no_ssn
    blocking = [
        block_on(c)
        for c in (("soc_sec_id",) if use_ssn else ())
        + ("given_name", "surname", "date_of_birth", "postcode", "address_1", "suburb")
    ]
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        *([cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2])] if use_ssn else []),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
    ]  # fmt: skip
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking,
                               retain_intermediate_calculation_columns=False)  # fmt: skip
    linker = Linker(people, settings, log_level=40)
    same_person = [*([block_on("soc_sec_id")] if use_ssn else []), block_on("given_name", "surname", "date_of_birth"),
                   "l.given_name = r.surname AND l.surname = r.given_name AND l.date_of_birth = r.date_of_birth"]  # fmt: skip
    linker.training.estimate_probability_two_random_records_match(same_person, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
predictions = linker.inference.predict(threshold_match_probability=threshold)
found_rows = con.execute(f"SELECT unique_id_l, unique_id_r FROM {predictions.physical_name}").fetchall()
seconds = time.perf_counter() - started
truth_of = dict(con.execute(f"SELECT {'unique_id' if data == 'generated' else 'rec_id'}, person_id FROM raw").fetchall())
found = {tuple(sorted(pair)) for pair in found_rows}
groups: dict = {}
for uid, pid in truth_of.items():
    groups.setdefault(pid, []).append(uid)
truth = {tuple(sorted((m[i], m[j]))) for m in groups.values() for i in range(len(m)) for j in range(i + 1, len(m))}
hits = len(found & truth)
precision, recall = hits / max(len(found), 1), hits / max(len(truth), 1)
print(
    json.dumps(
        {
            "version": splink.__version__,
            "seconds_in_process": round(seconds, 1),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "F1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
        }
    )
)
