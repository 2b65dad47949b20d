"""`duban deploy`: the same flows as Prefect deployments on a Prefect server (PREFECT_API_URL),
with the cron schedules of config.yaml, to a process work pool, so that several workers on
several machines share the work. Deployments use a module entrypoint (flows.pipeline:…), so a
worker needs only duban installed and the same environment (DUBAN_DATABASE_URL, DUBAN_CONFIG,
DUBAN_SMTP_URL …)."""
from __future__ import annotations

import datetime as dt

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.pipeline import FLOWS
from storage.files import Settings

SCHEDULED = ("sync_plans", "materialize", "sweep", "deliver", "report")


async def _ensure_pool(name: str) -> bool:
    async with get_client() as client:
        try:
            await client.read_work_pool(name)
            return False
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def schedule_for(spec, timezone: str):
    if isinstance(spec, dict):
        return Interval(dt.timedelta(**spec), timezone=timezone)
    return Cron(spec, timezone=timezone)


def deploy(settings: Settings, *, pool: str = "duban", config: str | None = None) -> list[dict]:
    created = run_coro_as_sync(_ensure_pool(pool))
    out = []
    for name in SCHEDULED:
        flow = FLOWS[name]
        # sync_plans runs with the nightly materialize schedule, an hour earlier
        spec = settings.service.trigger(name) if name != "sync_plans" else _earlier(settings.service.materialize)
        params = {"config": config} if config else {}
        deployment_id = flow.deploy(name=f"duban-{name}", work_pool_name=pool, build=False, push=False,
                                    schedule=schedule_for(spec, settings.timezone), parameters=params,
                                    entrypoint_type=EntrypointType.MODULE_PATH, print_next_steps=False,
                                    ignore_warnings=True)
        out.append({"flow": name, "deployment": f"{flow.name}/duban-{name}", "id": str(deployment_id),
                    "schedule": spec if isinstance(spec, str) else f"every {spec}"})
    return [{"pool": pool, "pool_created": created}] + out


def _earlier(spec):
    if isinstance(spec, str):
        fields = spec.split()
        if len(fields) == 5 and fields[1].isdigit():
            fields[1] = str((int(fields[1]) - 1) % 24)
            return " ".join(fields)
    return spec
