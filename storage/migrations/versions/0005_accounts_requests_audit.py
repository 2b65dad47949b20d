"""web app: accounts, API tokens, waiver and extension requests, audit trail

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 00:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', S(length=64), nullable=False),
    sa.Column('display_name', S(), nullable=False),
    sa.Column('password_hash', S(), nullable=False),
    sa.Column('role', S(length=16), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('department_key', S(length=64), nullable=True),
    sa.Column('director', S(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_key'], ['department.key'], ),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', S(length=64), nullable=False),
    sa.Column('label', S(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_api_token_user_id', 'api_token', ['user_id'], unique=False)
    op.create_table('item_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', BIGID, nullable=False),
    sa.Column('kind', S(length=10), nullable=False),
    sa.Column('reason', S(), nullable=False),
    sa.Column('new_due', sa.Date(), nullable=True),
    sa.Column('requested_by', S(), nullable=False),
    sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', S(length=10), nullable=False),
    sa.Column('decided_by', S(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decision_note', S(), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_item_request_occurrence_id', 'item_request', ['occurrence_id'], unique=False)
    op.create_table('audit_entry',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', S(), nullable=False),
    sa.Column('action', S(length=32), nullable=False),
    sa.Column('object_type', S(length=32), nullable=False),
    sa.Column('object_id', S(length=64), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entry_at', 'audit_entry', ['at'], unique=False)
    op.create_index('ix_audit_entry_jurisdiction_id', 'audit_entry', ['jurisdiction_id'], unique=False)
    op.create_index('ix_audit_object', 'audit_entry', ['object_type', 'object_id'], unique=False)


def downgrade() -> None:
    op.drop_table('audit_entry')
    op.drop_table('item_request')
    op.drop_table('api_token')
    op.drop_table('user_account')
