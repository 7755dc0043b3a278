"""The recorded client messages (``tests/channels/fixtures/email/eml``) and their expected results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EML = Path(__file__).parent.parent / "fixtures" / "email" / "eml"


def fixture_names() -> list[str]:
    return sorted(path.stem for path in EML.glob("*.eml"))


def raw(name: str) -> bytes:
    return (EML / f"{name}.eml").read_bytes()


def expected(name: str) -> dict[str, Any]:
    return json.loads((EML / f"{name}.json").read_text(encoding="utf-8"))
