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


def test_the_files_run_first_exist() -> None:
    # tests/conftest.py starts these long-running files first so both workers finish together;
    # a renamed one would quietly fall back to its place by test count
    from tests.conftest import RUN_FIRST

    assert [name for name in RUN_FIRST if not (TESTS / name).is_file()] == []
