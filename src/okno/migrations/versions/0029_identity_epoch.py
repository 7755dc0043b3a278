"""identity_epoch: a counter every change of who owns an identity key moves

Revision ID: 0029_identity_epoch
Revises: 0028_rollup_update_columns
Create Date: 2026-12-07 13:00:00

The webhook intake remembers, per process, the owner of each identity key it has looked up
(``okno.customers.known_owners``) and trusts it only while this counter holds the value it was
read with. Triggers move the counter in the same transaction as any change that could make a
remembered owner wrong: an identity's row changed (moved to another customer by a merge, an undo
or a conflict's resolution, re-indexed by a key rotation) or deleted (an erasure, an edit), a
customer deleted, a customer's non-empty name changed (empty names are never remembered, so
filling one, as the intake does, moves nothing). Inserting an identity moves nothing either: a
key that has an owner cannot be inserted again, and keys without one are never remembered.

The counter starts at a random value, so a database made again behind a process's back does not
repeat one it had. On PostgreSQL the triggers are deferred constraint triggers that move the
counter once per transaction, at its commit: its one row is locked only for that last step,
never between two row locks of the transaction (no new lock-order deadlock between two merges).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0029_identity_epoch"
down_revision = "0028_rollup_update_columns"
branch_labels = None
depends_on = None

# (trigger name, its event on its table, its WHEN) for both dialects
_TRIGGERS = (
    ("identity_epoch_identity_changed", "UPDATE OF customer_id, kind, value_index ON identities", None),
    ("identity_epoch_identity_deleted", "DELETE ON identities", None),
    ("identity_epoch_customer_deleted", "DELETE ON customers", None),
    ("identity_epoch_customer_renamed", "UPDATE OF name ON customers", "OLD.name <> '' AND NEW.name IS NOT OLD.name"),
)

_BUMP_FUNCTION = """CREATE FUNCTION identity_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
IF current_setting('okno.identity_epoch_moved', true) IS DISTINCT FROM txid_current()::text THEN
PERFORM set_config('okno.identity_epoch_moved', txid_current()::text, true);
UPDATE identity_epoch SET value = value + 1;
END IF;
RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table("identity_epoch", sa.Column("value", sa.BigInteger(), nullable=False))
    op.execute(sa.text("INSERT INTO identity_epoch (value) VALUES (:start)").bindparams(start=secrets.randbelow(2**52)))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BUMP_FUNCTION)
        for name, event, when in _TRIGGERS:
            condition = f" WHEN ({when.replace(' IS NOT ', ' IS DISTINCT FROM ')})" if when else ""
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} DEFERRABLE INITIALLY DEFERRED"
                f" FOR EACH ROW{condition} EXECUTE FUNCTION identity_epoch_bump()"
            )
    else:
        for name, event, when in _TRIGGERS:
            condition = f" WHEN {when}" if when else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW{condition} BEGIN UPDATE identity_epoch SET value = value + 1; END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, event, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {event.rsplit(' ON ', 1)[1]}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS identity_epoch_bump()")
    op.drop_table("identity_epoch")
