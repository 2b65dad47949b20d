"""co-department confirmations (协办确认): for obligations with ``co_departments: confirm`` the
lead department's item carries one row per co-department, confirmed once by that department

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 12:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'co_confirmation',
        sa.Column('id', _BigId, primary_key=True, autoincrement=True),
        sa.Column('occurrence_id', _BigId, nullable=False),
        sa.Column('party_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('confirmed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('confirmed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.UniqueConstraint('occurrence_id', 'party_key'),
    )
    op.create_index('ix_co_confirmation_party', 'co_confirmation', ['party_key', 'occurrence_id'])


def downgrade() -> None:
    op.drop_index('ix_co_confirmation_party', table_name='co_confirmation')
    op.drop_table('co_confirmation')
