"""Shared fixtures. The database is real: a SQLite file per test by default; when
DUBAN_DATABASE_URL names a PostgreSQL server (as .ci/run does), each test gets a database of its
own on that server, so the same storage tests run on both.

A test's database starts from a template built once per session and copied for the test (a file
copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). What the copy holds follows from
the fixtures the test asks for, directly or through other fixtures:

- none of the below: an empty database (the CLI and the migration tests make their own schema)
- ``engine``: migrated to head
- ``plans_loaded``: and the directory and the three repository plans loaded
- ``year_2025``: and 2025 materialized (until 2025-12-31, as of 2025-01-01)
- ``personas``: and four accounts (see ``Personas``), on top of whichever of the above

Every test still gets a database of its own; nothing a test writes is seen by another."""
from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json as _json
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from obligations.directory import parse_directory
from storage.db import make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "plans"
PLAN_IDS = ("fujian-2025", "guangdong-2024", "pingdingshan-2025")
PASSWORD = "correct-horse-9"            # every persona's password


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


def copy_project(root: Path) -> Path:
    """The project's config, directory and plans copied into ``root``; returns ``root``."""
    shutil.copytree(PLANS, root / "plans", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "config.yaml", root / "config.yaml")
    return root


# ---------------------------------------------------------------- database templates

@dataclass(frozen=True)
class Persona:
    """An account as a test acts with it: its sign-in, its API token and its Principal."""
    username: str
    password: str
    role: str
    jurisdiction: str
    display_name: str
    department: str | None
    director: str | None
    user_id: int
    token: str                     # an API token (Authorization: Bearer …)
    principal: object              # web.access.Principal, as web.deps.principal_of makes it

    def api(self, app):
        """A TestClient that sends this persona's API token."""
        from fastapi.testclient import TestClient

        return TestClient(app, headers={"Authorization": f"Bearer {self.token}"})

    def client(self, app):
        """A TestClient signed in to the web app through /login (an Argon2 check: ≈ 0.6 s here)."""
        return sign_in(app, self.username, self.password)


def sign_in(app, username: str, password: str = PASSWORD):
    from fastapi.testclient import TestClient

    c = TestClient(app, follow_redirects=False)
    r = c.post("/login", data={"username": username, "password": password, "csrf": csrf_of(c, "/login"), "next": "/"})
    assert r.status_code == 303, r.text
    return c


def owing_contact(session, occurrence_id: int) -> int:
    """The id of the contact of the department or director that owes an item (made if the
    directory has none), the only recipient whose notice's link may complete it."""
    from storage.tables import Contact, Department, Jurisdiction, Occurrence

    o = session.get(Occurrence, occurrence_id)
    found = session.scalar(sa.select(Contact.id).where(Contact.jurisdiction_id == o.jurisdiction_id,
                                                       Contact.department_key == o.party_key))
    if found is None:
        name = session.get(Jurisdiction, o.jurisdiction_id).name + session.get(Department, o.party_key).name
        contact = Contact(jurisdiction_id=o.jurisdiction_id, department_key=o.party_key, name=name)
        session.add(contact)
        session.flush()
        found = contact.id
    return found


def csrf_of(c, path: str) -> str:
    """The CSRF token of the form on ``path`` (as the page gives it to this client's session)."""
    page = c.get(path, follow_redirects=True).text
    return re.search(r'name="csrf" value="([^"]+)"', page)[1]


PERSONAS = {    # attribute: what storage.accounts.add_user gets
    "coordinator": dict(username="mz", role="coordinator", jurisdiction="新华区", display_name="新华区民政局"),
    "department": dict(username="jy", role="department", jurisdiction="新华区", department="education",
                       display_name="新华区教育局"),
    "supervisor": dict(username="dc", role="supervisor", jurisdiction="平顶山市", display_name="平顶山市督查室"),
    "director": dict(username="zr", role="director", jurisdiction="鼓东街道第一社区", director="张主任",
                     display_name="鼓东街道第一社区儿童主任"),
}


class Personas:
    """The four accounts of the ``personas`` fixture: ``coordinator`` (mz, 新华区民政局),
    ``department`` (jy, 新华区教育局), ``supervisor`` (dc, 平顶山市督查室) and ``director`` (zr,
    张主任, children's director of 鼓东街道第一社区, Fujian). Also by username: ``personas["jy"]``."""

    def __init__(self, people: dict[str, Persona]):
        self._by_role = people
        self._by_name = {p.username: p for p in people.values()}

    def __getattr__(self, role: str) -> Persona:
        try:
            return self.__dict__["_by_role"][role]
        except KeyError:
            raise AttributeError(role) from None

    def __getitem__(self, username: str) -> Persona:
        return self._by_name[username]

    def __iter__(self):
        return iter(self._by_role.values())


def _add_personas(engine: Engine, settings) -> dict[str, Persona]:
    from sqlmodel import Session

    from storage import accounts
    from web.deps import principal_of

    people = {}
    with Session(engine) as s, s.begin():
        for role, kw in PERSONAS.items():
            user = accounts.add_user(s, password=PASSWORD, **kw)
            token = accounts.add_token(s, user)
            people[role] = Persona(username=user.username, password=PASSWORD, role=user.role,
                                   jurisdiction=kw["jurisdiction"], display_name=user.display_name,
                                   department=user.department_key, director=user.director, user_id=user.id,
                                   token=token, principal=principal_of(s, user))
    return people


def _load(engine: Engine, settings) -> None:
    from storage.catalogs import load_plans

    load_plans(engine, settings)


def _materialize_2025(engine: Engine, settings) -> None:
    from storage.schedule import materialize

    materialize(engine, settings.calendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                default_start=settings.schedule_start)


# the layers a template is built of, in the order they are applied: (name, the fixture that asks
# for it, what it needs below it, the builder, which may return data the fixture hands on)
LAYERS: tuple[tuple[str, str, str | None, Callable], ...] = (
    ("migrated", "engine", None, lambda engine, settings: migrate(engine)),
    ("plans", "plans_loaded", "migrated", _load),
    ("year", "year_2025", "plans", _materialize_2025),
    ("personas", "personas", "plans", _add_personas),
)


def template_key(fixturenames) -> tuple[str, ...]:
    """The layers a test's database needs, from the fixtures it uses (with what they need)."""
    wanted = {name for name, fixture, _, _ in LAYERS if fixture in fixturenames}
    needs = {name: below for name, _, below, _ in LAYERS}
    for name in list(wanted):
        while needs[name]:
            name = needs[name]
            wanted.add(name)
    return tuple(name for name, *_ in LAYERS if name in wanted)


class Templates:
    """Template databases, each built once (from the template one layer shorter) and copied per
    test. SQLite: files in a session folder. PostgreSQL: databases on the server, dropped at the
    end of the session."""

    def __init__(self, folder: Path, server: str | None):
        self.folder, self.server = folder, server
        self.settings = None
        self.built: dict[tuple[str, ...], str] = {}       # key → file path or database name
        self.data: dict[tuple[str, ...], dict] = {}       # key → layer name → what its builder returned
        self.tag = uuid.uuid4().hex[:8]
        self.admin = (make_engine(server).execution_options(isolation_level="AUTOCOMMIT") if server else None)

    def _settings(self):
        if self.settings is None:
            from storage.files import load_settings

            self.settings = load_settings(str(copy_project(self.folder / "project") / "config.yaml"))
        return self.settings

    def url(self, name: str) -> str:
        if self.server:
            return make_url(self.server).set(drivername="postgresql+psycopg", database=name).render_as_string(
                hide_password=False)
        return f"sqlite:///{name}"

    def _pg(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(sql))

    def _create(self, target: str, source: str | None) -> None:
        """``target`` as a copy of the template ``source`` (None: empty)."""
        if self.server:
            self._pg(f'CREATE DATABASE "{target}"' + (f' TEMPLATE "{source}"' if source else ""))
        elif source:
            shutil.copyfile(source, target)

    def drop(self, name: str) -> None:
        if self.server:
            self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')    # ends connections a test left open

    def template(self, key: tuple[str, ...]) -> str:
        """The template for ``key``, built if it is not yet."""
        if key in self.built:
            return self.built[key]
        base = self.template(key[:-1]) if len(key) > 1 else None
        name = (f"duban_tpl_{self.tag}_{len(self.built)}" if self.server
                else str(self.folder / f"{'-'.join(key)}.db"))
        self._create(name, base)
        engine = make_engine(self.url(name))
        try:
            builder = next(build for layer, _, _, build in LAYERS if layer == key[-1])
            made = builder(engine, self._settings())
            if engine.dialect.name == "sqlite":     # everything into the main file before it is copied
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        self.data[key] = dict(self.data.get(key[:-1], {}), **({key[-1]: made} if made is not None else {}))
        self.built[key] = name
        return name

    def new_database(self, key: tuple[str, ...], sqlite_path: Path) -> str:
        """A database of its own for a test, as a copy of the template for ``key``; its URL."""
        source = self.template(key) if key else None
        name = f"duban_t_{uuid.uuid4().hex[:12]}" if self.server else str(sqlite_path)
        self._create(name, source)
        return self.url(name)

    def close(self) -> None:
        if self.server:
            for name in self.built.values():
                self.drop(name)
            self.admin.dispose()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory):
    templates = Templates(tmp_path_factory.mktemp("templates"), _server_url())
    yield templates
    templates.close()


@pytest.fixture
def database_url(request, tmp_path, db_templates):
    """A database URL of its own for this test (a SQLite file, or a database on the PostgreSQL
    server), holding what the test's fixtures ask for (see the module's docstring)."""
    url = db_templates.new_database(template_key(request.fixturenames), tmp_path / "duban.db")
    yield url
    if db_templates.server:
        db_templates.drop(make_url(url).database)


@pytest.fixture
def engine(database_url):
    """An engine on the test's database, migrated to head (a copy of the migrated template)."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def project(tmp_path, database_url, monkeypatch):
    """A copy of the project's config, directory and plans in a temporary folder, with its own
    database; DUBAN_CONFIG points at it (the CLI and service functions read it)."""
    root = copy_project(tmp_path / "project")
    monkeypatch.setenv("DUBAN_CONFIG", str(root / "config.yaml"))
    monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)
    return root


@pytest.fixture
def plans_loaded(project, engine, db_templates):
    """The project's settings; the test's database holds the directory and the three plans, as
    ``load_plans(engine, settings)`` leaves them (loaded once for the session, from an identical
    copy of the project: the plans' recorded catalog paths are set to this test's project)."""
    from storage.files import load_settings

    old = str(db_templates.folder / "project")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE plan SET catalog_path = replace(catalog_path, :old, :new)"),
                     {"old": old, "new": str(project)})
    return load_settings()


@pytest.fixture
def year_2025(plans_loaded):
    """The project's settings; the database also holds 2025's items, as
    ``materialize(engine, settings.calendar(), date(2025, 12, 31), today=date(2025, 1, 1),
    default_start=settings.schedule_start)`` leaves them."""
    return plans_loaded


@pytest.fixture
def personas(request, plans_loaded, db_templates) -> Personas:
    """Four accounts in the test's database (see ``Personas``), password ``PASSWORD``, each with an
    API token and its Principal; ``persona.client(app)`` signs in to a web app."""
    return Personas(db_templates.data[template_key(request.fixturenames)]["personas"])


@pytest.fixture
def report_slice(year_2025, engine):
    """Pingdingshan's plan in 2025 Q1 at 新华区 and below, with completions chosen by hand:
    5 items — 3 done on time, 1 done late, 1 overdue (4 of 6 visits) on 2025-04-10."""
    from sqlalchemy import select
    from sqlmodel import Session

    from storage import occurrences as occ
    from storage.tables import Jurisdiction, Obligation, Occurrence

    D = dt.date
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
