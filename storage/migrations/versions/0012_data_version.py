"""data version: one row whose number every committed write advances, so that the dashboard's
and the reports' figures are computed once per change instead of once per request

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'data_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('v', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(table, [{'id': 1, 'v': 0}])


def downgrade() -> None:
    op.drop_table('data_version')
