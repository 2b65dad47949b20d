"""progress feedback (进度反馈): dated progress reports on open items

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 12:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'progress_report',
        sa.Column('id', _BigId, primary_key=True, autoincrement=True),
        sa.Column('occurrence_id', _BigId, sa.ForeignKey('occurrence.id'), nullable=False),
        sa.Column('reported_on', sa.Date(), nullable=False),
        sa.Column('percent', sa.Integer(), nullable=False),
        sa.Column('done', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('difficulties', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('next_steps', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index('ix_progress_report_item_day', 'progress_report', ['occurrence_id', 'reported_on'])


def downgrade() -> None:
    op.drop_index('ix_progress_report_item_day', table_name='progress_report')
    op.drop_table('progress_report')
