"""A raw item's stored ``item`` is the item's ``model_dump(mode="json")`` (built without the
wrapper on the hot path): the same document for messages and statuses, nested values included."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from okno.channels.base import InboundMessage, InboundStatus, SenderIdentity
from okno.channels.inbound import _RAW_COLUMNS, raw_item_row, raw_item_values
from okno.channels.interactive import Answer


def test_the_stored_item_is_model_dump_json() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    items = [
        InboundMessage(provider_id="m1", sender=[SenderIdentity(kind="phone", value="+7 916", source="api")], text="Здравствуйте"),
        InboundMessage(
            provider_id="m2", sender=[SenderIdentity(kind="email", value="a@b.ru")], attachments=[{"kind": "image", "url": "https://x/y.png", "size": "12"}],
            context={"utm": {"source": "ya", "n": [1, 2.5, None]}}, answer=Answer(option_id="yes", title="Да", message_id=5),
            thread_key="t", thread_refs=["conversation:1"], message_kind="call", subject="s", html="<b>x</b>", item_key="k", content={"d": 1}, operator_id=3,
        ),
        InboundStatus(provider_message_id="p1", status="read", occurred_at=now, error="e"),
    ]
    for item in items:
        row = raw_item_row(4, item, "raw", now, status="done")
        assert row["item"] == item.model_dump(mode="json")
        assert orjson.dumps(row["item"]) == orjson.dumps(item.model_dump(mode="json"))
        assert (row["channel_id"], row["provider_id"], row["raw"], row["status"], row["processed_at"]) == (4, item.provider_id, "raw", "done", now)


def test_the_intakes_values_are_the_same_row_with_the_item_as_json_text() -> None:
    """``raw_item_values`` (the group commit's tuples) hold what ``raw_item_row`` holds, in the
    insert's column order; the item is its JSON text, the same document once parsed."""
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    items = [
        InboundMessage(provider_id="m1", sender=[SenderIdentity(kind="phone", value="+7 916")], text="Здравствуйте", context={"n": [1, 2.5, None, 1e16]}),
        InboundMessage(provider_id="m2", answer=Answer(option_id="yes", title="Да", message_id=5), content={"d": -0.0}, operator_id=3),
        InboundStatus(provider_message_id="p1", status="read", occurred_at=now, error="e"),
    ]
    for item in items:
        for status, error in (("done", None), ("pending", None), ("failed", "why")):
            row = raw_item_row(4, item, "raw", now, status=status, error=error)
            values = raw_item_values(4, item, "raw", now, status, error)
            assert orjson.loads(orjson.dumps(values[2])) == item.model_dump(mode="json")
            assert orjson.dumps(values[2]) == orjson.dumps(row["item"])
            assert values[:2] + values[3:] == tuple(row[name] for name in _RAW_COLUMNS if name != "item")
