"""Every table of duban, in one module (the SQLModel way). Rows are written by the repository
modules beside this one; the domain core never imports this."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
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
    # only these units owe it (catalog ``units``): their codes as /code/code/, NULL for every unit
    units: str | None = None


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
    supervisor_person: str | None = None      # 联系人, from the contacts workbook
    supervisor_title: str | None = None
    supervisor_mobile: str | None = None
    supervisor_im_account: str | None = None
    supervisor_source: str = Field(default="directory", max_length=10, sa_column_kwargs={"server_default": "directory"})
    # the supervisor's own notice preferences (see Contact.channels)
    supervisor_channels: str | None = Field(default=None, max_length=60)
    supervisor_digest_time: str | None = Field(default=None, max_length=5)
    supervisor_quiet_hours: str | None = Field(default=None, max_length=11)
    # where escalations go: the nearest unit at or above this one with a supervisor, and the
    # next such unit above that (kept up to date by the sweep)
    escalate_to_id: int | None = None
    escalate_next_id: int | None = None


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "department_key"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    department_key: str = Field(foreign_key="department.key", max_length=64)
    name: str                                 # the office as mail addresses it: 石家庄市教育局
    email: str | None = None
    webhook: str | None = None
    person: str | None = None                 # 联系人, from the contacts workbook
    title: str | None = None                  # 职务
    mobile: str | None = None                 # 手机
    im_account: str | None = None             # 钉钉 / 企业微信 account
    source: str = Field(default="directory", max_length=10, sa_column_kwargs={"server_default": "directory"})
    # directory: derived from directory.yaml at each sync; sheet: written by the contacts workbook
    # notice preferences: channels in order ("dingtalk,email"; None: notify.channels), the local
    # time the day's digest goes out ("08:30"; None: notify.send_time), quiet hours ("22:00-07:00")
    channels: str | None = Field(default=None, max_length=60)
    digest_time: str | None = Field(default=None, max_length=5)
    quiet_hours: str | None = Field(default=None, max_length=11)


_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite rowid needs INTEGER


class Case(SQLModel, table=True):
    """A key child under care (重点关爱服务对象, 一人一档). Pseudonymous: no names are stored."""

    __tablename__ = "care_case"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)  # village, or township
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    director: str | None = None  # the responsible children's director (name or staff code)
    opened: dt.date
    closed: dt.date | None = None
    note: str | None = None


class SchedulePeriod(SQLModel, table=True):
    """An obligation's cadence expanded once: its periods, shared by every assignee and case."""

    __tablename__ = "schedule_period"
    __table_args__ = (UniqueConstraint("obligation_id", "period_key"),)
    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    period_key: str = Field(max_length=24)
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    required: int
    schedule_hash: str = Field(max_length=64)


_OPEN = sa.text("done_count < required AND waived_at IS NULL")   # an item still owed
_WAITING = sa.text("digest_id IS NULL")                              # a notice not yet in a digest
_SUBMITTED = sa.text("submitted_at IS NOT NULL")                     # an item awaiting review


class Occurrence(SQLModel, table=True):
    """One obligation owed by one assignee (department or role at a unit, or per case) for one
    period. Unique on (obligation, unit, party, case, period): materialize inserts with
    ON CONFLICT DO NOTHING. ``done_count`` and ``completed_on`` follow the completions."""

    __table_args__ = (
        sa.Index("ux_occurrence_key", "obligation_id", "jurisdiction_id", "party_key",
                 sa.text("coalesce(case_id, 0)"), "period_key", unique=True),
        # due-date ranges; also covers every column the report aggregates read (index-only scans),
        # the status rule's submitted_at included (migration 0021)
        sa.Index("ix_occurrence_due_cover", "due", "plan_id", "obligation_id", "party_key", "jurisdiction_id",
                 "required", "done_count", "completed_on", "waived_at", "submitted_at"),
        sa.Index("ix_occurrence_party_unit", "party_key", "jurisdiction_id"),
        # the items still owed, by due day: what every sweep looks for (migration 0008); with the
        # period's start, the report's long open items are told apart in the index (migration 0022)
        sa.Index("ix_occurrence_open", "due", "period_start", sqlite_where=_OPEN, postgresql_where=_OPEN,
                 postgresql_include=["id"]),
        # the review queue: the few items awaiting a coordinator (migration 0017)
        sa.Index("ix_occurrence_submitted", "submitted_at", sqlite_where=_SUBMITTED, postgresql_where=_SUBMITTED),
    )
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    # derived rows, written only by materialize's INSERT … SELECT over the rows these point at:
    # no foreign-key constraints (their per-row checks were 58% of a province's materialize on
    # PostgreSQL); `duban db check` finds a dangling reference (migration 0006)
    obligation_id: int
    plan_id: str = Field(index=True, max_length=64)
    jurisdiction_id: int
    party_key: str = Field(max_length=64)
    case_id: int | None = Field(default=None, index=True)
    period_key: str = Field(max_length=24)
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    required: int = 1
    done_count: int = 0
    completed_on: dt.date | None = None   # the judged day it was done (obligations/timeliness.py)
    waived_at: dt.datetime | None = None
    waived_by: str | None = None
    waived_reason: str | None = None
    original_due: dt.date | None = None   # the due date before an approved extension (migration 0010)
    # since when a completion that reached the required count awaits a coordinator's review
    # (待审核); cleared when accepted or returned (migration 0017)
    submitted_at: dt.datetime | None = None


_RETURNED = sa.text("returned_at IS NOT NULL")
_FLAGGED = sa.text("flagged")   # a completion dated too long before it was recorded (补登待核)


class Completion(SQLModel, table=True):
    """What an assignee did: append-only. ``done_on`` is the day claimed, ``recorded_at`` when it
    was recorded, ``judged_on`` the day timeliness uses (the recording day for a ``flagged`` one)."""

    __table_args__ = (sa.Index("ix_completion_flagged", "occurrence_id", sqlite_where=_FLAGGED,
                               postgresql_where=_FLAGGED),
                      # the report's returns (退回, migration 0021): the few returned ones only
                      sa.Index("ix_completion_returned", "occurrence_id", sqlite_where=_RETURNED,
                               postgresql_where=_RETURNED))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    occurrence_id: int = Field(sa_column=Column(_BigId, sa.ForeignKey("occurrence.id"), index=True, nullable=False))
    recorded_at: dt.datetime
    done_on: dt.date
    actor: str
    count: int = 1
    note: str | None = None
    evidence_path: str | None = None
    channel: str = Field(max_length=16)  # cli | web | email | api | import
    judged_on: dt.date | None = None     # null only for rows recorded before migration 0010
    flagged: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # a coordinator returned it (退回, migration 0017): it no longer counts towards the item
    returned_at: dt.datetime | None = None
    returned_by: str | None = None
    return_reason: str | None = None


class WorkdayIndex(SQLModel, table=True):
    """Working days as numbers: ``idx`` counts working days up to and including ``day`` (a rest
    day shares the index of the working day before it). Working days between two dates is then
    a subtraction in SQL."""

    __tablename__ = "workday_index"
    day: dt.date = Field(primary_key=True)
    idx: int


class Notice(SQLModel, table=True):
    """One stage of one occurrence, notified once (the unique key is the idempotency key). The
    rows are also the statistics of what was sent (reminders, overdue notices, escalations)."""

    __table_args__ = (UniqueConstraint("occurrence_id", "stage"),
                      # only the rows left waiting for tomorrow's digest (migration 0007)
                      sa.Index("ix_notice_waiting", "recipient_kind", "recipient_id",
                               sqlite_where=_WAITING, postgresql_where=_WAITING),
                      sa.Index("ix_notice_digest", "digest_id"),
                      # rows arrive day by day: BRIN on PostgreSQL, a B-tree on SQLite
                      sa.Index("ix_notice_swept", "swept_on", "kind", postgresql_using="brin"))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    occurrence_id: int = Field(sa_column=Column(_BigId, nullable=False))   # no FK: derived, see Occurrence
    stage: str = Field(max_length=16)      # remind-7, remind-1, due, overdue-1, overdue-2 …, escalate-1, escalate-2
    kind: str = Field(max_length=10)       # remind | due | overdue | escalate
    swept_on: dt.date
    workdays: int                          # working days left (remind) or late (overdue, escalate)
    recipient_kind: str = Field(max_length=10)  # contact | supervisor
    recipient_id: int                           # contact.id, or the supervising jurisdiction.id
    digest_id: int | None = Field(default=None, sa_column=Column(_BigId, nullable=True))
    link_used_at: dt.datetime | None = None


class Outbox(SQLModel, table=True):
    """One message to one recipient: the day's digest. Rendered when delivery first claims it,
    then sent at least once with a Message-ID derived from ``key``."""

    __table_args__ = (sa.Index("ix_outbox_pending", "status", "next_attempt_at"),
                      sa.Index("ix_outbox_recipient_day", "recipient_kind", "recipient_id", "day"))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    key: str = Field(unique=True, max_length=80)       # digest:<kind>:<id>:<day>
    recipient_kind: str = Field(max_length=10)
    recipient_id: int
    day: dt.date
    channel: str = Field(max_length=10)                # email | dingtalk | wecom | none
    address: str | None = None                         # e-mail address or webhook URL
    recipient_name: str | None = None
    transport: str | None = Field(default=None, max_length=10)  # smtp | file | http, set when sent
    subject: str | None = None
    text_body: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    html_body: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    items: int = 0
    status: str = Field(default="pending", max_length=10)  # notifications.outbox.OutboxStatus (its moves live there)
    attempts: int = 0
    next_attempt_at: dt.datetime
    sending_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    message_id: str | None = None
    last_error: str | None = None
    created_at: dt.datetime
    # the channels to try, in order, fixed when the digest is rendered (JSON, notifications.routing);
    # the provider's error code of the last failure (a dead letter keeps it)
    route: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    error_code: str | None = Field(default=None, max_length=80)


class UserAccount(SQLModel, table=True):
    """A person who signs in to the web app. ``role``: coordinator (their jurisdiction and
    below), supervisor (read and report, their jurisdiction and below), department (their own
    department at their own unit), director (a children's director: their own cases' items)."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    display_name: str
    password_hash: str
    role: str = Field(max_length=16)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    department_key: str | None = Field(default=None, foreign_key="department.key", max_length=64)
    director: str | None = Field(default=None, max_length=64)   # matches care_case.director
    active: bool = True
    created_at: dt.datetime
    ics_salt: str | None = Field(default=None, max_length=32)   # in the account's ICS feed URL; new: the old URL stops


class ApiToken(SQLModel, table=True):
    """A bearer token for /api/v1, acting as its user (stored as a SHA-256 hash only)."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    label: str | None = None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None       # every token made since 0011 has one
    last_used_at: dt.datetime | None = None


class ItemRequest(SQLModel, table=True):
    """A department's request to waive an item or extend its due date (延期), reviewed by a
    coordinator."""

    __tablename__ = "item_request"
    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(sa_column=Column(_BigId, sa.ForeignKey("occurrence.id"), index=True, nullable=False))
    kind: str = Field(max_length=10)            # waiver | extension
    reason: str
    new_due: dt.date | None = None
    requested_by: str
    requested_at: dt.datetime
    status: str = Field(default="pending", max_length=10)   # pending | approved | rejected
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str | None = None


class AuditEntry(SQLModel, table=True):
    """Who did what, when, with the object before and after: completions, waivers, extensions,
    accounts, catalog loads."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_object", "object_type", "object_id"),)
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    at: dt.datetime = Field(index=True)
    actor: str
    action: str = Field(max_length=32)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64)
    jurisdiction_id: int | None = Field(default=None, index=True)   # for coordinators' visibility
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class HandReminder(SQLModel, table=True):
    """A coordinator's reminder sent by hand (催办): who, when, with what note, for which item,
    through which notice row (kind ``urge``) and outbox message (migration 0016)."""

    __tablename__ = "hand_reminder"
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    occurrence_id: int = Field(sa_column=Column(_BigId, sa.ForeignKey("occurrence.id"), index=True, nullable=False))
    notice_id: int = Field(sa_column=Column(_BigId, unique=True, nullable=False))
    outbox_id: int | None = Field(default=None, sa_column=Column(_BigId, nullable=True))
    actor: str
    at: dt.datetime
    note: str | None = None


class ProgressReport(SQLModel, table=True):
    """A dated progress report on an open item (进度反馈): how far it is (percent), what was done,
    the difficulties and the next steps, by whom and through which channel; append-only
    (migration 0018). The sweep asks long items for one on feedback days (obligations.feedback)."""

    __tablename__ = "progress_report"
    __table_args__ = (sa.Index("ix_progress_report_item_day", "occurrence_id", "reported_on"),
                      # the report's count of a period's reports (migration 0021)
                      sa.Index("ix_progress_report_day", "reported_on", "occurrence_id"))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    occurrence_id: int = Field(sa_column=Column(_BigId, sa.ForeignKey("occurrence.id"), nullable=False))
    reported_on: dt.date
    percent: int
    done: str
    difficulties: str | None = None
    next_steps: str | None = None
    actor: str
    channel: str = Field(max_length=16)   # cli | web | api | demo
    created_at: dt.datetime


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random key, the table its SHA-256. Ended at
    sign-out, when the account is disabled or its password changed, after the idle timeout and
    at the absolute timeout (``web.session_idle_minutes``, ``web.session_hours``)."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    client: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str | None = Field(default=None, max_length=16)   # logout | idle | expired | disabled | password


class SignInFailure(SQLModel, table=True):
    """A refused sign-in (wrong password, unknown name, locked or disabled account), by the name
    typed and the client address: the throttle counts these rows, so it holds across processes."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (sa.Index("ix_sign_in_failure_username_at", "username", "at"),
                      sa.Index("ix_sign_in_failure_client_at", "client", "at"))
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    username: str = Field(max_length=64)
    client: str = Field(max_length=64)


class DataVersion(SQLModel, table=True):
    """One row: a number every committed write advances (storage/versions.py), so that figures
    computed from the data (the dashboard, the reports) can be cached until something changes,
    across every process that writes (web, scheduler, CLI, workers)."""

    __tablename__ = "data_version"
    id: int = Field(default=1, primary_key=True)
    v: int = Field(default=0, sa_column=Column(sa.BigInteger(), nullable=False, server_default="0"))


class IssuedReport(SQLModel, table=True):
    """A 督查通报 as issued: its number (期号) counted per issuer and year, the period and scope it
    covers, when and by whom. Writing the same report again (another format, a corrected copy)
    keeps its number; the scope key tells one report from another."""

    __tablename__ = "issued_report"
    __table_args__ = (UniqueConstraint("issuer", "year", "number", name="uq_issued_report_number"),
                      UniqueConstraint("issuer", "year", "scope_key", name="uq_issued_report_scope"))
    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=200)
    year: int
    number: int
    series: str = Field(max_length=32)
    scope_key: str = Field(max_length=300)       # period key | plan | jurisdiction | children
    period_start: dt.date
    period_end: dt.date
    plan_id: str | None = Field(default=None, max_length=64)
    jurisdiction: str | None = Field(default=None, max_length=200)
    issued_on: dt.date
    issued_at: dt.datetime
    issued_by: str = Field(max_length=200)
    cc: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ChannelSend(SQLModel, table=True):
    """What went out through a channel: one row per (channel, recipient, local day, content).
    The unique key is the platforms' rule "the same content to the same person at most once a
    day" kept in duban before sending; the rows also count each channel's daily quota."""

    __tablename__ = "channel_send"
    __table_args__ = (UniqueConstraint("channel", "recipient", "day", "digest"),
                      sa.Index("ix_channel_send_day", "channel", "day"))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    channel: str = Field(max_length=10)        # email | dingtalk | wecom | sms
    recipient: str = Field(max_length=255)     # the address, userid or mobile it went to
    day: dt.date                               # local day (schedule.timezone)
    digest: str = Field(max_length=64)         # sha256 of subject and text
    outbox_id: int | None = Field(default=None, sa_column=Column(sa.BigInteger, nullable=True))
    transport: str = Field(max_length=10)
    request_id: str | None = Field(default=None, max_length=120)   # the provider's request / message id
    sent_at: dt.datetime


class CoConfirmation(SQLModel, table=True):
    """A co-department's confirmation of its part (协办确认) on the lead department's item, for
    obligations with ``co_departments: confirm`` (migration 0019). Materialize writes one row per
    co-department with a contact at the item's unit (pending: ``confirmed_at`` null); the
    co-department confirms once, through storage.workflow.confirm_part."""

    __tablename__ = "co_confirmation"
    __table_args__ = (UniqueConstraint("occurrence_id", "party_key"),
                      sa.Index("ix_co_confirmation_party", "party_key", "occurrence_id"))
    id: int | None = Field(default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True))
    occurrence_id: int = Field(sa_column=Column(_BigId, nullable=False))   # no FK: derived, see Occurrence
    party_key: str = Field(max_length=64)
    confirmed_at: dt.datetime | None = None
    confirmed_by: str | None = None
    note: str | None = None
