"""hand reminders (催办): a coordinator's reminder sent by hand, beside the notice row and the
outbox message it went out in

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-03 08:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = '0010'
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'hand_reminder',
        sa.Column('id', _BigId, primary_key=True, autoincrement=True),
        sa.Column('occurrence_id', _BigId, sa.ForeignKey('occurrence.id'), nullable=False),
        sa.Column('notice_id', _BigId, nullable=False, unique=True),
        sa.Column('outbox_id', _BigId, nullable=True),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    )
    op.create_index('ix_hand_reminder_occurrence_id', 'hand_reminder', ['occurrence_id'])


def downgrade() -> None:
    op.drop_index('ix_hand_reminder_occurrence_id', table_name='hand_reminder')
    op.drop_table('hand_reminder')
