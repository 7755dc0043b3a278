"""NUL characters (which PostgreSQL can't store) are found exactly where the rebuild would drop them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from okno.channels.base import InboundMessage, SenderIdentity, _has_nul, _may_have_nul, without_nul

texts = st.text(alphabet=st.sampled_from(["a", "я", "\x00", "\\", "x", "0", " "]), max_size=6)
json_like = st.recursive(st.none() | st.booleans() | st.integers() | texts, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12)


@given(json_like)
def test_has_nul_is_true_exactly_when_the_rebuild_changes_something(value: object) -> None:
    assert _has_nul(value) == (without_nul(value) != value)


@given(json_like)
def test_the_quick_look_never_misses_a_nul_the_walk_finds(value: object) -> None:
    if _has_nul(value):
        assert _may_have_nul(value)


def test_the_quick_look_says_no_for_plain_items_and_maybe_for_what_json_cannot_write() -> None:
    sender = SenderIdentity(kind="phone", value="+79161234567")
    assert not _may_have_nul({"provider_id": "p1", "sender": [sender], "text": "привет", "context": {"page": "/a"}})
    assert _may_have_nul({"context": {"k\x00": 1}}) and _may_have_nul({1: "a"}) and _may_have_nul({"n": 2**70})


def test_an_item_loses_its_nuls_and_a_backslash_x00_text_is_kept_as_written() -> None:
    item = InboundMessage(provider_id="p\x001", sender=[SenderIdentity(kind="phone", value="+79161234567")], text="a\x00b \\x00", context={"k\x00": ["v\x00"]})
    assert (item.provider_id, item.text, item.context) == ("p1", "ab \\x00", {"k": ["v"]})
