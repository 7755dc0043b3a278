"""Hypothesis strategies shared by the parser property tests: arbitrary JSON shaped like a
provider's payloads, and real fixtures with parts dropped or replaced."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st


def json_values(shape_keys: list[str], words: list[str]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON whose keys and strings are often the provider's own, so parsers get deep."""
    scalars = (
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20) | st.sampled_from(words)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(shape_keys) | st.text(max_size=8), inner, max_size=5),
        max_leaves=25,
    )


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [prefix] + [p for key, child in children for p in _paths(child, (*prefix, key))]


@st.composite
def mutated_fixtures(draw: st.DrawFn, fixtures: dict[str, Any], values: st.SearchStrategy[Any]) -> Any:
    """A real payload with 1–4 of its parts deleted or replaced by ``values``."""
    payload = copy.deepcopy(fixtures[draw(st.sampled_from(sorted(fixtures)))])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(payload)))
        if not path:
            return draw(values)
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return payload
