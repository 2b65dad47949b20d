"""report indexes: the due-date index covers the columns the report aggregates read; notices by day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 23:45:00
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COVER = ["due", "plan_id", "obligation_id", "party_key", "jurisdiction_id", "required", "done_count",
         "completed_on", "waived_at"]


def upgrade() -> None:
    op.drop_index('ix_occurrence_due', table_name='occurrence')
    op.create_index('ix_occurrence_due_cover', 'occurrence', COVER, unique=False)
    op.create_index('ix_notice_swept', 'notice', ['swept_on', 'kind'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notice_swept', table_name='notice')
    op.drop_index('ix_occurrence_due_cover', table_name='occurrence')
    op.create_index('ix_occurrence_due', 'occurrence', ['due'], unique=False)
