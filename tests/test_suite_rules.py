"""Rules the test suite's own set-up relies on."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_overrides_a_fastapi_dependency() -> None:
    # conftest compiles each module-level route once and shares it between the tests' apps; the
    # shared handler reads dependency overrides from the first app, so an override would be ignored
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path.name != "test_suite_rules.py" and "dependency_overrides" in path.read_text(encoding="utf-8")
    ]
    assert offenders == [], offenders
