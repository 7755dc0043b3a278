"""``okno customers export`` and ``okno customers erase`` on a fresh SQLite data folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okno.cli import app as cli
from okno.config import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OKNO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OKNO_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_export_then_erase_from_the_command_line(cli_env: Path) -> None:
    source = cli_env / "crm.csv"
    source.write_text("first_name;last_name;phone;city\nЕвлампия;Командная;+79035550177;Консольск\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["customers", "import", str(source)]).exit_code == 0
    output = cli_env / "export.json"

    exported = runner.invoke(cli, ["customers", "export", "1", "--output", str(output)])

    assert exported.exit_code == 0, exported.output
    document = json.loads(output.read_text(encoding="utf-8"))
    assert "Евлампия" in document["customer"]["name"] and document["customer"]["attributes"]["city"] == "Консольск"
    assert [(i["kind"], i["value"]) for i in document["identities"]] == [("phone", "+79035550177")]

    assert runner.invoke(cli, ["customers", "erase", "1"]).exit_code != 0  # --reason is required
    erased = runner.invoke(cli, ["customers", "erase", "1", "--reason", "письмо клиента от 6 декабря"])
    assert erased.exit_code == 0, erased.output
    assert "erased customer 1" in erased.output and "identities 1" in erased.output
    missing = runner.invoke(cli, ["customers", "erase", "999", "--reason", "x"])
    assert missing.exit_code == 1 and "customer 999 not found" in missing.output

    after = json.loads(runner.invoke(cli, ["customers", "export", "1"]).stdout)
    assert after["customer"]["name"] == "" and after["customer"]["erased_at"] and after["identities"] == []
    database = cli_env / "data" / "okno.db"
    with sqlite3.connect(database) as conn:
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_log WHERE subject_id = '1' ORDER BY id")]
        assert actions == ["customer.exported", "customer.erased", "customer.exported"]
    content = b"".join(p.read_bytes() for p in (database, database.with_name("okno.db-wal")) if p.exists())
    for word in ("Евлампия", "Командная", "Консольск", "+79035550177"):
        assert word.encode() not in content, word
