"""Hot-path lookups must be index searches on SQLite, whatever the table size."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from okno.customers.identities import IdentityKey
from okno.customers.resolution import _any_key
from okno.models import Identity


def _plan(db_path: str, statement: object) -> str:
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(db_path) as conn:
        return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_identity_lookup_searches_the_kind_value_index(sqlite_url: str) -> None:
    keys = [IdentityKey("phone", f"+7916000000{i}") for i in range(5)] + [IdentityKey("email", "a@b.ru"), IdentityKey("telegram", "42")]
    plan = _plan(sqlite_url.split("///", 1)[1], select(Identity.customer_id).where(_any_key(keys)))
    assert "SCAN identities" not in plan
    assert plan.count("SEARCH identities USING INDEX") == 3, plan
