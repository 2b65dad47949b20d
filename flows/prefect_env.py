"""Prefect settings for offline, embedded use, set by duban itself before Prefect is imported:
no analytics or update checks, quiet logs, and PREFECT_HOME inside duban's data folder. Values
the user already set in the environment win (e.g. PREFECT_API_URL for a Prefect server)."""
from __future__ import annotations

import os
from pathlib import Path

OFFLINE = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    # the temporary server's first start (its database migrations) takes 6–20 s on a small
    # machine; Prefect's own limit of 20 s made `duban up` fail now and then
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def configure_prefect(data_dir: Path) -> None:
    home = data_dir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
