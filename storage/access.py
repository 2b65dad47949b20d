"""Who may see and do what: one rule per role, as SQL filters over occurrences (so listings,
counts and single items obey the same rule) and as plain checks for actions.

- coordinator: every item of their jurisdiction and below; completes, reviews requests, sees audit
- supervisor: reads every item of their jurisdiction and below and fetches reports; changes nothing
- department: the items their department owes at their own unit; completes, requests waivers; and
  the items at their unit on which it is a co-department (协办, ``co_departments: confirm``):
  it sees them and confirms its part there, nothing else (storage/workflow.py)
- director (children's director): the items of the key-child cases they are responsible for"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import select

from storage.tables import Case, CoConfirmation, Jurisdiction, Occurrence

ROLES = {"coordinator": "协调员（民政）", "supervisor": "督查", "department": "责任部门", "director": "儿童主任"}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: str
    jurisdiction_id: int
    jurisdiction_path: str
    jurisdiction_name: str
    department_key: str | None = None
    director: str | None = None

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role, self.role)

    @property
    def sees_area(self) -> bool:
        return self.role in ("coordinator", "supervisor")

    @property
    def can_complete(self) -> bool:
        return self.role in ("coordinator", "department", "director")

    @property
    def can_review(self) -> bool:
        return self.role == "coordinator"

    @property
    def can_report(self) -> bool:
        return self.role in ("coordinator", "supervisor")


def occurrence_filter(p: Principal):
    """A WHERE clause restricting occurrences to what ``p`` may see."""
    if p.sees_area:
        area = select(Jurisdiction.id).where(Jurisdiction.path.like(p.jurisdiction_path + "%"))
        return Occurrence.jurisdiction_id.in_(area)
    if p.role == "department":
        # its own items at its unit, or those on which it is a co-department (协办确认): the unit
        # outside the OR, so that either way the unit's index narrows the rows first
        co = Occurrence.id.in_(select(CoConfirmation.occurrence_id).where(CoConfirmation.party_key == p.department_key))
        return sa.and_(Occurrence.jurisdiction_id == p.jurisdiction_id,
                       sa.or_(Occurrence.party_key == p.department_key, co))
    if p.role == "director":
        own = select(Case.id).where(Case.director == p.director, Case.jurisdiction_id.in_(
            select(Jurisdiction.id).where(Jurisdiction.path.like(p.jurisdiction_path + "%"))))
        return Occurrence.case_id.in_(own)
    return sa.false()


def jurisdiction_filter(p: Principal):
    """Units whose figures ``p`` may read (dashboards, reports, audit)."""
    if p.sees_area:
        return Jurisdiction.path.like(p.jurisdiction_path + "%")
    return Jurisdiction.id == p.jurisdiction_id


def co_department_filter(p: Principal):
    """The items at ``p``'s unit on which ``p``'s department is a co-department (协办确认)."""
    if p.role != "department" or not p.department_key:
        return sa.false()
    return sa.and_(Occurrence.jurisdiction_id == p.jurisdiction_id, Occurrence.id.in_(
        select(CoConfirmation.occurrence_id).where(CoConfirmation.party_key == p.department_key)))
