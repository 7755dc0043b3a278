"""identity resolution: merges, conflicts, mapping rules, matcher tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import okno.kit.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('proves', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_rules')),
    sa.UniqueConstraint('kind', 'source', name=op.f('uq_identity_rules_kind_source')),
    sqlite_autoincrement=True
    )
    op.create_table('match_terms',
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('field', 'value', name=op.f('pk_match_terms')),
    sqlite_autoincrement=True
    )
    op.create_table('customer_merges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('survivor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merged_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('moved', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('merged_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('merged_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('undone_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undo_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['merged_by_id'], ['operators.id'], name=op.f('fk_customer_merges_merged_by_id_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_id'], ['customers.id'], name=op.f('fk_customer_merges_merged_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survivor_id'], ['customers.id'], name=op.f('fk_customer_merges_survivor_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['operators.id'], name=op.f('fk_customer_merges_undone_by_id_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.create_index('ix_customer_merges_merged', ['merged_id', 'id'], unique=False)
        batch_op.create_index('ix_customer_merges_survivor', ['survivor_id', 'id'], unique=False)

    op.create_table('match_blocks',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_match_blocks_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', 'customer_id', name=op.f('pk_match_blocks')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('match_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_match_blocks_customer', ['customer_id'], unique=False)

    op.create_table('match_profiles',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_match_profiles_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_match_profiles')),
    sqlite_autoincrement=True
    )
    op.create_table('matcher_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['operators.id'], name=op.f('fk_matcher_settings_updated_by_id_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matcher_settings')),
    sqlite_autoincrement=True
    )
    op.create_table('identity_conflicts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claimant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('merge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['claimant_id'], ['customers.id'], name=op.f('fk_identity_conflicts_claimant_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merge_id'], ['customer_merges.id'], name=op.f('fk_identity_conflicts_merge_id_customer_merges'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['customers.id'], name=op.f('fk_identity_conflicts_owner_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['operators.id'], name=op.f('fk_identity_conflicts_resolved_by_id_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_conflicts')),
    sa.UniqueConstraint('kind', 'value', 'owner_id', 'claimant_id', name=op.f('uq_identity_conflicts_kind_value_owner_id_claimant_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('identity_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_conflicts_claimant_id'), ['claimant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_conflicts_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_identity_conflicts_status', ['status', 'id'], unique=False)

    op.create_table('match_suggestions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('other_customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('contributions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_match_suggestions_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['other_customer_id'], ['customers.id'], name=op.f('fk_match_suggestions_other_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['operators.id'], name=op.f('fk_match_suggestions_decided_by_id_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_suggestions')),
    sa.UniqueConstraint('customer_id', 'other_customer_id', name=op.f('uq_match_suggestions_customer_id_other_customer_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('match_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_suggestions_other_customer_id'), ['other_customer_id'], unique=False)
        batch_op.create_index('ix_match_suggestions_status', ['status', 'score'], unique=False)

    _add_merged_into_column()


def downgrade() -> None:
    _drop_merged_into_column()
    op.drop_table('match_suggestions')

    with op.batch_alter_table('identity_conflicts', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_conflicts_status')
        batch_op.drop_index(batch_op.f('ix_identity_conflicts_owner_id'))
        batch_op.drop_index(batch_op.f('ix_identity_conflicts_claimant_id'))

    op.drop_table('identity_conflicts')
    op.drop_table('matcher_settings')
    op.drop_table('match_profiles')
    with op.batch_alter_table('match_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_match_blocks_customer')

    op.drop_table('match_blocks')
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_merges_survivor')
        batch_op.drop_index('ix_customer_merges_merged')

    op.drop_table('customer_merges')
    op.drop_table('match_terms')
    op.drop_table('identity_rules')


def _add_merged_into_column() -> None:
    """``customers.merged_into_id``. On SQLite a plain ``ADD COLUMN … REFERENCES`` (a batch
    rebuild would drop ``customers``, and the drop cascades into every referencing table)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if "merged_into_id" not in {c["name"] for c in sa.inspect(bind).get_columns("customers")}:  # kept by a downgrade
            op.execute("ALTER TABLE customers ADD COLUMN merged_into_id INTEGER REFERENCES customers (id) ON DELETE SET NULL")
    else:
        op.add_column("customers", sa.Column("merged_into_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            op.f("fk_customers_merged_into_id_customers"), "customers", "customers", ["merged_into_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index(op.f("ix_customers_merged_into_id"), "customers", ["merged_into_id"], unique=False)


def _drop_merged_into_column() -> None:
    op.drop_index(op.f("ix_customers_merged_into_id"), table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite can't drop a column that is part of a foreign key, and a batch rebuild of
        # ``customers`` would cascade-delete every referencing row: the unused column stays.
        op.execute("UPDATE customers SET merged_into_id = NULL")
        return
    op.drop_constraint(op.f("fk_customers_merged_into_id_customers"), "customers", type_="foreignkey")
    op.drop_column("customers", "merged_into_id")
