"""cases, schedule periods, occurrences, completions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 21:34:37.562987
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('care_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('director', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('opened', sa.Date(), nullable=False),
    sa.Column('closed', sa.Date(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('care_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_case_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('occurrence',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('party_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('period_key', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('done_count', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('waived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('waived_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('waived_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['care_case.id'], ),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], ),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], ),
    sa.ForeignKeyConstraint(['party_key'], ['department.key'], ),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrence_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_occurrence_due', ['due'], unique=False)
        batch_op.create_index('ix_occurrence_party_unit', ['party_key', 'jurisdiction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_plan_id'), ['plan_id'], unique=False)
    # the assignment key; case_id is NULL for unit-scoped occurrences, so coalesce it
    op.create_index("ux_occurrence_key", "occurrence",
                    ["obligation_id", "jurisdiction_id", "party_key", sa.text("coalesce(case_id, 0)"), "period_key"],
                    unique=True)

    op.create_table('schedule_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('schedule_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('obligation_id', 'period_key')
    )
    with op.batch_alter_table('schedule_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_period_obligation_id'), ['obligation_id'], unique=False)

    op.create_table('completion',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurrence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('evidence_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('completion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completion_occurrence_id'), ['occurrence_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('completion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completion_occurrence_id'))

    op.drop_table('completion')
    with op.batch_alter_table('schedule_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_period_obligation_id'))

    op.drop_table('schedule_period')
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_plan_id'))
        batch_op.drop_index('ix_occurrence_party_unit')
        batch_op.drop_index('ix_occurrence_due')
        batch_op.drop_index(batch_op.f('ix_occurrence_case_id'))

    op.drop_index('ux_occurrence_key', table_name='occurrence')
    op.drop_table('occurrence')
    with op.batch_alter_table('care_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_case_jurisdiction_id'))

    op.drop_table('care_case')
