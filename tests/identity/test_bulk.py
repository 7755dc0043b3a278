"""CRM import and dedupe: the same resolution and matcher as live traffic, from the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from okno.cli import app as cli
from okno.config import get_settings
from okno.customers.importer import import_rows
from okno.customers.matching.columns import map_columns
from okno.customers.matching.synthetic import generate_records
from okno.models import IdentityConflict, TimelineEvent
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by, touch

HEADERS = ["crm_id", "Имя", "Фамилия", "dob", "tel", "email", "город"]


def _rows(*values: tuple) -> list[dict[str, str]]:
    return [dict(zip(HEADERS, v, strict=True)) for v in values]


async def test_import_attaches_by_key_keeps_both_values_and_surfaces_conflicts(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79167770001", "name": "Мария"})
    await touch(client, ctx, channel, {"email": "petrov@example.ru"})
    mapping = map_columns(HEADERS, {"tel": "phone"})
    rows = _rows(
        ("c-1", "Мария", "Иванова", "1990-05-01", "8 (916) 777-00-01", "maria@example.ru", "Москва"),  # known phone
        ("c-2", "Пётр", "Петров", "", "+79167770002", "petrov@example.ru", "Казань"),  # new phone, known e-mail
        ("c-3", "Олег", "Новый", "02.03.1985", "", "", "Тула"),  # nothing known: a new profile
        ("", "", "", "", "", "", ""),
        ("c-5", "Мария", "Иванова", "", "+79167770001", "petrov@example.ru", "Moscow"),  # keys of two customers
    )
    async with ctx.db.transaction() as session:
        report = await import_rows(session, rows, mapping, id_column="crm_id", first_row_number=2)
    assert (report.rows, report.created, report.attached_by_key, report.conflicts) == (5, 1, 3, 1)
    assert report.skipped == ["row 5: no usable name, phone, e-mail or id"]

    maria = await customer_by(client, headers, "phone:+79167770001")
    assert {(i["kind"], i["value"]) for i in maria["identities"]} >= {("crm", "c-1"), ("email", "maria@example.ru"), ("crm", "c-5")}
    assert maria["attributes"]["birth_date"] == "1990-05-01" and maria["attributes"]["city"] == "Москва"
    assert maria["attributes"]["_alternatives"]["city"] == [{"value": "Moscow", "source": "crm_import"}]
    petrov = await customer_by(client, headers, "email:petrov@example.ru")
    assert ("phone", "+79167770002") in {(i["kind"], i["value"]) for i in petrov["identities"]}
    assert (await customer_by(client, headers, "crm:c-3"))["name"] == "Олег Новый"
    async with ctx.db.reading() as session:
        conflict = (await session.scalars(select(IdentityConflict))).one()
        imported = await session.scalar(select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "customer.imported"))
    assert (conflict.kind, conflict.owner_id, conflict.claimant_id) == ("email", petrov["id"], maria["id"])
    assert imported == 4


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OKNO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OKNO_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _write(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, delimiter=";")
        writer.writeheader()
        writer.writerows({k: r[k] for k in fields} for r in rows)


def test_dedupe_file_mode_writes_pairs_and_measures_against_truth(cli_env: Path) -> None:
    rows = generate_records(1500, seed=9)
    renamed = [{"id": r["rec_id"], "truth": r["person_id"], "given": r["first_name"], "family": r["last_name"], "dob": r["birth_date"],
                "phone": r["phone"], "email": r["email"], "town": r["city"], "street": r["address"], "zip": r["postcode"]} for r in rows]  # fmt: skip
    source, pairs = cli_env / "people.csv", cli_env / "pairs.csv"
    _write(source, renamed, list(renamed[0]))
    result = CliRunner().invoke(cli, ["customers", "dedupe", "--input", str(source), "--id-column", "id", "--truth-column", "truth",
                                      "--output", str(pairs), "--map", "given=first_name,family=last_name"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "first_name ← given" in result.output and "city ← town" in result.output
    f1 = float(result.output.split("F1 ")[1].split()[0])
    assert f1 > 0.9, result.output
    lines = pairs.read_text().splitlines()
    assert lines[0] == "id_a,id_b,score" and len(lines) > 300
    a, b, score = lines[1].split(",")
    assert a.startswith("r") and b.startswith("r") and 0.5 < float(score) <= 1

    bad = CliRunner().invoke(cli, ["customers", "dedupe", "--input", str(source), "--id-column", "id", "--output", str(pairs), "--map", "given=shoe_size"])
    assert bad.exit_code != 0 and "shoe_size" in bad.output


def test_import_dry_run_saves_nothing_then_import_and_dedupe(cli_env: Path) -> None:
    rows = generate_records(300, seed=4)
    source = cli_env / "crm.csv"
    _write(source, rows, ["rec_id", "first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"])
    runner = CliRunner()
    dry = runner.invoke(cli, ["customers", "import", str(source), "--id-column", "rec_id", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was saved" in dry.output and "300 rows" in dry.output
    created = int(dry.output.split("created:")[1].split()[0])
    assert 150 < created < 300
    real = runner.invoke(cli, ["customers", "import", str(source)])
    assert real.exit_code == 0, real.output
    assert f"created:            {created} new profiles were created" in real.output
    deduped = runner.invoke(cli, ["customers", "dedupe"])
    assert deduped.exit_code == 0, deduped.output
    assert "suggestions_written" in deduped.output and "profiles:" in deduped.output
    assert "profiles_indexed_now: 0" in deduped.output  # the import filed every profile already
