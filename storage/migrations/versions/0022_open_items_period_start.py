"""open items by due day and period start: the report's long open items from the index

The report's progress part (进度反馈) looks for the open items of the period whose period is
long (a year, a far one-off deadline). The open-items index held the due day only, so every
open item of the period was read from the table to learn when its period began, and a hundred
long ones were kept of 180,000 (province benchmark: 0.40 s on SQLite, 0.27 s on PostgreSQL).
The index now holds the period's start too (and on PostgreSQL the item's id, for an index-only
scan): the long ones are told from the rest in the index (0.03 s on both).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 21:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

OPEN = sa.text("done_count < required AND waived_at IS NULL")


def upgrade() -> None:
    op.drop_index('ix_occurrence_open', table_name='occurrence')
    op.create_index('ix_occurrence_open', 'occurrence', ['due', 'period_start'], unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN, postgresql_include=['id'])


def downgrade() -> None:
    op.drop_index('ix_occurrence_open', table_name='occurrence')
    op.create_index('ix_occurrence_open', 'occurrence', ['due'], unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN)
