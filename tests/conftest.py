"""Shared fixtures. The database is real: a SQLite file per test by default; when
DUBAN_DATABASE_URL names a PostgreSQL server (as .ci/run does), each test gets a fresh schema
there, so the same storage tests run on both."""
from __future__ import annotations

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


@pytest.fixture
def database_url(tmp_path):
    """A database URL of its own for this test (SQLite file, or a fresh PostgreSQL schema)."""
    server = _server_url()
    if not server:
        yield f"sqlite:///{tmp_path / 'duban.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(server)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).set(drivername="postgresql+psycopg").update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # a connection a test left open must not block the drop
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = :name"), {"name": schema})
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
