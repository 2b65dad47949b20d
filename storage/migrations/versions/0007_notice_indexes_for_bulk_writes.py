"""notice indexes for bulk writes: the waiting rows by recipient as a partial index, the
swept-day index as BRIN on PostgreSQL

A heavy reminder day writes 200,000 notice rows; each paid five index insertions. The
recipient index served only the lookup of rows left waiting (no digest yet), which are a
handful: a partial index holds just those. Notices are appended day by day, so on PostgreSQL a
BRIN index finds a day's rows for the reports at a fraction of a B-tree's upkeep (SQLite has no
BRIN and keeps its B-tree).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 06:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

WAITING = sa.text("digest_id IS NULL")


def upgrade() -> None:
    op.drop_index('ix_notice_recipient', table_name='notice')
    op.create_index('ix_notice_waiting', 'notice', ['recipient_kind', 'recipient_id'], unique=False,
                    sqlite_where=WAITING, postgresql_where=WAITING)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_notice_swept', table_name='notice')
        op.create_index('ix_notice_swept', 'notice', ['swept_on', 'kind'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_notice_swept', table_name='notice')
        op.create_index('ix_notice_swept', 'notice', ['swept_on', 'kind'], unique=False)
    op.drop_index('ix_notice_waiting', table_name='notice')
    op.create_index('ix_notice_recipient', 'notice', ['recipient_kind', 'recipient_id', 'digest_id'], unique=False)
