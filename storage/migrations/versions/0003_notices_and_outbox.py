"""notices and outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:52:58.668120
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('recipient_kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('recipient_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('transport', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('text_body', sa.Text(), nullable=True),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sending_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_recipient_day', ['recipient_kind', 'recipient_id', 'day'], unique=False)

    op.create_table('workday_index',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurrence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('swept_on', sa.Date(), nullable=False),
    sa.Column('workdays', sa.Integer(), nullable=False),
    sa.Column('recipient_kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('digest_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('link_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['digest_id'], ['outbox.id'], ),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('occurrence_id', 'stage')
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index('ix_notice_digest', ['digest_id'], unique=False)
        batch_op.create_index('ix_notice_recipient', ['recipient_kind', 'recipient_id', 'digest_id'], unique=False)

    with op.batch_alter_table('jurisdiction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalate_to_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('escalate_next_id', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('jurisdiction', schema=None) as batch_op:
        batch_op.drop_column('escalate_next_id')
        batch_op.drop_column('escalate_to_id')

    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_recipient')
        batch_op.drop_index('ix_notice_digest')

    op.drop_table('notice')
    op.drop_table('workday_index')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recipient_day')
        batch_op.drop_index('ix_outbox_pending')

    op.drop_table('outbox')
