from __future__ import annotations

import stat
from pathlib import Path

from cryptography.fernet import Fernet

from okno.config import Settings
from okno.kit.crypto import SecretBox


def test_secret_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").fernet_keys()
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "data").fernet_keys() == first
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]


def test_rotation_keeps_old_secrets_readable(tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path).fernet_keys()[0]
    sealed = SecretBox([old]).seal_json({"token": "t"})
    new = Fernet.generate_key().decode()
    rotated_box = SecretBox(Settings(secret_keys=f"{new},{old}").fernet_keys())
    assert rotated_box.open_json(sealed) == {"token": "t"}
    assert SecretBox([new]).open_json(rotated_box.rotate(sealed)) == {"token": "t"}


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.is_sqlite and settings.resolved_database_url().endswith(f"{tmp_path}/okno.db")
