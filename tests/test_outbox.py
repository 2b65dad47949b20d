"""The outbox state machine (notifications.outbox): the statuses are the strings stored, and
every move changes a row only from its allowed source statuses. Runs on SQLite and, with
DUBAN_DATABASE_URL, on PostgreSQL."""
import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from notifications import outbox as ob
from notifications.outbox import ALLOWED, OutboxStatus, Transition
from storage.tables import Outbox

NOW = dt.datetime(2025, 4, 28, 2, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 4, 28)
LEASE = dt.timedelta(minutes=10)


def test_the_enum_values_are_the_strings_stored(engine):
    assert [s.value for s in OutboxStatus] == ["pending", "sending", "sent", "skipped", "dead"]
    assert OutboxStatus.SENT == "sent" and f"{OutboxStatus.DEAD}" == "dead" and str(OutboxStatus.PENDING) == "pending"
    assert Outbox.__table__.c.status.default.arg == OutboxStatus.PENDING
    with Session(engine) as s, s.begin():
        s.add(_row(OutboxStatus.SKIPPED, "k-enum"))
    with engine.connect() as c:
        stored = c.execute(sa.text("SELECT status FROM outbox WHERE key = 'k-enum'")).scalar()
    assert type(stored) is str and stored == "skipped" and OutboxStatus(stored) is OutboxStatus.SKIPPED
    with Session(engine) as s:
        assert s.scalar(sa.select(Outbox.status).where(Outbox.key == "k-enum")) == OutboxStatus.SKIPPED


def test_every_transition_is_allowed_by_the_table():
    assert set(ALLOWED) == set(OutboxStatus)
    assert ALLOWED[OutboxStatus.SENT] == frozenset()                 # final
    assert ALLOWED[OutboxStatus.DEAD] == ALLOWED[OutboxStatus.SKIPPED] == {OutboxStatus.PENDING}
    ob._check(ob.TRANSITIONS)
    with pytest.raises(AssertionError, match="sent → pending"):
        ob._check([Transition("resurrect", (OutboxStatus.SENT,), OutboxStatus.PENDING)])
    assert set(ob.REQUEUE.sources) == {OutboxStatus.DEAD, OutboxStatus.PENDING, OutboxStatus.SKIPPED}


def _row(status: OutboxStatus, key: str) -> Outbox:
    """A row every move would take if its status allowed it: due, claimed long ago, no address."""
    return Outbox(key=key, recipient_kind="contact", recipient_id=1, day=DAY, channel="none", address=None,
                  status=status, attempts=2, next_attempt_at=NOW - dt.timedelta(hours=1),
                  sending_at=NOW - 2 * LEASE, created_at=NOW - dt.timedelta(days=1), items=1)


def _rows(engine) -> dict[int, dict]:
    with engine.connect() as c:
        return {r["id"]: dict(r) for r in c.execute(sa.select(Outbox.__table__)).mappings()}


def _marked(fn):
    """A move on the marker connection (its own commit per row), for each id."""
    def run(engine, ids):
        with engine.connect() as conn:
            return sum(fn(conn, i) for i in ids)
    return run


def _in_transaction(fn):
    def run(engine, ids):
        with engine.begin() as conn:
            return fn(conn, ids)
    return run


MOVES = {
    "claim": (ob.CLAIM, lambda engine, ids: len(ob.claim(engine, NOW, 100))),
    "recover_stale": (ob.RECOVER, lambda engine, ids: ob.recover_stale(engine, NOW, LEASE)),
    "mark_sent": (ob.SEND, _marked(lambda c, i: ob.mark_sent(c, i, message_id="<m@x>", transport="smtp"))),
    "mark_failed retry": (ob.RETRY, _marked(lambda c, i: ob.mark_failed(c, i, "超时", dead=False, retry_at=NOW))),
    "mark_failed dead": (ob.FAIL, _marked(lambda c, i: ob.mark_failed(c, i, "拒收", dead=True, retry_at=NOW))),
    "put_back": (ob.PUT_BACK, _marked(lambda c, i: ob.put_back(c, i, 1))),
    "mark_skipped": (ob.SKIP, _in_transaction(ob.mark_skipped)),
    "dead_without_address": (ob.NO_ADDRESS, _in_transaction(lambda c, ids: ob.dead_without_address(c, DAY))),
    "requeue": (ob.REQUEUE, lambda engine, ids: sum(ob.requeue(engine, i, NOW) for i in ids)),
}


def test_each_move_changes_only_rows_in_its_source_statuses(engine):
    """One row in every status; each move is tried on all of them: the rows in its source
    statuses end in its target status, every other row is left exactly as it was."""
    assert {t for t, _ in MOVES.values()} == set(ob.TRANSITIONS)
    for name, (transition, move) in MOVES.items():
        with engine.begin() as c:
            c.execute(sa.delete(Outbox.__table__))
        with Session(engine) as s, s.begin():
            s.add_all([_row(status, f"k-{status}") for status in OutboxStatus])
        before = _rows(engine)
        changed = move(engine, list(before))
        after = _rows(engine)
        moved = {OutboxStatus(b["status"]) for i, b in before.items() if after[i] != b}
        assert moved == set(transition.sources), name
        assert changed == len(transition.sources), name
        for i, b in before.items():
            if OutboxStatus(b["status"]) in transition.sources:
                assert after[i]["status"] == transition.target, name
            else:
                assert after[i] == b, name


def test_a_mark_on_a_finished_row_changes_nothing(engine):
    with Session(engine) as s, s.begin():
        dead, sent = _row(OutboxStatus.DEAD, "k-dead"), _row(OutboxStatus.SENT, "k-sent")
        s.add_all([dead, sent])
        s.flush()
        ids = dead.id, sent.id
    before = _rows(engine)
    with engine.connect() as conn:
        assert not ob.mark_sent(conn, ids[0], message_id="<m@x>", transport="smtp")
        assert not ob.mark_failed(conn, ids[1], "x", dead=False, retry_at=NOW)
        assert not ob.put_back(conn, ids[1], 0)
    assert not ob.requeue(engine, ids[1], NOW)          # a sent notice is never queued again
    assert _rows(engine) == before
    assert ob.requeue(engine, ids[0], NOW)
    row = _rows(engine)[ids[0]]
    assert (row["status"], row["attempts"]) == ("pending", 0)


def test_a_late_outcome_lands_on_the_row_the_lease_gave_back(engine):
    """A worker slower than the lease: its row went back to pending; its `sent` still counts
    (the next claim would only send it again with the same Message-ID)."""
    with Session(engine) as s, s.begin():
        row = _row(OutboxStatus.PENDING, "k-late")
        row.channel = "email"
        s.add(row)
    (oid,) = ob.claim(engine, NOW, 10)
    assert ob.recover_stale(engine, NOW + 2 * LEASE, LEASE) == 1
    with engine.connect() as conn:
        assert ob.mark_sent(conn, oid, message_id="<m@x>", transport="smtp")
    assert _rows(engine)[oid]["status"] == "sent"
    assert ob.claim(engine, NOW + 3 * LEASE, 10) == []


def test_no_status_string_outside_the_state_machine():
    """The statuses are written only in notifications/outbox.py; the rest of the package uses
    the enum."""
    pattern = re.compile(r"""(['"])(pending|sending|sent|skipped|dead)\1""")
    package = Path(__file__).resolve().parents[1] / "notifications"
    found = [f"{p.name}:{n}" for p in sorted(package.glob("*.py")) if p.name != "outbox.py"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []
