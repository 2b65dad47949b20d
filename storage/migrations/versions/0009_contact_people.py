"""contacts as people: name, title, mobile and messaging account beside the address; who keeps
a contact (the directory file, or the contacts workbook); the same for a unit's supervisor

A contact row so far held a display name and an address, derived from the directory file. The
contacts workbook (duban contacts import) names the person behind it; rows it wrote are marked
``source = 'sheet'`` and a later directory sync leaves them alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PEOPLE = ("person", "title", "mobile", "im_account")


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch:
        for name in PEOPLE:
            batch.add_column(sa.Column(name, sa.String(), nullable=True))
        batch.add_column(sa.Column('source', sa.String(length=10), nullable=False, server_default='directory'))
    with op.batch_alter_table('jurisdiction') as batch:
        for name in PEOPLE:
            batch.add_column(sa.Column(f'supervisor_{name}', sa.String(), nullable=True))
        batch.add_column(sa.Column('supervisor_source', sa.String(length=10), nullable=False,
                                   server_default='directory'))


def downgrade() -> None:
    with op.batch_alter_table('jurisdiction') as batch:
        batch.drop_column('supervisor_source')
        for name in PEOPLE:
            batch.drop_column(f'supervisor_{name}')
    with op.batch_alter_table('contact') as batch:
        batch.drop_column('source')
        for name in PEOPLE:
            batch.drop_column(name)
