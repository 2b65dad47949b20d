"""Every table of duban, in one module (the SQLModel way). Rows are written by the repository
modules beside this one; the domain core never imports this."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class Plan(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    title: str
    issuer: str
    locality: str
    level: str = Field(max_length=16)
    issued: dt.date | None = None
    catalog_path: str | None = None
    source_sha256: str | None = Field(default=None, max_length=64)
    content_hash: str = Field(max_length=64)
    doc: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    loaded_at: dt.datetime
    updated_at: dt.datetime


class Clause(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", index=True, max_length=64)
    code: str = Field(max_length=32)  # the plan's own numbering: "1", "req-2", "list-20"
    position: int
    kind: str = Field(max_length=16)
    section: str | None = None
    title: str | None = None
    text: str
    line_first: int
    line_last: int
    content_hash: str = Field(max_length=64)
    doc: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = True


class ClauseDepartment(SQLModel, table=True):
    __tablename__ = "clause_department"
    id: int | None = Field(default=None, primary_key=True)
    clause_id: int = Field(foreign_key="clause.id", index=True)
    position: int
    name: str
    department_key: str = Field(foreign_key="department.key", max_length=64)
    role: str = Field(max_length=8)


class Obligation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", index=True, max_length=64)
    clause_id: int = Field(foreign_key="clause.id", index=True)
    code: str = Field(max_length=40)  # "1.1", "req-1.2", "list-20.p"
    position: int
    what: str
    scope: str = Field(max_length=16)
    cadence_kind: str = Field(max_length=16)
    origin: str = Field(max_length=8)
    generated: bool = False  # synthesized from the policy default, not written in the catalog
    cadence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    doc: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = True


class ObligationParty(SQLModel, table=True):
    """Who owes an obligation: a department key or a role key, in catalog order."""

    __tablename__ = "obligation_party"
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    position: int
    party_key: str = Field(foreign_key="department.key", index=True, max_length=64)


class Department(SQLModel, table=True):
    """A department key (civil_affairs …) or a role key (children_director …)."""

    key: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=12)  # department | role
    name: str
    doc: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Jurisdiction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str
    level: str = Field(max_length=16, index=True)
    parent_id: int | None = Field(default=None, foreign_key="jurisdiction.id")
    path: str = Field(index=True, max_length=255)  # root-to-unit codes, '/'-joined, trailing '/'
    supervisor_name: str | None = None
    supervisor_email: str | None = None
    supervisor_webhook: str | None = None


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "department_key"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    department_key: str = Field(foreign_key="department.key", max_length=64)
    name: str
    email: str | None = None
    webhook: str | None = None
