"""completion dates that mean something: the day timeliness judges and a flag beside the day
claimed; the original due date beside an extended one

A completion's ``done_on`` is the day the department says it did the work; ``judged_on`` is the
day its timeliness is judged by (the recording day when the claimed day lies more than the grace
before it, and then ``flagged``). Rows recorded before this revision are judged by their claimed
day, as they were. ``occurrence.original_due`` keeps the due date an approved extension moved.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

FLAGGED = sa.text("flagged")


def upgrade() -> None:
    with op.batch_alter_table('completion') as batch:
        batch.add_column(sa.Column('judged_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('flagged', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE completion SET judged_on = done_on")
    op.create_index('ix_completion_flagged', 'completion', ['occurrence_id'], unique=False,
                    sqlite_where=FLAGGED, postgresql_where=FLAGGED)
    with op.batch_alter_table('occurrence') as batch:
        batch.add_column(sa.Column('original_due', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('occurrence') as batch:
        batch.drop_column('original_due')
    op.drop_index('ix_completion_flagged', table_name='completion')
    with op.batch_alter_table('completion') as batch:
        batch.drop_column('flagged')
        batch.drop_column('judged_on')
