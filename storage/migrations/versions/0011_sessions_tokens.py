"""server-side web sessions; sign-in failures for the throttle; API tokens expire and record their
last use; a per-account salt in the ICS feed URL

Tokens made before this revision get an expiry 90 days from the upgrade (they never had one);
every account gets its own ICS salt, so its feed URL can be changed alone (the old
department-wide URLs stop working).

Revision ID: 0011
Revises: 0016
Create Date: 2026-12-03 08:00:00
"""
import datetime as dt
import secrets

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = "0016"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', S(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client', S(length=64), nullable=True),
    sa.Column('created_at', T(), nullable=False),
    sa.Column('last_seen_at', T(), nullable=False),
    sa.Column('ended_at', T(), nullable=True),
    sa.Column('end_reason', S(length=16), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_index('ix_web_session_user_id', 'web_session', ['user_id'], unique=False)
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', T(), nullable=False),
    sa.Column('username', S(length=64), nullable=False),
    sa.Column('client', S(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sign_in_failure_at', 'sign_in_failure', ['at'], unique=False)
    op.create_index('ix_sign_in_failure_username_at', 'sign_in_failure', ['username', 'at'], unique=False)
    op.create_index('ix_sign_in_failure_client_at', 'sign_in_failure', ['client', 'at'], unique=False)
    with op.batch_alter_table('api_token') as batch:
        batch.add_column(sa.Column('expires_at', T(), nullable=True))
        batch.add_column(sa.Column('last_used_at', T(), nullable=True))
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(sa.Column('ics_salt', S(length=32), nullable=True))
    conn = op.get_bind()
    token = sa.table('api_token', sa.column('expires_at', T()))
    conn.execute(token.update().values(expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=90)))
    user = sa.table('user_account', sa.column('id', sa.Integer()), sa.column('ics_salt', S()))
    for (uid,) in conn.execute(sa.select(user.c.id)).all():     # accounts are few
        conn.execute(user.update().where(user.c.id == uid).values(ics_salt=secrets.token_hex(16)))


def downgrade() -> None:
    with op.batch_alter_table('user_account') as batch:
        batch.drop_column('ics_salt')
    with op.batch_alter_table('api_token') as batch:
        batch.drop_column('last_used_at')
        batch.drop_column('expires_at')
    op.drop_index('ix_sign_in_failure_client_at', table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_username_at', table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_at', table_name='sign_in_failure')
    op.drop_table('sign_in_failure')
    op.drop_index('ix_web_session_user_id', table_name='web_session')
    op.drop_table('web_session')
