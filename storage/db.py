"""The engine (SQLite file by default, PostgreSQL by URL) and migrations to the newest schema."""
from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from obligations.errors import DubanError

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class PoolSettings:
    """How many connections one process keeps to the database (config.yaml ``database_pool``).

    ``size`` stay open, ``max_overflow`` more are opened when needed; a caller waits at most
    ``timeout`` seconds for one. ``scan_connections`` of them at most, process-wide, run the
    parallel parts of a report beside its own connection; that is kept below the pool's size,
    so reports can never take every connection."""
    size: int = 10
    max_overflow: int = 20
    timeout: float = 10.0
    scan_connections: int = 4

    @property
    def scan_slots(self) -> int:
        return max(0, min(self.scan_connections, self.size + self.max_overflow - 2))


_scan_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()    # engine → its BoundedSemaphore
_slots_lock = threading.Lock()


def scan_slots(engine: Engine) -> threading.BoundedSemaphore:
    """The process-wide limit on the extra connections reports open for their parallel scans
    through ``engine`` (``PoolSettings.scan_slots``)."""
    engine = getattr(engine, "_proxied", engine)          # an engine with execution options
    with _slots_lock:
        slots = _scan_slots.get(engine)
        if slots is None:
            slots = _scan_slots[engine] = threading.BoundedSemaphore(PoolSettings().scan_slots)
        return slots


def make_engine(url: str, *, schema: str | None = None, echo: bool = False, pool: PoolSettings | None = None) -> Engine:
    """Create an engine. On PostgreSQL ``schema`` sets the search_path (tests isolate by schema).
    Every write committed through it advances the data version (storage.versions)."""
    from storage import versions

    pool = pool or PoolSettings()
    sizes = dict(pool_size=pool.size, max_overflow=pool.max_overflow, pool_timeout=pool.timeout)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            sizes = {}      # in memory: one connection shared by the threads (SQLAlchemy's own pool)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **sizes)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL: safe across process crashes
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA temp_store=MEMORY")     # sorts and GROUP BY b-trees in memory
            cur.execute("PRAGMA cache_size=-65536")     # 64 MiB page cache (default 2 MiB)
            cur.close()

    else:
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
        engine = create_engine(url, echo=echo, connect_args=connect_args, pool_pre_ping=True, **sizes)
    versions.track(engine)
    _scan_slots[engine] = threading.BoundedSemaphore(pool.scan_slots)
    return engine


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Bring the database to the newest schema (idempotent), or up or down to ``revision``.

    SQLite changes a constraint by rebuilding the table, and dropping the old table would trip
    the foreign keys of the rows that point at it; SQLite's own procedure is followed: foreign
    keys off (outside the transaction, where the setting takes effect), the migration in one
    transaction, ``PRAGMA foreign_key_check`` before the commit, foreign keys on again."""
    from storage import versions

    cfg = alembic_config(engine)
    step = command.downgrade if down else command.upgrade
    with engine.connect() as conn:
        conn.info[versions.UNTRACKED] = True     # a schema change is not a change of the data
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"迁移后外键不一致，已回滚：{broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
            conn.info.pop(versions.UNTRACKED, None)
    versions.forget_schema(engine)


class SchemaOutOfDate(DubanError):
    """The database was made by an older duban (or a newer one): ``duban db upgrade`` moves it."""


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for a database with no duban tables yet."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """For every command but ``db upgrade``, ``up`` and ``demo``: a new, empty database gets the
    schema (there is nothing to migrate); an existing one must already be at the newest
    revision, or the command stops and names ``duban db upgrade`` (one SELECT, no migration)."""
    current = current_revision(engine)
    if current is None:
        migrate(engine)
        return
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(f"数据库结构版本为 {current}，本版本的 duban 需要 {head}。"
                              "请先备份数据库，然后运行：duban db upgrade")


BULK_ROWS = 10_000   # above this many rows written in one go, refresh the planner's statistics


def refresh_statistics(conn, tables: tuple[str, ...], rows_written: int) -> None:
    """After a bulk write, ANALYZE the tables written (PostgreSQL): autovacuum would get to it
    later, but the next queries (delivery right after a sweep) would run with stale plans,
    measured 10× slower on the province benchmark."""
    if rows_written >= BULK_ROWS and conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("ANALYZE " + ", ".join(tables)))
