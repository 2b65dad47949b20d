"""the report by index again: the status rule reads ``submitted_at`` (待审核, migration 0017), which
the report's covering index lacked, so every item of the period was read from the table; the index
now ends with it. And the report's returns (退回): a partial index of the few returned
completions, so that counting them per department and unit reads those rows only; and the
period's progress reports by their day.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 17:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

RETURNED = sa.text("returned_at IS NOT NULL")


COVER = ["due", "plan_id", "obligation_id", "party_key", "jurisdiction_id", "required", "done_count",
         "completed_on", "waived_at"]


def upgrade() -> None:
    op.create_index('ix_completion_returned', 'completion', ['occurrence_id'], unique=False,
                    sqlite_where=RETURNED, postgresql_where=RETURNED)
    op.drop_index('ix_occurrence_due_cover', table_name='occurrence')
    op.create_index('ix_occurrence_due_cover', 'occurrence', [*COVER, "submitted_at"], unique=False)
    op.create_index('ix_progress_report_day', 'progress_report', ['reported_on', 'occurrence_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_progress_report_day', table_name='progress_report')
    op.drop_index('ix_occurrence_due_cover', table_name='occurrence')
    op.create_index('ix_occurrence_due_cover', 'occurrence', COVER, unique=False)
    op.drop_index('ix_completion_returned', table_name='completion')
