"""`duban deploy` against a real Prefect server with a process worker: a deployment's run is
picked up by the worker and does its work in duban's PostgreSQL database."""
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from storage.db import make_engine
from tests.conftest import free_port, pg_schema

PG = os.environ.get("DUBAN_CI_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.postgres]


@pytest.fixture
def pg_schema_url():
    """Always PostgreSQL, whatever the run: the deployment's work must land there."""
    try:
        admin = make_engine(PG)
        with admin.connect():
            pass
        admin.dispose()
    except sa.exc.OperationalError:
        pytest.skip("no PostgreSQL server at " + PG)
    with pg_schema(PG, prefix="dep_") as url:
        yield url


def test_a_deployment_run_is_picked_up_by_a_worker(project, pg_schema_url, tmp_path):
    port = free_port()
    env = dict(os.environ, DUBAN_DATABASE_URL=pg_schema_url, PREFECT_HOME=str(tmp_path / "prefect"),
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_UI_ENABLED="false",
               PREFECT_UI_ENABLED="false", PYTHONUNBUFFERED="1")
    procs = []
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        procs.append(subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                      env=env, stdout=open(logs / "server.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("Prefect server did not start: " + (logs / "server.log").read_text())
        done = subprocess.run([BIN / "duban", "plans", "load", "--all"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        done = subprocess.run([BIN / "duban", "deploy", "--pool", "duban-test"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "工作池 duban-test：已创建（进程型）" in done.stdout and "materialize/duban-materialize" in done.stdout
        procs.append(subprocess.Popen([BIN / "prefect", "worker", "start", "--pool", "duban-test"], env=env,
                                      stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT))
        run = subprocess.run([BIN / "python", "-c",
                              "from prefect.deployments import run_deployment;"
                              "r = run_deployment('materialize/duban-materialize',"
                              " parameters={'day': '2025-04-01', 'horizon_days': 30}, timeout=180);"
                              "print(r.state.type.value, r.name)"],
                             env=env, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stderr
        state, name = run.stdout.split()[-2:]
        assert state == "COMPLETED", (run.stdout, (logs / "worker.log").read_text())
        assert name == "materialize-2025-04-01"
        engine = make_engine(pg_schema_url)
        with engine.connect() as conn:
            made = conn.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
        engine.dispose()
        assert made > 0
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
