"""personal data sealed at rest: identity values with blind indexes, raw inbound items, timeline
payloads, matcher profiles and blocking keys, webhook bodies, visitor streams, outbox payloads,
merge records and the sensitive customer attributes (``okno.kit.pii``)

Revision ID: 0010_pii
Revises: 0009_accounts

Existing plaintext rows are sealed here with the instance's key ring (``OKNO_SECRET_KEYS`` or
``<data_dir>/secret.key``). On PostgreSQL the sealed columns become ``bytea``; SQLite keeps the
declared types (a column holds whatever is stored in it) and the tables nobody references
(``identities``, ``identity_conflicts``) are rebuilt for their new unique constraints.
"""

from __future__ import annotations

import base64

import orjson
import sqlalchemy as sa
from alembic import op

from okno.kit import pii

revision = "0010_pii"
down_revision = "0009_accounts"
branch_labels = None
depends_on = None

CHUNK = 1000
# (table, primary key columns, column, holds JSON)
SEALED_COLUMNS = (
    ("inbound_items", ("id",), "raw", False),
    ("inbound_items", ("id",), "item", True),
    ("timeline_events", ("id",), "data", True),
    ("match_profiles", ("customer_id",), "fields", True),
    ("webhook_calls", ("id",), "body", False),
    ("visitor_events", ("id",), "payload", True),
    ("outbox", ("id",), "payload", True),
    ("customer_merges", ("id",), "moved", True),
)
# kept in step with okno.models.customers.SEALED_ATTRIBUTES (a migration never imports models)
SEALED_ATTRIBUTES = ("birth_date", "id_number", "address", "postcode", "unverified_identities", "_alternatives")


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    for table, _, column, _ in SEALED_COLUMNS:
        if postgres:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bytea USING convert_to({column}::text, 'UTF8')")
    for table, keys, column, as_json in SEALED_COLUMNS:
        _seal_column(conn, table, keys, column, as_json)
    _seal_keys(conn, "identities", "uq_identities_kind_value", ("kind", "value"), postgres)
    _seal_keys(conn, "identity_conflicts", "uq_identity_conflicts_kind_value_owner_id_claimant_id", ("kind", "value", "owner_id", "claimant_id"), postgres)
    _blind_blocks(conn)
    _seal_attributes(conn)


def downgrade() -> None:
    raise NotImplementedError("personal data stays sealed: restore a backup taken before 0008_pii to go back")


def _plain(value: object) -> str:
    return bytes(value).decode() if isinstance(value, bytes | memoryview) else str(value)


def _seal_column(conn: sa.Connection, table: str, keys: tuple[str, ...], column: str, as_json: bool) -> None:
    ring = pii.keys()
    where = " AND ".join(f"{k} = :k_{k}" for k in keys)
    update = sa.text(f"UPDATE {table} SET {column} = :sealed WHERE {where}")
    rows = conn.execute(sa.text(f"SELECT {', '.join(keys)}, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
    for start in range(0, len(rows), CHUNK):
        batch = []
        for row in rows[start : start + CHUNK]:
            text = _plain(row[-1])
            plain = orjson.dumps(orjson.loads(text)) if as_json else text.encode()
            batch.append({"sealed": ring.seal(plain), **{f"k_{k}": row[i] for i, k in enumerate(keys)}})
        conn.execute(update, batch)


def _seal_keys(conn: sa.Connection, table: str, old_unique: str, old_columns: tuple[str, ...], postgres: bool) -> None:
    """``value`` sealed, ``value_index`` its blind index, unique with the other columns instead of ``value``."""
    ring = pii.keys()
    op.add_column(table, sa.Column("value_index", sa.LargeBinary(length=16), nullable=True))
    if postgres:
        op.drop_constraint(old_unique, table, type_="unique")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN value TYPE bytea USING convert_to(value, 'UTF8')")
    rows = conn.execute(sa.text(f"SELECT id, kind, value FROM {table}")).all()
    update = sa.text(f"UPDATE {table} SET value = :sealed, value_index = :index WHERE id = :id")
    for start in range(0, len(rows), CHUNK):
        batch = [
            {"id": row.id, "sealed": ring.seal(_plain(row.value).encode()), "index": ring.index(row.kind, _plain(row.value))}
            for row in rows[start : start + CHUNK]
        ]
        conn.execute(update, batch)
    columns = ["value_index" if c == "value" else c for c in old_columns]
    new_unique = f"uq_{table}_" + "_".join(columns)
    with op.batch_alter_table(table) as batch_op:
        if not postgres:
            batch_op.drop_constraint(old_unique, type_="unique")
            batch_op.alter_column("value", type_=sa.LargeBinary(), existing_nullable=False)
        batch_op.alter_column("value_index", existing_type=sa.LargeBinary(length=16), nullable=False)
        batch_op.create_unique_constraint(new_unique, columns)


def _blind_blocks(conn: sa.Connection) -> None:
    """Blocking keys ``p:+7916…`` become ``p:<keyed HMAC of the whole key>`` (as ``filed_keys``)."""
    ring = pii.keys()
    rows = conn.execute(sa.text("SELECT key, customer_id FROM match_blocks")).all()
    if not rows:
        return
    conn.execute(sa.text("DELETE FROM match_blocks"))
    blinded = {(f"{key.partition(':')[0]}:{ring.token('block', key)}", customer_id) for key, customer_id in rows}
    insert = sa.text("INSERT INTO match_blocks (key, customer_id) VALUES (:key, :customer_id)")
    ordered = sorted(blinded)
    for start in range(0, len(ordered), CHUNK):
        conn.execute(insert, [{"key": k, "customer_id": c} for k, c in ordered[start : start + CHUNK]])


def _seal_attributes(conn: sa.Connection) -> None:
    """The sensitive attributes' values sealed inside the readable document (``PartlySealedJson``)."""
    ring = pii.keys()
    update = sa.text("UPDATE customers SET attributes = :attributes WHERE id = :id")
    if conn.dialect.name == "postgresql":
        update = sa.text("UPDATE customers SET attributes = CAST(:attributes AS jsonb) WHERE id = :id")
    batch = []
    for customer_id, attributes in conn.execute(sa.text("SELECT id, attributes FROM customers")).all():
        document = orjson.loads(attributes) if isinstance(attributes, str | bytes) else attributes
        if not isinstance(document, dict) or not any(k in document for k in SEALED_ATTRIBUTES):
            continue
        sealed = {
            k: pii.SEALED_MARK + base64.b64encode(ring.seal(orjson.dumps(v))).decode() if k in SEALED_ATTRIBUTES else v
            for k, v in document.items()
        }
        batch.append({"id": customer_id, "attributes": orjson.dumps(sealed).decode()})
        if len(batch) >= CHUNK:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)
