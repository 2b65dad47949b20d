"""occurrence and notice without foreign-key constraints

Both tables are derived: they are written only by set statements (materialize's INSERT … SELECT,
the sweep's staging INSERT … SELECT) that join the rows they point at, and duban never deletes
those rows (plans and obligations retire, cases close, units and departments stay). On
PostgreSQL the per-row foreign-key triggers took 58% of materializing a province's year
(52 s → 22 s without them, benchmarks/run.py); `duban db check` finds any dangling reference
that a hand edit could leave. Tables people write into (completion, requests, accounts) keep
their foreign keys.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
S = sqlmodel.sql.sqltypes.AutoString
COVER = ["due", "plan_id", "obligation_id", "party_key", "jurisdiction_id", "required", "done_count",
         "completed_on", "waived_at"]
OCCURRENCE_FKS = {"obligation_id": "obligation.id", "plan_id": "plan.id", "jurisdiction_id": "jurisdiction.id",
                  "party_key": "department.key", "case_id": "care_case.id"}
NOTICE_FKS = {"occurrence_id": "occurrence.id", "digest_id": "outbox.id"}


def _occurrence(md: sa.MetaData, fks: bool) -> sa.Table:
    def ref(col):
        return [sa.ForeignKey(OCCURRENCE_FKS[col])] if fks else []

    t = sa.Table(
        'occurrence', md,
        sa.Column('id', BIGID, primary_key=True, autoincrement=True, nullable=False),
        sa.Column('obligation_id', sa.Integer(), *ref('obligation_id'), nullable=False),
        sa.Column('plan_id', S(length=64), *ref('plan_id'), nullable=False),
        sa.Column('jurisdiction_id', sa.Integer(), *ref('jurisdiction_id'), nullable=False),
        sa.Column('party_key', S(length=64), *ref('party_key'), nullable=False),
        sa.Column('case_id', sa.Integer(), *ref('case_id'), nullable=True),
        sa.Column('period_key', S(length=24), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('required', sa.Integer(), nullable=False),
        sa.Column('done_count', sa.Integer(), nullable=False),
        sa.Column('completed_on', sa.Date(), nullable=True),
        sa.Column('waived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('waived_by', S(), nullable=True),
        sa.Column('waived_reason', S(), nullable=True),
    )
    sa.Index('ix_occurrence_case_id', t.c.case_id)
    sa.Index('ix_occurrence_plan_id', t.c.plan_id)
    sa.Index('ix_occurrence_party_unit', t.c.party_key, t.c.jurisdiction_id)
    sa.Index('ix_occurrence_due_cover', *[t.c[c] for c in COVER])
    sa.Index('ux_occurrence_key', t.c.obligation_id, t.c.jurisdiction_id, t.c.party_key,
             sa.func.coalesce(t.c.case_id, 0), t.c.period_key, unique=True)
    return t


def _notice(md: sa.MetaData, fks: bool) -> sa.Table:
    def ref(col):
        return [sa.ForeignKey(NOTICE_FKS[col])] if fks else []

    t = sa.Table(
        'notice', md,
        sa.Column('id', BIGID, primary_key=True, autoincrement=True, nullable=False),
        sa.Column('occurrence_id', BIGID, *ref('occurrence_id'), nullable=False),
        sa.Column('stage', S(length=16), nullable=False),
        sa.Column('kind', S(length=10), nullable=False),
        sa.Column('swept_on', sa.Date(), nullable=False),
        sa.Column('workdays', sa.Integer(), nullable=False),
        sa.Column('recipient_kind', S(length=10), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('digest_id', BIGID, *ref('digest_id'), nullable=True),
        sa.Column('link_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.UniqueConstraint('occurrence_id', 'stage'),
    )
    sa.Index('ix_notice_digest', t.c.digest_id)
    sa.Index('ix_notice_recipient', t.c.recipient_kind, t.c.recipient_id, t.c.digest_id)
    sa.Index('ix_notice_swept', t.c.swept_on, t.c.kind)
    return t


def _rebuild(fks: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, cols in (("occurrence", OCCURRENCE_FKS), ("notice", NOTICE_FKS)):
            for col, target in cols.items():
                name = f"{table}_{col}_fkey"
                if fks:
                    parent, key = target.split(".")
                    op.create_foreign_key(name, table, parent, [col], [key])
                else:
                    op.drop_constraint(name, table, type_="foreignkey")
        return
    # SQLite cannot drop or add a constraint: the table is rebuilt (alembic's batch mode), with
    # foreign keys off while it is (storage.db.migrate)
    for build in (_occurrence, _notice):
        table = build(sa.MetaData(), fks)
        with op.batch_alter_table(table.name, copy_from=table, recreate="always"):
            pass


def upgrade() -> None:
    _rebuild(fks=False)


def downgrade() -> None:
    _rebuild(fks=True)
