"""`duban up`'s scheduler: jobs persist in duban's database; after a restart a run missed while
the service was down is caught up once (coalesce), not once per missed slot; an unchanged
schedule keeps its next run time."""
import datetime as dt
import threading
from dataclasses import replace

import pytest

from flows import runner
from storage.files import load_settings


@pytest.fixture
def hourly(project, database_url):
    settings = load_settings()
    service = replace(settings.service) if hasattr(settings.service, "__dataclass_fields__") else settings.service.model_copy()
    for name in runner.JOBS:
        setattr(service, name, {"seconds": 3600})
    return replace(settings, service=service, database_url=database_url)


def test_missed_runs_are_caught_up_once_after_a_restart(hourly, monkeypatch):
    calls, ran = [], threading.Event()

    def fake_run_job(name, config):
        calls.append(name)
        ran.set()

    first = runner.build_scheduler(hourly, None)
    planned = {j.id: j.next_run_time for j in first.get_jobs()}
    assert set(planned) == set(runner.JOBS)
    first.shutdown(wait=True)

    monkeypatch.setattr(runner, "run_job", fake_run_job)        # the stored job resolves flows.runner:run_job
    second = runner.build_scheduler(hourly, None)                # the restart (still paused)
    kept = {j.id: j.next_run_time for j in second.get_jobs()}
    assert kept == planned                                       # unchanged schedule: next runs kept
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)
    second.modify_job("sweep", next_run_time=past)               # the service was down for five slots
    second.resume()
    assert ran.wait(10)
    second.shutdown(wait=True)
    assert calls == ["sweep"]                                    # five missed slots → one run
    third = runner.build_scheduler(hourly, None)
    assert third.get_job("sweep").next_run_time > dt.datetime.now(dt.UTC)
    third.shutdown(wait=False)
