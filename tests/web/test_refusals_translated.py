"""Every refusal okno raises can be said in Russian: a test that reads the source.

A refusal is an ``OknoError`` (or a subclass) whose first argument is the English sentence; the
API answers it in the request's language from the UI's catalog, the English template being the
msgid (``okno.api.problems.say``). So each such sentence must be a plain template with named
values (an f-string is a different text every time and can never be found in a catalog) and
must have a Russian translation (every plural form, when the sentence gives ``plural=``), or
carry its Russian sentence where it is raised (``ru=``, itself a template).
"""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.pofile import read_po

from okno.api.problems import say
from okno.kit.errors import Invalid

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src/okno"
CATALOG = SOURCE / "web/locale/ru/LC_MESSAGES/messages.po"


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(SOURCE.rglob("*.py"))}


def _refusal_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """``OknoError`` and every class that inherits from it, anywhere in okno (by name)."""
    names, grew = {"OknoError"}, True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(_name(b) in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def _refusals() -> list[tuple[str, ast.Call]]:
    trees = _trees()
    classes = _refusal_classes(trees)
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in classes and node.args:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_the_scan_finds_the_refusals() -> None:
    """The scan itself works: it sees hundreds of refusals, among them subclasses defined outside kit."""
    found = _refusals()
    assert len(found) > 300
    assert any(_name(call.func) == "InvalidIdentity" for _, call in found)
    assert any(_name(call.func) == "ProviderRefused" for _, call in found)


def test_no_refusal_is_an_f_string() -> None:
    wrong = [
        where
        for where, call in _refusals()
        for arg in (call.args[0], _keyword(call, "plural"), _keyword(call, "ru"))
        if isinstance(arg, ast.JoinedStr)
    ]
    assert wrong == [], "give a template with named values instead: Invalid('team %(id)s not found', id=5)"


def test_every_refusal_has_russian() -> None:
    with CATALOG.open("rb") as fp:
        catalog = read_po(fp, locale="ru")
    untranslated = []
    for where, call in _refusals():
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue  # a sentence made elsewhere (an adapter's, a caught refusal's)
        ru = _keyword(call, "ru")
        if isinstance(ru, ast.Constant) and isinstance(ru.value, str) and ru.value.strip():
            continue
        message = catalog.get(first.value)
        plural = _keyword(call, "plural")
        if plural is not None:
            ok = (
                message is not None
                and isinstance(message.id, tuple)
                and isinstance(plural, ast.Constant)
                and message.id[1] == plural.value
                and isinstance(message.string, tuple)
                and len(message.string) == 3
                and all(s.strip() for s in message.string)
            )
        else:
            ok = message is not None and isinstance(message.string, str) and bool(message.string.strip())
        if not ok:
            untranslated.append(f"{where}: {first.value}")
    assert untranslated == []


def _field_reasons() -> list[tuple[str, ast.expr]]:
    """The reasons validators give for a field: ``reason("must be …")`` anywhere, and
    ``raise ValueError("…")`` in the channel adapters' config models (said after the field's name)."""
    found = []
    for path, tree in _trees().items():
        adapter = "channels/adapters" in str(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = _name(node.func)
            if name == "reason" or (adapter and name == "ValueError" and any(
                isinstance(parent, ast.Raise) and parent.exc is node for parent in ast.walk(tree)
            )):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0]))
    return found


def test_every_field_reason_has_russian() -> None:
    with CATALOG.open("rb") as fp:
        catalog = read_po(fp, locale="ru")
    reasons = _field_reasons()
    assert len(reasons) > 10
    wrong = []
    for where, first in reasons:
        if isinstance(first, ast.JoinedStr):
            wrong.append(f"{where}: an f-string (give reason('… %(num)s …', num=…))")
        elif isinstance(first, ast.Constant) and isinstance(first.value, str):
            message = catalog.get(first.value)
            if message is None or not isinstance(message.string, str) or not message.string.strip():
                wrong.append(f"{where}: {first.value}")
    assert wrong == []


def test_a_refusal_with_numbers_is_said_in_russian_with_its_plural() -> None:
    class Request:  # what ``say`` reads: the language
        class state:  # noqa: N801
            web_locale = "ru"

        headers: dict[str, str] = {}

    def refused(n: int) -> Invalid:
        return Invalid("at most %(num)s file per message", plural="at most %(num)s files per message", num=n)

    assert str(refused(1)) == "at most 1 file per message" and str(refused(5)) == "at most 5 files per message"
    said = [say(Request(), refused(n)) for n in (1, 3, 5, 21)]  # type: ignore[arg-type]
    assert said == ["Не больше 1 файла в сообщении", "Не больше 3 файлов в сообщении", "Не больше 5 файлов в сообщении", "Не больше 21 файла в сообщении"]
