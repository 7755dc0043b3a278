"""Files shaped like the FEBRL record-linkage benchmark: no phones or e-mails, dates written
yyyymmdd, a social security number, the address in parts, the suburb as the city. Their
columns are recognised, their duplicates are blocked by birth date and postcode or by the id
number when the names changed, and the model is estimated without e-mails or phones."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from okno.cli import app as cli
from okno.customers.cli import SAME_PERSON_THRESHOLD
from okno.customers.matching.batch import dedupe
from okno.customers.matching.columns import map_columns
from okno.customers.matching.compare import COMPARISONS, Frame, compare_pairs
from okno.customers.matching.fields import RawPerson, blocking_keys, comparable_id, comparison_fields, normalize_date
from okno.customers.matching.loading import csv_headers, load_table
from okno.customers.matching.model import DEFAULT_M
from tests.identity.helpers import write_csv

HEADERS = ["rec_id", " given_name", " surname", " street_number", " address_1", " address_2", " suburb", " postcode", " state", " date_of_birth", " soc_sec_id"]
GIVEN = "mitchell harley madeline isabelle taylor toby harry lydia hollie dylan connor isabella jack emily liam chloe noah ruby oscar grace".split()
SURNAMES = "green mccarthy mason webb stubs lillie zilm donaldson vincent bishop shepherd nguyen louka ottens herno frahn kolegate kames ebdell morkom".split()
STREETS = "wallaby place|pridham street|hoseason street|gundulu place|yuranigh court|kent street|mountain creek road|mckillop circuit".split("|")
SUBURBS = "cleveland marsden granville utakarra towradgi eaton corio banyo aspley charmhaven".split()
LEVEL = {c.name: {name: level for level, name in enumerate(c.levels)} for c in COMPARISONS}


def _mistyped(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :] if rng.random() < 0.5 else text[:i] + rng.choice("aeiou") + text[i + 1 :]


def _febrl_like(seed: int = 4) -> tuple[list[dict[str, str]], set[tuple[str, str]]]:
    """1,200 records of 900 people; returns them and the pairs whose surname changed and given
    name went missing (no name key can bring those together; each of the two new keys is the
    only one for half of them)."""
    rng = random.Random(seed)
    people = []
    for n in range(900):
        people.append({
            "rec_id": f"rec-{n}-org", " given_name": rng.choice(GIVEN), " surname": rng.choice(SURNAMES) + rng.choice(["", "s", "er", "ley"]),
            " street_number": str(rng.randrange(1, 200)), " address_1": rng.choice(STREETS), " address_2": rng.choice(["", "", "rowethorpe", "pacific terraces"]),
            " suburb": rng.choice(SUBURBS), " postcode": str(rng.randrange(2000, 8000)), " state": rng.choice(["nsw", "vic", "qld"]),
            " date_of_birth": f"{rng.randrange(1920, 2005)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}", " soc_sec_id": str(rng.randrange(10**6, 10**7)),
        })  # fmt: skip
    rows, renamed = list(people), set()
    for d in range(300):
        original = people[d]
        copy = dict(original, rec_id=f"rec-{d}-dup-0")
        if d < 40:  # married and the given name lost: no name key joins them
            copy[" surname"] = next(s for s in SURNAMES if s[0] != original[" surname"][0])
            copy[" given_name"] = ""
            if d < 20:  # ... and no id number: only birth date + postcode does
                copy[" soc_sec_id"] = ""
            else:  # ... and a mistyped postcode: only the id number does
                copy[" postcode"] = original[" postcode"][:2] + original[" postcode"][3] + original[" postcode"][2]
            renamed.add(tuple(sorted((original["rec_id"], copy["rec_id"]))))
        else:
            field = rng.choice([" given_name", " surname", " date_of_birth", " postcode", " soc_sec_id", " address_1"])
            copy[field] = _mistyped(copy[field], rng)
        rows.append(copy)
    rng.shuffle(rows)
    return rows, renamed


def test_febrl_columns_are_recognised() -> None:
    mapping = map_columns(HEADERS[1:])
    assert mapping == {
        "first_name": [" given_name"], "last_name": [" surname"], "address": [" street_number", " address_1", " address_2"],
        "city": [" suburb"], "postcode": [" postcode"], "birth_date": [" date_of_birth"], "id_number": [" soc_sec_id"],
    }  # fmt: skip
    for header, field in (("SSN", "id_number"), ("national-id", "id_number"), ("СНИЛС", "id_number"), ("Date of Birth", "birth_date"), ("Last Name", "last_name")):
        assert map_columns([header]) == {field: [header]}


def test_yyyymmdd_dates_and_id_numbers_normalise() -> None:
    assert normalize_date("19560409") == "1956-04-09" and normalize_date("19551192") == ""  # a typo that is no date is missing
    assert comparable_id(" 123-45-6789 ") == "123456789" and comparable_id("ab 12") == "AB12"
    assert comparable_id("n/a") == comparable_id("000-00-0000") == comparable_id("") == ""
    fields = comparison_fields(RawPerson(first_name="Mitchell", last_name="Green", birth_date="19560409", postcode="2119", id_number="180-4974"))
    assert fields["birth_date"] == "1956-04-09" and fields["id_number"] == "1804974"
    assert {"bz:1956-04-09:2119", "i:1804974"} <= blocking_keys(fields)


@pytest.mark.parametrize(
    ("left", "right", "comparison", "level"),
    [
        ({"birth_date": "1956-04-09"}, {"birth_date": "1965-04-09"}, "birth_date", "one typo or day/month swapped"),  # two digits swapped
        ({"birth_date": "1956-04-09"}, {"birth_date": "1965-04-19"}, "birth_date", "different"),
        ({"birth_date": "1990-03-09"}, {"birth_date": "1990-03-11"}, "birth_date", "within a month"),  # two days on: two digits differ
        ({"birth_date": "1989-12-30"}, {"birth_date": "1990-01-02"}, "birth_date", "within a month"),  # across a new year
        ({"birth_date": "1989-06-15"}, {"birth_date": "1990-06-15"}, "birth_date", "same day and month, another year"),  # across a decade
        ({"birth_date": "1990-06-15"}, {"birth_date": "2000-06-15"}, "birth_date", "same day and month, another year"),  # a mistyped decade
        ({"birth_date": "1989-06-15"}, {"birth_date": "1990-02-10"}, "birth_date", "within a year"),
        ({"birth_date": "1989-06-15"}, {"birth_date": "1991-07-15"}, "birth_date", "different"),
        ({"postcode": "2119", "city": "cleveland"}, {"postcode": "2191", "city": "marsden"}, "area", "postcode one typo"),
        ({"postcode": "2119", "city": "cleveland"}, {"postcode": "2119", "city": "clevelamd"}, "area", "same postcode and city"),
        ({"postcode": "2119", "city": "cleveland"}, {"postcode": "2119", "city": "marsden"}, "area", "same postcode"),
        ({"address": "21 brewster place"}, {"address": "brewster plase 21"}, "address", "same address"),  # another order, a typo
        ({"address": "21 brewster place summerdale medical centre"}, {"address": "21 brewster place"}, "address", "similar address"),  # a part left out
        ({"address": "1 wellington street kinross farm"}, {"address": "1 kinross farm wellingtonnstreet"}, "address", "somewhat similar address"),
        ({"address": "21 brewster place"}, {"address": "12 wallaby way"}, "address", "different"),
        ({"address": "21 brewster place", "postcode": "2119"}, {"address": "21 brewster place", "postcode": "4507"}, "area", "different"),  # counted apart
        ({"postcode": "2119", "city": "cleveland"}, {"postcode": "2991", "city": "cleveland"}, "area", "same city"),
        ({"id_number": "1804974"}, {"id_number": "1804974"}, "id_number", "same"),
        ({"id_number": "1804974"}, {"id_number": "1809474"}, "id_number", "one typo or two characters swapped"),
        ({"id_number": "1804974"}, {"id_number": "1809475"}, "id_number", "two typos"),
        ({"id_number": "1804974"}, {"id_number": "6089216"}, "id_number", "different"),
    ],
)
def test_comparison_levels_for_typos_in_dates_postcodes_and_id_numbers(left: dict, right: dict, comparison: str, level: str) -> None:
    frame = Frame([left, right])
    gamma = compare_pairs(frame, frame, np.array([0]), np.array([1]))
    column = [c.name for c in COMPARISONS].index(comparison)
    assert gamma[0, column] == LEVEL[comparison][level]


def test_a_febrl_shaped_file_is_deduplicated_without_phones_or_emails(tmp_path: Path) -> None:
    rows, renamed = _febrl_like()
    path = write_csv(rows, tmp_path / "febrl.csv", HEADERS)
    headers, _ = csv_headers(path)  # the padding of the headers is dropped as the file is read
    mapping = map_columns([h for h in headers if h != "rec_id"])
    loaded = load_table(path, mapping, id_column="rec_id", truth_column=None)
    result = dedupe(loaded.table, threshold=SAME_PERSON_THRESHOLD)  # the file default
    found = {tuple(sorted((loaded.ids[a], loaded.ids[b]))) for a, b in result.pairs.tolist()}
    truth = {tuple(sorted((f"rec-{d}-org", f"rec-{d}-dup-0"))) for d in range(300)}
    assert renamed <= found  # blocked only by birth date + postcode or by the id number
    assert len(found & truth) / len(truth) > 0.95 and len(found & truth) / len(found) > 0.98, (len(found & truth), len(found))
    assert result.model.prior > 0.01  # the strict rule without e-mails and phones: same id number and a similar name
    assert result.model.m["first_name"] != DEFAULT_M["first_name"] and result.model.m["id_number"] != DEFAULT_M["id_number"]  # EM ran


def test_the_cli_reads_a_febrl_file_without_a_map(tmp_path: Path) -> None:
    rows, renamed = _febrl_like()
    path = write_csv(rows, tmp_path / "febrl.csv", HEADERS)
    result = CliRunner().invoke(cli, ["customers", "dedupe", "--input", str(path), "--id-column", "rec_id", "--output", str(tmp_path / "pairs.csv")])
    assert result.exit_code == 0, result.output
    assert "id_number ← soc_sec_id" in result.output
    pairs = {tuple(sorted((p["id_a"], p["id_b"]))) for p in csv.DictReader((tmp_path / "pairs.csv").open(encoding="utf-8"))}
    assert renamed <= pairs
