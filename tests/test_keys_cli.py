"""``okno keys status`` and ``okno keys rotate`` on a fresh SQLite data folder: personal data
sealed under an old key is re-sealed under the new one and stays readable with it alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
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


def _with_keys(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    monkeypatch.setenv("OKNO_SECRET_KEYS", ",".join(keys))
    get_settings.cache_clear()


def test_rotation_from_the_command_line(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    runner = CliRunner()
    _with_keys(monkeypatch, old)
    source = cli_env / "crm.csv"
    source.write_text("first_name;last_name;phone;email\nАгния;Ключникова;+79035550188;agnia@example.org\n", encoding="utf-8")
    assert runner.invoke(cli, ["customers", "import", str(source)]).exit_code == 0
    status = runner.invoke(cli, ["keys", "status"])
    assert status.exit_code == 0 and "nothing to rotate" in status.output, status.output

    _with_keys(monkeypatch, new, old)
    status = runner.invoke(cli, ["keys", "status"])
    assert status.exit_code == 0 and "identities.value" in status.output and "run `okno keys rotate`" in status.output, status.output
    rotated = runner.invoke(cli, ["keys", "rotate", "--batch", "1"])
    assert rotated.exit_code == 0 and "sealed with the newest key" in rotated.output, rotated.output
    assert "nothing to rotate" in runner.invoke(cli, ["keys", "status"]).output

    _with_keys(monkeypatch, new)  # the old key is gone: everything still opens
    exported = runner.invoke(cli, ["customers", "export", "1"])
    assert exported.exit_code == 0, exported.output
    identities = {(i["kind"], i["value"]) for i in json.loads(exported.stdout)["identities"]}
    assert identities == {("phone", "+79035550188"), ("email", "agnia@example.org")}
    missing = runner.invoke(cli, ["customers", "export", "999"])
    assert missing.exit_code == 1 and "customer 999 not found" in missing.output
