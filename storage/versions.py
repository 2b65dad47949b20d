"""The data version: one number in the database (table ``data_version``) that every committed
write advances, in the same transaction as the write.

It is advanced in one place that every write passes, whoever makes it: the engine. ``track``
(installed by ``storage.db.make_engine`` on every engine duban makes) watches the statements a
connection executes; when a transaction that executed an INSERT, UPDATE or DELETE commits, one
``UPDATE data_version SET v = v + 1`` runs on the same connection just before the COMMIT. So a
person's action (with its audit row), a catalog load, an import, materialize, the sweep, a
delivery, the demo's simulation and anything written later all advance it, and none of them has
to remember to; a transaction that only reads leaves it alone.

Readers (the figure cache in reports/cache.py) read it with one cheap query (``current``): the
same number means the same data, in every process (web, scheduler, CLI, workers).

On PostgreSQL the row is locked from that UPDATE to the COMMIT right after it, so committing
writers queue on it for the length of a commit (about a millisecond); nothing is locked after it,
so it cannot deadlock. Migrations (``storage.db.migrate``) are not counted; a database whose schema
has no ``data_version`` yet (before migration 0012) is written as before, unversioned."""
from __future__ import annotations

import re
import weakref

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

WROTE = "duban_wrote"          # connection info: this transaction executed a write
UNTRACKED = "duban_untracked"  # connection info: do not advance (migrations)

_WRITE = re.compile(r"\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*\(?\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|TRUNCATE|WITH)\b",
                    re.IGNORECASE | re.DOTALL)
_CTE_WRITE = re.compile(r"\b(?:INSERT|DELETE)\b|(?<!FOR )(?<!FOR NO KEY )\bUPDATE\b", re.IGNORECASE)

# tables no figure is computed from: writes to them alone (a sign-in, a page view refreshing its
# session, a token's last use, the audit row of a sign-in) leave the version, and so the cache, alone
UNVERSIONED = frozenset({"web_session", "sign_in_failure", "api_token", "user_account", "audit_entry"})
_TARGET = re.compile(r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?", re.IGNORECASE)

_ready: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()     # pool → the table exists


def is_write(statement: str) -> bool:
    """Whether a statement changes rows: INSERT, UPDATE, DELETE (…), or a WITH … that does one
    (``SELECT … FOR UPDATE`` only locks)."""
    m = _WRITE.match(statement)
    if not m:
        return False
    if m.group(1).upper() != "WITH":
        return True
    return bool(_CTE_WRITE.search(statement))


def counts(statement: str) -> bool:
    """A write that can change a figure: any write but one whose target is an UNVERSIONED table."""
    if not is_write(statement):
        return False
    m = _TARGET.match(statement)
    return not (m and m.group(1).lower() in UNVERSIONED)


def track(engine: Engine) -> None:
    """Advance the data version with every committed write made through ``engine``."""

    @event.listens_for(engine, "before_cursor_execute")
    def _mark(conn: Connection, cursor, statement, parameters, context, executemany):
        if not conn.info.get(WROTE) and counts(statement):
            conn.info[WROTE] = True

    @event.listens_for(engine, "commit")
    def _advance(conn: Connection):
        if not conn.info.pop(WROTE, False) or conn.info.get(UNTRACKED):
            return
        dbapi = conn.connection.dbapi_connection
        if _aborted(conn, dbapi):
            return          # PostgreSQL turns this COMMIT into a ROLLBACK: nothing was written
        cursor = dbapi.cursor()
        try:
            if _has_table(conn, cursor):
                cursor.execute("UPDATE data_version SET v = v + 1 WHERE id = 1")
        finally:
            cursor.close()

    @event.listens_for(engine, "rollback")
    def _forget(conn: Connection):
        conn.info.pop(WROTE, None)

    @event.listens_for(engine, "reset")
    def _returned(dbapi_connection, record, reset_state):
        record.info.pop(WROTE, None)      # back in the pool: whatever was not committed is gone


def _aborted(conn: Connection, dbapi) -> bool:
    """A PostgreSQL transaction in which a statement failed (the caller swallowed the error)."""
    if conn.dialect.name != "postgresql":
        return False      # SQLite undoes only the failed statement; the others commit
    from psycopg.pq import TransactionStatus

    return dbapi.info.transaction_status == TransactionStatus.INERROR


def _has_table(conn: Connection, cursor) -> bool:
    """Whether the schema has the table (remembered per pool once it has; until then one lookup
    per write transaction, only on a database older than migration 0012)."""
    pool = conn.engine.pool
    if _ready.get(pool):
        return True
    if conn.dialect.name == "postgresql":
        cursor.execute("SELECT to_regclass('data_version') IS NOT NULL")
    else:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'data_version'")
    found = bool(cursor.fetchone()[0])
    if found:
        _ready[pool] = True
    return found


def forget_schema(engine: Engine) -> None:
    """After a migration: look for the table again (a downgrade may have dropped it)."""
    _ready.pop(engine.pool, None)


def current(conn) -> int | None:
    """The data version (through a Session or a Connection); None when its row is missing (a
    hand edit of the database), and then nothing may be cached."""
    return conn.execute(text("SELECT v FROM data_version WHERE id = 1")).scalar()
