"""Dangling references in the derived tables.

``occurrence`` and ``notice`` carry no foreign-key constraints (migration 0006): they are
written only by set statements that join the rows they point at, and duban deletes none of
those rows. A hand edit of the database could still leave a reference pointing nowhere; this
finds it with one anti-join per reference (``duban db check``)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class Reference:
    table: str
    column: str
    target: str
    key: str
    label: str


REFERENCES = (
    Reference("occurrence", "obligation_id", "obligation", "id", "督办事项 → 义务"),
    Reference("occurrence", "plan_id", "plan", "id", "督办事项 → 实施方案"),
    Reference("occurrence", "jurisdiction_id", "jurisdiction", "id", "督办事项 → 单位"),
    Reference("occurrence", "party_key", "department", "key", "督办事项 → 部门"),
    Reference("occurrence", "case_id", "care_case", "id", "督办事项 → 服务对象"),
    Reference("notice", "occurrence_id", "occurrence", "id", "通知 → 督办事项"),
    Reference("notice", "digest_id", "outbox", "id", "通知 → 发件箱"),
)


@dataclass(frozen=True)
class Dangling:
    reference: Reference
    rows: int
    examples: list[int]          # ids of a few rows that point nowhere


def dangling(conn, limit: int = 5) -> list[Dangling]:
    """Every reference of the derived tables that points at no row, with a few example ids."""
    found = []
    for ref in REFERENCES:
        where = (f"FROM {ref.table} x WHERE x.{ref.column} IS NOT NULL AND NOT EXISTS "
                 f"(SELECT 1 FROM {ref.target} t WHERE t.{ref.key} = x.{ref.column})")
        rows = conn.execute(sa.text(f"SELECT count(*) {where}")).scalar() or 0
        if rows:
            examples = [r[0] for r in conn.execute(sa.text(f"SELECT x.id {where} ORDER BY x.id LIMIT :n"),
                                                   {"n": limit})]
            found.append(Dangling(ref, rows, examples))
    return found
