"""obligations owed by named units only: ``obligation.units`` holds the catalog's ``units``
(jurisdiction codes as /code/code/); NULL, as for every obligation before, means every unit of
the obligation's level.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligation') as batch:
        batch.add_column(sa.Column('units', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('obligation') as batch:
        batch.drop_column('units')
