"""Keeps docs/architecture.md true to the code: every package and top-level module of src/okno
is in its Layout block (and nothing that is gone), its event table is the catalogue and the
subscribers as the code has them, and no Markdown file of the repository links or names a file
that does not exist. No database."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from okno.bus.catalog import catalogue

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "okno"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[A-Za-z_][\w.]*(?:/|\.py))(?:\s|$)")


def layout_block() -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    match = re.search(r"^## Layout\n```\n(?P<block>.*?)^```", text, re.S | re.M)
    assert match, "docs/architecture.md has no '## Layout' code block"
    return match["block"]


def layout_entries() -> set[str]:
    """Paths (relative to src/okno, directories ending in '/') named by the Layout tree: an entry
    is a name at two spaces per level under its parent; deeper text continues a description."""
    lines = layout_block().splitlines()
    assert lines and lines[0].strip() == "src/okno/", "the Layout block starts with src/okno/"
    stack: list[str] = []  # the directories open above the current line
    entries: set[str] = set()
    for line in lines[1:]:
        match = ENTRY.match(line)
        if not match or len(match["indent"]) % 2:
            continue
        depth = len(match["indent"]) // 2 - 1
        if depth < 0 or depth > len(stack):
            continue  # a description's continuation line
        del stack[depth:]
        path = "".join(stack) + match["name"]
        entries.add(path)
        if path.endswith("/"):
            stack.append(match["name"])
    return entries


def code_entries() -> set[str]:
    packages = {
        init.parent.relative_to(SRC).as_posix() + "/"
        for init in SRC.rglob("__init__.py")
        if init.parent != SRC and "__pycache__" not in init.parts
    }
    modules = {module.name for module in SRC.glob("*.py") if module.name != "__init__.py"}
    return packages | modules


def test_layout_names_every_package_and_top_level_module() -> None:
    missing = code_entries() - layout_entries()
    assert not missing, f"docs/architecture.md's Layout block does not mention: {sorted(missing)}"


def test_layout_names_nothing_that_is_gone() -> None:
    gone = [entry for entry in layout_entries() if not (SRC / entry.rstrip("/")).exists()]
    assert not gone, f"docs/architecture.md's Layout block names what src/okno does not have: {sorted(gone)}"


def event_table_rows() -> dict[str, str]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("### Event catalogue", 1)
    assert len(section) == 2, "docs/architecture.md has no '### Event catalogue' table"
    rows = re.findall(r"^(\| `([a-z_]+\.[a-z_]+)`[^|]*\|.*\|)$", section[1], re.M)
    return {topic: row for row, topic in rows}


def catalogue_rows() -> dict[str, str]:
    """The table as the code has it: topic, defining module, payload fields (``?``: may be left
    out), subscribers in the order bootstrap runs them."""
    import okno.events  # noqa: F401  (collects every domain's events.py)
    from okno.bootstrap import SUBSCRIBERS
    from okno.bus.inprocess import subscriber_name

    rows = {}
    for topic, event_type in sorted(catalogue().items()):
        version = f" (v{event_type.version})" if event_type.version != 1 else ""
        names = [field.name.removesuffix("_") for field in fields(event_type)]
        payload = ", ".join(name if name in event_type.required else f"{name}?" for name in names)
        subscribers = dict.fromkeys(subscriber_name(handler) for handler in SUBSCRIBERS.get(topic, []))
        described = ", ".join(f"`{name}`" for name in subscribers) or "—"
        module = event_type.__module__.removeprefix("okno.")
        rows[topic] = f"| `{topic}`{version} | `{module}` | {payload} | {described} |"
    return rows


def test_event_table_matches_the_catalogue_and_the_subscribers() -> None:
    documented, expected = event_table_rows(), catalogue_rows()
    missing = sorted(expected.keys() - documented.keys())
    assert not missing, "topics missing from the event table; add these rows:\n" + "\n".join(expected[topic] for topic in missing)
    unknown = sorted(documented.keys() - expected.keys())
    assert not unknown, f"the event table lists topics the catalogue lacks: {unknown}"
    stale = [expected[topic] for topic in sorted(expected) if documented[topic] != expected[topic]]
    assert not stale, "event table rows out of date; as the code has them now:\n" + "\n".join(stale)


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def markdown_files() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found += sorted((ROOT / "examples").rglob("*.md"))
    return [path for path in found if path.is_file()]


def test_markdown_links_point_at_files_that_exist() -> None:
    broken = []
    for path in markdown_files():
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for match in LINK.finditer(text):
            target = match["target"].split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):  # an anchor, or http:, mailto:
                continue
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)} → {match['target']}")
    assert not broken, f"links to files that are not in the repository: {broken}"


CODE_PATH = re.compile(r"`(?P<path>[\w.-]+(?:/[\w.-]+)+\.(?:py|md|toml|po|js|html|lua))`")
PATH_BASES = ("", "src", "src/okno", "src/okno/channels")  # how the docs abbreviate a path


def test_file_paths_quoted_in_the_docs_exist() -> None:
    """`conversations/threading.py`-style references (templates such as `adapters/<kind>/fake.py`
    are not matched) name files the repository has."""
    missing = []
    for path in markdown_files():
        for match in CODE_PATH.finditer(path.read_text(encoding="utf-8")):
            quoted = match["path"]
            candidates = [ROOT / base / quoted for base in PATH_BASES] + [path.parent / quoted]
            if not any(candidate.exists() for candidate in candidates):
                missing.append(f"{path.relative_to(ROOT)} → {quoted}")
    assert not missing, f"the docs name files that are not in the repository: {sorted(set(missing))}"
