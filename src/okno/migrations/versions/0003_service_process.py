"""service process: statuses, reasons, assignment, SLA

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# Frozen here (a migration must not change when the code's defaults do); keys of the statuses
# equal the values conversations already carry, so existing rows keep their meaning.
SEED_STATUSES = [
    {'key': 'open', 'type': 'open', 'label': {'ru': 'Открыто', 'en': 'Open'}, 'position': 10},
    {'key': 'pending', 'type': 'pending', 'label': {'ru': 'Ждём ответа клиента', 'en': 'Waiting for customer'}, 'position': 20},
    {'key': 'on_hold', 'type': 'on_hold', 'label': {'ru': 'Отложено', 'en': 'On hold'}, 'position': 30},
    {'key': 'resolved', 'type': 'resolved', 'label': {'ru': 'Решено', 'en': 'Resolved'}, 'position': 40},
    {'key': 'closed', 'type': 'closed', 'label': {'ru': 'Закрыто', 'en': 'Closed'}, 'position': 50},
]
SEED_REASONS = [
    {'key': 'delivery', 'label': {'ru': 'Вопрос о доставке', 'en': 'Delivery question'}, 'active': True, 'position': 10},
    {'key': 'payment', 'label': {'ru': 'Оплата', 'en': 'Payment'}, 'active': True, 'position': 20},
    {'key': 'return', 'label': {'ru': 'Возврат товара', 'en': 'Return'}, 'active': True, 'position': 30},
    {'key': 'complaint', 'label': {'ru': 'Жалоба', 'en': 'Complaint'}, 'active': True, 'position': 40},
    {'key': 'consultation', 'label': {'ru': 'Консультация', 'en': 'Consultation'}, 'active': True, 'position': 50},
    {'key': 'other', 'label': {'ru': 'Другое', 'en': 'Other'}, 'active': True, 'position': 60},
]


def upgrade() -> None:
    statuses = op.create_table('conversation_statuses',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('label', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_conversation_statuses')),
    )
    reasons = op.create_table('closing_reasons',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_closing_reasons')),
    )
    op.bulk_insert(statuses, SEED_STATUSES)
    op.bulk_insert(reasons, SEED_REASONS)

    op.create_table('business_calendars',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('weekly', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('holidays', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendars')),
    sa.UniqueConstraint('name', name=op.f('uq_business_calendars_name')),
    sqlite_autoincrement=True
    )
    op.create_table('sla_policies',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('targets', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('warning_minutes', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('name', name=op.f('uq_sla_policies_name')),
    sqlite_autoincrement=True
    )
    op.create_table('sla_targets',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('policy_id', BIG_ID, nullable=True),
    sa.Column('calendar_id', BIG_ID, nullable=True),
    sa.Column('target_seconds', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('started_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consumed_seconds', sa.Integer(), nullable=False),
    sa.Column('due_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warned_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breached_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('business_seconds', sa.Integer(), nullable=True),
    sa.Column('wall_seconds', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_sla_targets_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_sla_targets_policy_id_sla_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['calendar_id'], ['business_calendars.id'], name=op.f('fk_sla_targets_calendar_id_business_calendars'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_targets')),
    sa.UniqueConstraint('conversation_id', 'metric', 'cycle', name=op.f('uq_sla_targets_conversation_id_metric_cycle')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_sla_targets_open', 'sla_targets', ['state', 'policy_id'], unique=False)
    op.create_table('timers',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ref_id', BIG_ID, nullable=False),
    sa.Column('due_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fired_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timers')),
    sa.UniqueConstraint('kind', 'ref_id', name=op.f('uq_timers_kind_ref_id')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_timers_due', 'timers', ['fired_at', 'due_at'], unique=False)
    op.create_table('routing_rules',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('events', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('conditions', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('actions', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('stop', sa.Boolean(), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_routing_rules_name')),
    sqlite_autoincrement=True
    )
    op.create_table('canned_answers',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('team_id', BIG_ID, nullable=True),
    sa.Column('shortcut', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_canned_answers_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_answers')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_canned_answers_shortcut', 'canned_answers', ['shortcut', 'language'], unique=False)
    op.create_table('automation_rules',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('conditions', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('actions', okno.kit.db.JsonDoc, nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_automation_rules_name')),
    sqlite_autoincrement=True
    )

    # plain ADD COLUMNs: on SQLite a table rebuild would cascade-delete the rows that refer to it
    op.add_column('conversations', sa.Column('sla_due_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('conversations', sa.Column('tags', okno.kit.db.JsonDoc, nullable=False, server_default=sa.text("'[]'")))
    op.create_index('ix_conversations_sla_due_at', 'conversations', ['sla_due_at'], unique=False)
    _add_reference('conversations', 'sla_policy_id', 'sla_policies')
    op.add_column('conversations', sa.Column('required_skills', okno.kit.db.JsonDoc, nullable=False, server_default=sa.text("'[]'")))
    op.add_column('conversations', sa.Column('medium', sa.String(length=8), nullable=False, server_default='chat'))
    op.add_column('conversations', sa.Column('queued_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('conversations', sa.Column('assigned_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_conversations_queue', 'conversations', ['team_id', 'queued_at'], unique=False)
    op.create_index('ix_conversations_assignee_status', 'conversations', ['assignee_id', 'status'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':  # SQLite does not enforce VARCHAR lengths
        op.alter_column('conversations', 'status', type_=sa.String(length=32), existing_type=sa.String(length=16), existing_nullable=False)

    op.add_column('operators', sa.Column('presence', sa.String(length=16), nullable=False, server_default='offline'))
    op.add_column('operators', sa.Column('presence_changed_at', okno.kit.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('operators', sa.Column('experienced', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('operators', sa.Column('skills', okno.kit.db.JsonDoc, nullable=False, server_default=sa.text("'[]'")))
    op.add_column('operators', sa.Column('capacity', okno.kit.db.JsonDoc, nullable=False,
                                         server_default=sa.text('\'{"chat": 5, "email": 10, "call": 1}\'')))

    op.add_column('teams', sa.Column('assignment_strategy', sa.String(length=20), nullable=False, server_default='manual'))
    op.add_column('teams', sa.Column('sticky', sa.Boolean(), nullable=False, server_default=sa.true()))
    _add_reference('teams', 'calendar_id', 'business_calendars')
    _add_reference('teams', 'sla_policy_id', 'sla_policies')
    _add_reference('teams', 'escalation_team_id', 'teams')
    op.add_column('teams', sa.Column('last_assigned_operator_id', BIG_ID, nullable=True))


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable ``ON DELETE SET NULL`` reference column, added in place on both backends."""
    name = f'fk_{table}_{column}_{target}'
    if op.get_bind().dialect.name == 'sqlite':  # ADD COLUMN … REFERENCES: no table rebuild
        op.execute(f'ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {target} (id) ON DELETE SET NULL')
    else:
        op.add_column(table, sa.Column(column, BIG_ID, nullable=True))
        op.create_foreign_key(name, table, target, [column], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    # SQLite cannot drop a column that carries a foreign key in place; rebuilding those tables
    # would cascade-delete their dependants, so the downgrade is PostgreSQL-only past this point
    for column in ('last_assigned_operator_id', 'escalation_team_id', 'sla_policy_id', 'calendar_id', 'sticky', 'assignment_strategy'):
        _drop_column('teams', column)
    op.drop_index('ix_conversations_assignee_status', table_name='conversations')
    op.drop_index('ix_conversations_queue', table_name='conversations')
    for column in ('assigned_at', 'queued_at', 'medium', 'required_skills', 'sla_policy_id'):
        _drop_column('conversations', column)
    # plain DROP COLUMNs (SQLite >= 3.35), for the same reason as above
    for column in ('capacity', 'skills', 'experienced', 'presence_changed_at', 'presence'):
        op.drop_column('operators', column)
    op.drop_index('ix_conversations_sla_due_at', table_name='conversations')
    for column in ('tags', 'sla_due_at'):
        op.drop_column('conversations', column)
    op.drop_table('automation_rules')
    op.drop_index('ix_canned_answers_shortcut', table_name='canned_answers')
    op.drop_table('canned_answers')
    op.drop_table('routing_rules')
    op.drop_index('ix_timers_due', table_name='timers')
    op.drop_table('timers')
    op.drop_index('ix_sla_targets_open', table_name='sla_targets')
    op.drop_table('sla_targets')
    op.drop_table('sla_policies')
    op.drop_table('business_calendars')
    op.drop_table('closing_reasons')
    op.drop_table('conversation_statuses')


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == 'sqlite' and column in _FK_COLUMNS.get(table, ()):
        raise NotImplementedError(f'downgrade of {table}.{column} on SQLite: restore a backup taken before 0003 instead')
    op.drop_column(table, column)


_FK_COLUMNS = {'teams': ('escalation_team_id', 'sla_policy_id', 'calendar_id'), 'conversations': ('sla_policy_id',)}
