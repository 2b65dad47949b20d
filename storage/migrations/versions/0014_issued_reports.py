"""issued reports: the 期号 of each 督查通报, counted per issuer and year

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

S = sqlmodel.sql.sqltypes.AutoString


revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'issued_report',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('issuer', S(length=200), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('series', S(length=32), nullable=False),
        sa.Column('scope_key', S(length=300), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('plan_id', S(length=64), nullable=True),
        sa.Column('jurisdiction', S(length=200), nullable=True),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('issued_by', S(length=200), nullable=False),
        sa.Column('cc', sa.JSON(), nullable=False),
        sa.UniqueConstraint('issuer', 'year', 'number', name='uq_issued_report_number'),
        sa.UniqueConstraint('issuer', 'year', 'scope_key', name='uq_issued_report_scope'),
    )


def downgrade() -> None:
    op.drop_table('issued_report')
