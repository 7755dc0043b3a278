"""Every topic the code records is in the event catalogue, and the catalogue is well formed."""

from __future__ import annotations

import ast
import re
from dataclasses import is_dataclass
from pathlib import Path

from okno.bootstrap import SUBSCRIBERS
from okno.bus.catalog import catalogue

SRC = Path(__file__).resolve().parents[2] / "src" / "okno"
TOPIC = re.compile(r"^[a-z_]+\.[a-z_]+$")
RECORDERS = ("record_event", "record_events", "record_change")
# dotted names in event-recording modules that are not outbox topics (audit actions, given as
# ``action=``, are skipped by the scan). A new entry here says "this is not an event" on purpose.
NOT_TOPICS = {
    "automation.applied", "automation.failed",  # timeline entries of a rule's run
    "identity.added", "identity.removed",  # timeline entries
    "conversation.snooze",  # a timer kind
    "okno.via",  # a session.info key
    "call.callback_completed",  # a timeline entry on a missed call that a later call completed (okno.telephony)
    "survey.send", "survey.deadline",  # timer kinds (okno.surveys.dispatch)
    "sla_policy.enabled", "sla_policy.disabled",  # audit log actions (okno.sla.policies)
    "customer.created_by_operator", "customer.renamed",  # timeline entries of a contact written down by hand (okno.customers.contacts)
}  # fmt: skip


def _records_events(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
        and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in RECORDERS
        for node in ast.walk(tree)
    )  # fmt: skip


def _not_topics(tree: ast.Module) -> set[int]:
    """Docstrings and audit actions (``audit(..., action="team.configured")``)."""
    found = {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call) for k in node.keywords if k.arg == "action"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def recorded_topics() -> dict[str, str]:
    """Dotted string literals in every module that records events, with where they are."""
    found: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not _records_events(tree) or path.name == "outbox.py":
            continue
        docs = _not_topics(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs and TOPIC.match(node.value):
                found.setdefault(node.value, f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_every_topic_recorded_in_the_code_is_in_the_catalogue() -> None:
    found = recorded_topics()
    assert len(found) > 20  # the scan sees the recording modules
    missing = {topic: where for topic, where in found.items() if topic not in catalogue() and topic not in NOT_TOPICS}
    assert not missing, f"add these to the emitting domain's events.py (or to NOT_TOPICS if they are no events): {missing}"


def test_every_subscribed_topic_is_in_the_catalogue_and_every_type_is_a_versioned_dataclass() -> None:
    known = catalogue()
    assert set(SUBSCRIBERS) <= set(known)
    for topic, cls in known.items():
        assert is_dataclass(cls) and cls.__dataclass_params__.frozen, topic  # type: ignore[attr-defined]
        assert cls.topic == topic and cls.version >= 1 and cls.required
        assert cls.__module__.endswith(".events"), f"{topic}: event types live in the emitting domain's events.py"
