"""The outbox as a state machine: the statuses of an outbox row, the moves allowed between them,
and every move as a function. Nothing else in duban writes ``outbox.status``.

::

    pending ──claim──▶ sending ──mark_sent──▶ sent (final)
       ▲ ▲                │ │ │
       │ └────────────────┘ │ └──mark_skipped──▶ skipped ──requeue──▶ pending
       │  recover_stale,    └──mark_failed (dead)──▶ dead ──requeue──▶ pending
       │  put_back, mark_failed (retry)                ▲
       └── requeue (a waiting row)   pending ──dead_without_address──┘

A row is created ``pending`` (the sweep's digest insert). Delivery claims it (``sending``)
before any I/O and records the outcome in its own commit: ``sent``; ``pending`` again with a
backoff (a transient failure) or ``dead`` (a permanent one, or the last attempt); ``pending``
with its attempt given back when its channel turned out unreachable in this run; ``skipped``
when everything in it was done or waived before it was rendered. A ``sending`` row whose worker
died goes back to ``pending`` after the lease. A worker whose lease ran out may still finish:
its outcome (``sent``, ``dead``, or a retry) is then recorded on the ``pending`` row the lease
gave back. ``sent`` is final; ``dead`` and ``skipped`` (and a waiting ``pending`` row) go back
to the queue only by hand (``duban outbox retry``).

Each function changes only rows in its transition's source statuses (the guard is part of
the UPDATE's WHERE) and returns how many rows it changed: a move from any other status
changes nothing. The values stay the strings stored in ``outbox.status`` (no migration)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from storage.tables import Outbox


class OutboxStatus(StrEnum):
    """The status of an outbox row; each value is the string stored in ``outbox.status``.
    A ``StrEnum`` (``str`` and ``Enum``): a member equals, formats and binds as its string."""

    PENDING = "pending"    # waiting to be sent (from next_attempt_at on)
    SENDING = "sending"    # claimed by a worker, being sent (since sending_at)
    SENT = "sent"          # accepted by the server or the robot: final
    SKIPPED = "skipped"    # nothing left to send: every item was done or waived before rendering
    DEAD = "dead"          # failed for good (permanent error, attempts used up, no address)


PENDING, SENDING, SENT, SKIPPED, DEAD = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT,
                                         OutboxStatus.SKIPPED, OutboxStatus.DEAD)

# The moves allowed from each status, written down once. Every transition below is checked
# against this table when the module is imported.
ALLOWED: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    # claim; a late outcome of a worker whose lease ran out (sent, dead, retry); no address;
    # requeue (a waiting row: due now, attempts reset)
    PENDING: frozenset({SENDING, SENT, DEAD, PENDING}),
    # sent; retry, channel down, lease expired (pending); failed for good (dead); nothing to send
    SENDING: frozenset({SENT, PENDING, DEAD, SKIPPED}),
    SENT: frozenset(),          # final: a sent notice is never queued again
    SKIPPED: frozenset({PENDING}),    # requeue
    DEAD: frozenset({PENDING}),       # requeue
}


@dataclass(frozen=True)
class Transition:
    """One move of the state machine: from any of ``sources`` to ``target``."""

    name: str
    sources: tuple[OutboxStatus, ...]
    target: OutboxStatus

    def guard(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """``status = 'x'`` or ``status IN ('x', 'y')``: the WHERE that makes the move a no-op
        for a row in any other status."""
        if len(self.sources) == 1:
            return column == status_sql(self.sources[0])
        return column.in_([status_sql(s) for s in self.sources])


CLAIM = Transition("claim", (PENDING,), SENDING)
RECOVER = Transition("recover_stale", (SENDING,), PENDING)
SEND = Transition("mark_sent", (SENDING, PENDING), SENT)
RETRY = Transition("mark_failed (retry)", (SENDING, PENDING), PENDING)
FAIL = Transition("mark_failed (dead)", (SENDING, PENDING), DEAD)
PUT_BACK = Transition("put_back", (SENDING,), PENDING)
SKIP = Transition("mark_skipped", (SENDING,), SKIPPED)
NO_ADDRESS = Transition("dead_without_address", (PENDING,), DEAD)
REQUEUE = Transition("requeue", (DEAD, PENDING, SKIPPED), PENDING)
TRANSITIONS = (CLAIM, RECOVER, SEND, RETRY, FAIL, PUT_BACK, SKIP, NO_ADDRESS, REQUEUE)


def _check(transitions: Iterable[Transition]) -> None:
    for t in transitions:
        for source in t.sources:
            if t.target not in ALLOWED[source]:
                raise AssertionError(f"outbox transition {t.name}: {source.value} → {t.target.value} is not allowed")


_check(TRANSITIONS)

# the messages a person reads in `duban outbox list` (last_error)
STALE_ERROR = "发送中断（进程退出），重新排队"
SKIPPED_REASON = "所列事项均已办结或豁免，无需发送"
NO_ADDRESS_ERROR = "无联系方式：部门目录和通讯录中没有该单位的邮箱、机器人地址、钉钉/企业微信账号或手机"

outbox = Outbox.__table__
_c = outbox.c


def status_sql(status: OutboxStatus) -> sa.BindParameter:
    """A status in SQL: rendered inline as its string literal (``'pending'``), as the statements
    had it when written by hand, so the planner sees the value."""
    return sa.literal(OutboxStatus(status).value, sa.String(10), literal_execute=True)


def unrendered_pending(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """A digest still open to more items: pending and not rendered yet."""
    return sa.and_(table.c.status == status_sql(PENDING), table.c.subject.is_(None))


def _move(t: Transition, *where: sa.ColumnElement[bool], **values) -> sa.Update:
    return sa.update(outbox).where(*where, t.guard(_c.status)).values(status=status_sql(t.target), **values)


# ---------------------------------------------------------------- delivery: claim and lease

def claim_statement(dialect: str, now: dt.datetime, limit: int) -> sa.Update:
    """pending → sending for up to ``limit`` due rows, RETURNING their ids. On PostgreSQL the
    rows are picked in a CTE with FOR UPDATE SKIP LOCKED (evaluated once), so concurrent workers
    never take the same row; SQLite serializes writers, and the outer guard repeats the status."""
    due = (sa.select(_c.id).where(CLAIM.guard(_c.status), _c.next_attempt_at <= now)
           .order_by(_c.id).limit(limit))
    claimed = dict(status=status_sql(SENDING), attempts=_c.attempts + sa.literal(1, literal_execute=True), sending_at=now)
    if dialect == "postgresql":
        picked = due.with_for_update(skip_locked=True).cte("picked")
        return (sa.update(outbox).where(_c.id == picked.c.id).values(**claimed).returning(_c.id))
    return (sa.update(outbox).where(_c.id.in_(due.correlate(None)), CLAIM.guard(_c.status))
            .values(**claimed).returning(_c.id))


def claim(engine: Engine, now: dt.datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` due rows ``sending`` (attempts + 1) and return their ids, sorted.
    On PostgreSQL the rows are picked in a CTE with FOR UPDATE SKIP LOCKED (evaluated once), so
    concurrent workers never take the same row."""
    with engine.begin() as conn:
        rows = conn.execute(claim_statement(conn.dialect.name, now, limit)).all()
    return sorted(r[0] for r in rows)


def recover_stale(engine: Engine, now: dt.datetime, lease: dt.timedelta) -> int:
    """sending → pending for rows claimed longer than ``lease`` ago (their worker died): they
    are sent again, with the same Message-ID."""
    with engine.begin() as conn:
        return conn.execute(_move(RECOVER, _c.sending_at < now - lease, last_error=STALE_ERROR)).rowcount or 0


# ---------------------------------------------------------------- delivery: outcomes

def _commit_mark(conn: Connection, stmt: sa.Update) -> bool:
    """Record an outcome in its own commit. On PostgreSQL the marker connection does not wait
    for the WAL flush (synchronous_commit off, set by the caller for the run):
    only a database-server crash could lose the mark, and a lost `sent` mark means a resend
    with the same Message-ID (the documented window), never a lost notice."""
    with conn.begin():
        return bool(conn.execute(stmt).rowcount)


def mark_sent(conn: Connection, oid: int, *, message_id: str, transport: str,
              sent_at: dt.datetime | None = None, channel: str | None = None, address: str | None = None) -> bool:
    """sending (or pending, see the module's doc) → sent, in its own commit; with ``channel``
    and ``address``: the channel of the route that delivered it."""
    via = {"channel": channel, "address": address} if channel else {}
    return _commit_mark(conn, _move(SEND, _c.id == oid, sent_at=sent_at or dt.datetime.now(dt.UTC),
                                    message_id=message_id, transport=transport, last_error=None, error_code=None,
                                    **via))


def mark_failed(conn: Connection, oid: int, error: str, *, dead: bool, retry_at: dt.datetime,
                code: str | None = None) -> bool:
    """A failed send, in its own commit: back to pending until ``retry_at`` (the backoff), or
    dead (a permanent error, or the last attempt); ``code``: the provider's error code."""
    extra = {"error_code": code[:80]} if code else {}
    return _commit_mark(conn, _move(FAIL if dead else RETRY, _c.id == oid, last_error=error[:500],
                                    next_attempt_at=retry_at, **extra))


def put_back(conn: Connection, oid: int, attempts: int) -> bool:
    """sending → pending, not tried: its channel was found unreachable in this run. The row
    keeps its place in the queue and gets back the attempt its claim counted (``attempts`` is
    the count before the claim)."""
    return _commit_mark(conn, _move(PUT_BACK, _c.id == oid, attempts=attempts, sending_at=None))


def postpone(conn: Connection, oid: int, attempts: int, until: dt.datetime, reason: str) -> bool:
    """sending → pending until ``until``, not tried (the recipient's quiet hours, or every
    channel over its daily limit): the attempt its claim counted is given back."""
    return _commit_mark(conn, _move(PUT_BACK, _c.id == oid, attempts=attempts, sending_at=None,
                                    next_attempt_at=until, last_error=reason))


def mark_skipped(conn: Connection | Session, ids: list[int]) -> int:
    """sending → skipped: everything in these digests was completed or waived since the sweep.
    Runs in the caller's transaction (the batch's rendering commit)."""
    if not ids:
        return 0
    return conn.execute(_move(SKIP, _c.id.in_(ids), last_error=SKIPPED_REASON)).rowcount or 0


# ---------------------------------------------------------------- the sweep, and by hand

def dead_without_address(conn: Connection | Session, day: dt.date) -> int:
    """pending → dead for the day's digests whose recipient has no e-mail address nor robot
    (channel 'none'). Runs in the sweep's transaction."""
    return conn.execute(_move(NO_ADDRESS, _c.day == day, _c.channel == sa.literal("none", literal_execute=True),
                              last_error=NO_ADDRESS_ERROR)).rowcount or 0


def requeue(engine: Engine, outbox_id: int, now: dt.datetime | None = None) -> bool:
    """`duban outbox retry ID`: a dead, skipped or waiting row goes back to the queue, due now,
    with its attempts reset. A sent or sending row is left alone (False)."""
    with engine.begin() as conn:
        return bool(conn.execute(_move(REQUEUE, _c.id == outbox_id,
                                       next_attempt_at=now or dt.datetime.now(dt.UTC),
                                       attempts=0)).rowcount)
