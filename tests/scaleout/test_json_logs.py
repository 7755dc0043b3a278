"""OKNO_LOG_FORMAT=json: one JSON object a line, carrying the ids bound to the work at hand."""

from __future__ import annotations

import json

import structlog

from okno.kit.logging import configure_logging


def test_json_logs_carry_the_event_and_conversation_ids(capsys) -> None:  # noqa: ANN001
    configure_logging("info", "json")
    try:
        with structlog.contextvars.bound_contextvars(event_id=41, topic="message.received", conversation_id=7):
            structlog.get_logger().warning("event_subscriber_failed", subscriber="routing.hooks.route_new_conversation")
        line = capsys.readouterr().out.strip().splitlines()[-1]
    finally:
        configure_logging("warning")
    record = json.loads(line)
    assert record["event"] == "event_subscriber_failed" and record["level"] == "warning"
    assert (record["event_id"], record["conversation_id"], record["topic"]) == (41, 7, "message.received")
    assert record["timestamp"].endswith("Z")
