"""Shared fixtures. The database is real: a SQLite file per test by default; when
DUBAN_DATABASE_URL names a PostgreSQL server (as .ci/run does), each test gets a fresh schema
there, so the same storage tests run on both."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from obligations.directory import parse_directory
from storage.db import make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "plans"
PLAN_IDS = ("fujian-2025", "guangdong-2024", "pingdingshan-2025")


@pytest.fixture(scope="session")
def directory():
    path = PLANS / "directory.yaml"
    return parse_directory(path.read_text(encoding="utf-8"), str(path))


def _server_url() -> str | None:
    url = os.environ.get("DUBAN_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


@contextlib.contextmanager
def pg_schema(server: str, prefix: str = "t_"):
    """A fresh schema on a PostgreSQL server, as a URL whose connections use it; dropped after
    (ending any connection a test left open, tagged by application_name)."""
    schema = prefix + uuid.uuid4().hex[:12]
    admin = make_engine(server)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).set(drivername="postgresql+psycopg").update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = :name"), {"name": schema})
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path):
    """A database URL of its own for this test (SQLite file, or a fresh PostgreSQL schema)."""
    server = _server_url()
    if not server:
        yield f"sqlite:///{tmp_path / 'duban.db'}"
        return
    with pg_schema(server) as url:
        yield url


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def project(tmp_path, database_url, monkeypatch):
    """A copy of the project's config, directory and plans in a temporary folder, with its own
    database; DUBAN_CONFIG points at it (the CLI and service functions read it)."""
    root = tmp_path / "project"
    shutil.copytree(PLANS, root / "plans", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "config.yaml", root / "config.yaml")
    monkeypatch.setenv("DUBAN_CONFIG", str(root / "config.yaml"))
    monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)
    return root


@pytest.fixture
def report_slice(project, engine):
    """Pingdingshan's plan in 2025 Q1 at 新华区 and below, with completions chosen by hand:
    5 items — 3 done on time, 1 done late, 1 overdue (4 of 6 visits) on 2025-04-10."""
    from sqlalchemy import select
    from sqlmodel import Session

    from storage import occurrences as occ
    from storage.catalogs import load_plans
    from storage.files import load_settings
    from storage.schedule import materialize
    from storage.tables import Jurisdiction, Obligation, Occurrence

    D = dt.date
    settings = load_settings()
    load_plans(engine, settings)
    materialize(engine, settings.calendar(), D(2025, 12, 31), today=D(2025, 1, 1), default_start=settings.schedule_start)
    with Session(engine) as s:
        county = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "410402"))
        rows = s.execute(select(Occurrence, Obligation.code, Jurisdiction.name)
                         .join(Obligation, Obligation.id == Occurrence.obligation_id)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .where(Occurrence.plan_id == "pingdingshan-2025", Jurisdiction.path.like(county.path + "%"),
                                Occurrence.due >= D(2025, 1, 1), Occurrence.due <= D(2025, 3, 31))
                         .order_by(Jurisdiction.path)).all()
    # the slice, by hand: four villages owe 6 visits each (list-20.1), the county's civil
    # affairs bureau owes its quarterly report on clause 2 (2.1, policy cadence)
    assert sorted(code for _, code, _ in rows) == ["2.1", "list-20.1", "list-20.1", "list-20.1", "list-20.1"]
    visits = [o for o, code, _ in rows if code == "list-20.1"]
    report = next(o for o, code, _ in rows if code == "2.1")
    with Session(engine) as s, s.begin():
        for o in visits[:2]:                       # two villages: 6 of 6 on time
            occ.record_completion(s, o.id, count=6, actor="x", channel="cli", done_on=D(2025, 3, 20))
        occ.record_completion(s, visits[2].id, count=4, actor="x", channel="cli", done_on=D(2025, 3, 20))   # 4 of 6
        occ.record_completion(s, visits[3].id, count=6, actor="x", channel="cli", done_on=D(2025, 4, 3))    # late
        occ.record_completion(s, report.id, count=1, actor="x", channel="cli", done_on=D(2025, 3, 28))
    return engine, visits


# ---------------------------------------------------------------- real servers on loopback

import email
import email.policy
import json as _json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """An aiosmtpd server on loopback that keeps what it receives; can be stopped and restarted
    on the same port to play an outage."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.delay = 0.0          # seconds per message: a slower relay, to widen races and kill windows
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    import asyncio

                    await asyncio.sleep(sink.delay)
                msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                sink.messages.append(msg)
                return "250 OK"

        self._controller_cls, self._handler = Controller, Handler()
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = self._controller_cls(self._handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


class RobotServer:
    """A loopback HTTP server standing in for the DingTalk / WeCom robot endpoints."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, dict]] = []   # queued replies; default 200 errcode 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append({"path": self.path, "body": _json.loads(body)})
                status, payload = server.replies.pop(0) if server.replies else (200, {"errcode": 0, "errmsg": "ok"})
                data = _json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def robot_server():
    server = RobotServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect server for the whole session (its start costs seconds)."""
    from flows.prefect_env import configure_prefect

    configure_prefect(tmp_path_factory.mktemp("prefect"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
