"""What `make run` installs is what okno imports: every third-party module imported anywhere under
src/okno comes from a distribution in ``[project] dependencies``, not only from the dev extras
(a fresh `make run` installs no dev extras: the demo's fake mail server once needed aiosmtpd from them)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    """The declared dependencies and, transitively, what they require themselves."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pending = [_name(r) for r in project["dependencies"]]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        try:
            required = requires(name) or []
        except PackageNotFoundError:  # a conditional requirement this Python does not take
            continue
        for requirement in required:
            if "extra ==" not in requirement or name in ("uvicorn", "sqlalchemy", "pwdlib"):  # extras the pins name
                pending.append(_name(requirement))
    return found


def _imported_top_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "src" / "okno").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.partition(".")[0])
    return modules - set(sys.stdlib_module_names) - {"okno"}


def test_every_module_okno_imports_is_installed_by_make_run() -> None:
    runtime = _runtime_distributions()
    owners = packages_distributions()
    missing = {
        module: owners.get(module)
        for module in sorted(_imported_top_modules())
        if not any(_name(d) in runtime for d in owners.get(module, []))
    }
    assert missing == {}, f"imported by src/okno but not a runtime dependency: {missing}"
