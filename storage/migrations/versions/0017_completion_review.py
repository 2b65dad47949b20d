"""review of completions (办结审核): an item awaiting a coordinator's acceptance, and completions
returned with a reason

``occurrence.submitted_at`` is set when a completion brings an item that needs review to its
required count (待审核) and cleared when a coordinator accepts it or returns it.
``completion.returned_at``/``returned_by``/``return_reason`` mark the completion a coordinator
returned (退回): it no longer counts, and the item is open again. Items completed before this
revision stay as they were (accepted).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence') as batch:
        batch.add_column(sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('completion') as batch:
        batch.add_column(sa.Column('returned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('returned_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_index('ix_occurrence_submitted', 'occurrence', ['submitted_at'], unique=False,
                    sqlite_where=sa.text("submitted_at IS NOT NULL"),
                    postgresql_where=sa.text("submitted_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index('ix_occurrence_submitted', table_name='occurrence')
    with op.batch_alter_table('completion') as batch:
        batch.drop_column('return_reason')
        batch.drop_column('returned_by')
        batch.drop_column('returned_at')
    with op.batch_alter_table('occurrence') as batch:
        batch.drop_column('submitted_at')
