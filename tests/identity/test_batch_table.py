"""The batch matcher's coded table, integer blocking keys and table comparisons give exactly
what the per-record path (comparison_fields, blocking_keys, Frame + compare_pairs) gives."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from okno.cli import app as cli
from okno.customers.matching import loading
from okno.customers.matching import table as table_module
from okno.customers.matching.batch import term_shares, union_find_clusters
from okno.customers.matching.blocking import block_entries, candidate_pairs, combine, dense_codes, sorted_unique
from okno.customers.matching.columns import map_columns, person_from_row
from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.compare_table import TableComparer
from okno.customers.matching.fields import MAX_BLOCK_SIZE, blocking_keys, comparison_fields
from okno.customers.matching.helpers import compare_in_chunks, helper_processes
from okno.customers.matching.loading import load_table
from okno.customers.matching.synthetic import generate_records
from okno.customers.matching.table import PersonTable, WordFolder, sorted_words, table_from_fields
from okno.customers.names import latin_key
from tests.identity.helpers import write_csv

HEADERS = ["rec_id", "person_id", "first_name", "last_name", "full_name", "birth_date", "phone", "mobile", "email", "city", "address", "address_2", "postcode", "ssn"]
LONG = "x" * 60


def _awkward_rows(n: int, seed: int) -> list[dict[str, str]]:
    """Generated people, plus what real exports hold: a second phone column, a full name
    instead of first/last, padding, junk phones and e-mails, very long values, blanks, id
    numbers written differently, mistyped or not there."""
    rng = random.Random(seed)
    rows = []
    for row in generate_records(n, seed=seed):
        out = {h: str(row.get(h, "")) for h in HEADERS}
        number = f"{row['person_id'] * 7919 % 10**9:09d}"
        out["ssn"] = rng.choice([number, number, f"{number[:3]}-{number[3:5]}-{number[5:]}", number[:4] + number[5] + number[4] + number[6:], "", "n/a", "000-00-0000"])
        roll = rng.random()
        if roll < 0.1:
            out["full_name"], out["first_name"], out["last_name"] = f"  {row['first_name']} {row['last_name']} ", "", ""
        elif roll < 0.15:
            out["mobile"] = rng.choice([row["phone"], "+7 916 000-00-" + f"{rng.randrange(100):02d}", "12", "8 (903) 111-22-33"])
        elif roll < 0.2:
            out["email"] = rng.choice(["not-an-email", f"  {row['email'].upper()}  ", f"{LONG}{rng.randrange(3)}@{LONG}.ru"])
        elif roll < 0.23:
            out["address_2"], out["postcode"] = "кв. 5", f"{LONG}{LONG}"
        elif roll < 0.26:
            out["first_name"] = f"{row['first_name']}-{LONG}{LONG}"
        elif roll < 0.28:
            out["birth_date"] = rng.choice(["31.02.1990", "1990/04/01", "04/01/1990", "garbage"])
        rows.append(out)
    return rows


def _per_record(rows: list[dict[str, str]]) -> list[dict]:
    mapping = map_columns([h for h in HEADERS if h not in ("rec_id", "person_id")], {"mobile": "phone"})
    return [comparison_fields(person_from_row(row, mapping)) for row in rows]


def _fields_of(table: PersonTable, row: int) -> dict:
    fields = {name: str(getattr(table, name).strings(row)) for name in ("first_name", "last_name", "birth_date", "city", "address", "postcode", "id_number")}
    fields |= {"phones": list(table.values_of("phone", row)), "emails": list(table.values_of("email", row))}
    return {k: v for k, v in fields.items() if v}


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], PersonTable]:
    rows = _awkward_rows(3000, seed=3)
    path = write_csv(rows, tmp_path_factory.mktemp("batch") / "people.csv", HEADERS)
    mapping = map_columns([h for h in HEADERS if h not in ("rec_id", "person_id")], {"mobile": "phone"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "CHUNK", 700)  # several chunks, the last one short
        loaded = load_table(path, mapping, id_column="rec_id", truth_column="person_id")
    assert loaded.ids == [r["rec_id"] for r in rows]
    return _per_record(rows), loaded.table


def test_csv_table_holds_the_same_fields_as_comparison_fields(awkward: tuple[list[dict], PersonTable]) -> None:
    expected, table = awkward
    assert table.size == len(expected)
    assert table.several["phone"] and any(len(f.get("first_name", "")) > 96 for f in expected)  # the awkward cases are there
    for row, fields in enumerate(expected):
        wanted = dict(fields, address=sorted_words(fields["address"])) if "address" in fields else fields
        assert _fields_of(table, row) == wanted, row


def test_table_from_fields_holds_the_same_fields(awkward: tuple[list[dict], PersonTable]) -> None:
    expected, _ = awkward
    table = table_from_fields(expected)
    for row, fields in enumerate(expected):
        wanted = dict(fields, address=sorted_words(fields["address"])) if "address" in fields else fields
        assert _fields_of(table, row) == wanted, row


def _blocks(pairs: list[tuple[object, int]]) -> set[frozenset[int]]:
    members: dict[object, set[int]] = defaultdict(set)
    for key, owner in pairs:
        members[key].add(owner)
    return {frozenset(m) for m in members.values()}


@pytest.mark.parametrize("source", ["csv", "fields"])
def test_integer_blocking_keys_make_the_same_blocks_as_the_key_strings(awkward: tuple[list[dict], PersonTable], source: str) -> None:
    expected, csv_table = awkward
    table = csv_table if source == "csv" else table_from_fields(expected)
    keys, owners = block_entries(table)
    assert _blocks(list(zip(keys.tolist(), owners.tolist(), strict=True))) == _blocks([(k, i) for i, f in enumerate(expected) for k in blocking_keys(f)])
    assert len(set(zip(keys.tolist(), owners.tolist(), strict=True))) == len(keys) == sum(len(blocking_keys(f)) for f in expected)


def test_candidate_pairs_skip_oversized_blocks() -> None:
    keys = np.array([7] * 4 + [9] * 3 + [11], dtype=np.int64)
    owners = np.array([0, 1, 2, 3, 2, 5, 6, 1], dtype=np.int64)
    li, ri, skipped = candidate_pairs(keys, owners, 8, max_block=3)
    assert (li.tolist(), ri.tolist(), skipped) == ([2, 2, 5], [5, 6, 6], 1)
    li, ri, _ = candidate_pairs(keys, owners, 8, max_block=MAX_BLOCK_SIZE)
    assert list(zip(li.tolist(), ri.tolist(), strict=True)) == sorted({(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (2, 5), (2, 6), (5, 6)})


def test_table_comparisons_equal_compare_pairs(awkward: tuple[list[dict], PersonTable]) -> None:
    expected, table = awkward
    keys, owners = block_entries(table)
    li, ri, _ = candidate_pairs(keys, owners, table.size)
    rng = np.random.default_rng(1)
    li, ri = np.r_[li, rng.integers(0, table.size, 20_000)], np.r_[ri, rng.integers(0, table.size, 20_000)]
    frame = Frame(expected)
    gamma = TableComparer(table)(li, ri)
    assert len(li) > 3000 and (gamma >= 0).all(axis=1).any()
    np.testing.assert_array_equal(gamma, compare_pairs(frame, frame, li, ri))


def test_term_shares_equal_the_per_record_ones(awkward: tuple[list[dict], PersonTable]) -> None:
    expected, table = awkward
    frame = Frame(expected)
    for column, shares in term_shares(expected).items():
        frame.set_term_shares(column, shares)
        np.testing.assert_array_equal(table.term_shares(column), frame.shares[column])


def test_integer_helpers() -> None:
    values = np.array([5, 3, 5, 1 << 60, 3], dtype=np.int64)
    assert sorted_unique(values).tolist() == [3, 5, 1 << 60]
    assert dense_codes(values).tolist() == [1, 0, 1, 2, 0]
    a, b = np.array([1, 1, 2, 1 << 57]), np.array([(1 << 40), 2, (1 << 40), 2])
    key = combine(a, b)
    assert len(set(key.tolist())) == 4 and key.max() < 1 << 58


def test_cli_reads_ragged_rows_and_blank_lines(tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "id,first_name,last_name,phone,birth_date\n"
        "a,Юлия,Щукина,+79161234567,1990-04-01\n"
        "\n"
        "b,Yulia,Shchukina,8 916 123-45-67\n"  # one field short
        "c,Иван,Петров,+79035550000,1980-01-01,extra\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["customers", "dedupe", "--input", str(source), "--id-column", "id", "--output", str(tmp_path / "pairs.csv"), "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    assert "records 3," in result.output
    pairs = list(csv.DictReader((tmp_path / "pairs.csv").open(encoding="utf-8")))
    assert [(p["id_a"], p["id_b"]) for p in pairs] == [("a", "b")]


def test_a_column_that_stops_being_remembered_codes_the_same(awkward: tuple[list[dict], PersonTable], tmp_path: Path) -> None:
    _, table = awkward
    path = write_csv(_awkward_rows(3000, seed=3), tmp_path / "people.csv", HEADERS)
    mapping = map_columns([h for h in HEADERS if h not in ("rec_id", "person_id")], {"mobile": "phone"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "CHUNK", 700)
        patch.setattr(table_module, "REMEMBER_UP_TO", 10)
        forgetful = load_table(path, mapping, id_column="rec_id", truth_column=None).table
    for name in ("first_name", "birth_date", "phone", "email", "address", "id_number"):
        np.testing.assert_array_equal(getattr(forgetful, name).strings(), getattr(table, name).strings())


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.lists(st.sampled_from(["ул.", "Щукина-Юлия", "д. 5,", " ", "\\u00a0", "kv.", "Dmitrii", "ß", "é", "¼", "-", "İ", "ΑΣ"]), max_size=8).map("".join))
def test_folding_word_by_word_equals_latin_key(text: str) -> None:
    assert WordFolder()(text) == latin_key(text)


def _clusters_one_pair_at_a_time(size: int, pairs: np.ndarray) -> list[list[int]]:
    parent = list(range(size))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, set[int]] = {}
    for a, b in pairs.tolist():
        for x in (a, b):
            members.setdefault(root(x), set()).add(x)
    return [sorted(m) for m in members.values() if len(m) > 1]


@pytest.mark.parametrize("seed", range(5))
def test_clusters_equal_one_pair_at_a_time_union_find(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 3000
    pairs = rng.integers(0, size, (rng.integers(1, 2500), 2))
    pairs = np.r_[pairs, [[7, 7]], np.stack([np.arange(100, 160), np.arange(101, 161)], axis=1)[::-1]]  # a self pair, a long chain
    assert union_find_clusters(size, pairs) == _clusters_one_pair_at_a_time(size, pairs)
    assert union_find_clusters(size, np.empty((0, 2), dtype=np.int64)) == []


def test_a_helper_process_loads_and_compares_exactly_what_one_process_does(tmp_path: Path) -> None:
    rows = _awkward_rows(3000, seed=8)
    rows[5]["address"] = "ул. Ленина,\nд. 5"  # a line break inside a quoted field
    rows[1500]["address"] = 'дом "у реки", 3'
    path = write_csv(rows, tmp_path / "people.csv", HEADERS)
    mapping = map_columns([h for h in HEADERS if h not in ("rec_id", "person_id")], {"mobile": "phone"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "CHUNK", 500)
        alone = load_table(path, mapping, id_column="rec_id", truth_column="person_id")
        with helper_processes(1) as helpers:
            shared = load_table(path, mapping, id_column="rec_id", truth_column="person_id", helpers=helpers)
            li, ri, _ = candidate_pairs(*block_entries(shared.table), shared.table.size)
            compare = TableComparer(shared.table)
            gamma = compare_in_chunks(compare, shared.table, li, ri, 700, helpers)
    _, dialect = loading.csv_headers(path)
    assert len(loading.row_ranges(path, {k: getattr(dialect, k) for k in ("delimiter", "quotechar", "escapechar", "quoting")}, parts=2)) == 2
    assert shared.ids == alone.ids == [r["rec_id"] for r in rows]
    np.testing.assert_array_equal(shared.truth, alone.truth)
    for name in ("first_name", "last_name", "birth_date", "phone", "email", "address", "postcode", "city", "id_number"):
        np.testing.assert_array_equal(getattr(shared.table, name).strings(), getattr(alone.table, name).strings())
    assert shared.table.several == alone.table.several and shared.table.several["phone"]
    assert len(li) > 5 * 700
    np.testing.assert_array_equal(gamma, compare(li, ri))


def test_row_ranges_split_at_row_starts_outside_quotes(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b'id,address\n1,"a\n\nb"\n2,"c ""d"""\n3,e\n4,"f,\ng"\n5,h\n')
    params = {"delimiter": ",", "quotechar": '"', "escapechar": None, "doublequote": True, "skipinitialspace": False, "quoting": csv.QUOTE_MINIMAL}
    for parts in range(1, 8):
        ranges = loading.row_ranges(path, params, parts=parts)
        assert ranges[0][0] == len(b"id,address\n") and ranges[-1][1] == path.stat().st_size
        rows = [row for start, end in ranges for row in csv.reader(loading._lines(path, start, end))]
        assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"], (parts, ranges)
    path.write_bytes(b'id,size\n1,5" screen\n2,"x"\n' * 1000)
    assert len(loading.row_ranges(path, params, parts=2)) == 1  # a quote inside text: no split


def test_pairs_file_is_what_csv_writer_writes(tmp_path: Path) -> None:
    from okno.customers.cli import _write_pairs

    ids = ["a", 'b"1', "c,2", "d\n3", "e"]
    pairs, probabilities = np.array([[0, 1], [2, 3], [0, 4]]), np.array([0.9999994, 0.5, 1.0])
    _write_pairs(tmp_path / "fast.csv", ids, pairs, probabilities)
    with (tmp_path / "slow.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id_a", "id_b", "score"])
        writer.writerows((ids[a], ids[b], f"{p:.6f}") for (a, b), p in zip(pairs.tolist(), probabilities.tolist(), strict=True))
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()
    _write_pairs(tmp_path / "plain.csv", ["x", "y"], np.array([[0, 1]]), np.array([0.5]))
    assert (tmp_path / "plain.csv").read_bytes() == b"id_a,id_b,score\r\nx,y,0.500000\r\n"
