"""notices through DingTalk work notices, WeCom app messages and SMS: each person's channels in
order, digest time and quiet hours; the route and the provider's error code on an outbox row;
what went out through each channel (once a day per content, daily quotas)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PREFS = (("channels", 60), ("digest_time", 5), ("quiet_hours", 11))


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch:
        for name, size in PREFS:
            batch.add_column(sa.Column(name, sa.String(length=size), nullable=True))
    with op.batch_alter_table('jurisdiction') as batch:
        for name, size in PREFS:
            batch.add_column(sa.Column(f'supervisor_{name}', sa.String(length=size), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('route', sa.Text(), nullable=True))
        batch.add_column(sa.Column('error_code', sa.String(length=80), nullable=True))
    op.create_table(
        'channel_send',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('recipient', sa.String(length=255), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('transport', sa.String(length=10), nullable=False),
        sa.Column('request_id', sa.String(length=120), nullable=True),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint('channel', 'recipient', 'day', 'digest'),
    )
    op.create_index('ix_channel_send_day', 'channel_send', ['channel', 'day'])


def downgrade() -> None:
    op.drop_index('ix_channel_send_day', table_name='channel_send')
    op.drop_table('channel_send')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('error_code')
        batch.drop_column('route')
    with op.batch_alter_table('jurisdiction') as batch:
        for name, _ in reversed(PREFS):
            batch.drop_column(f'supervisor_{name}')
    with op.batch_alter_table('contact') as batch:
        for name, _ in reversed(PREFS):
            batch.drop_column(name)
