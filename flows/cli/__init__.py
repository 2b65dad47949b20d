"""The `duban` command line (typer). Output for people is Chinese; `--format json` gives one
JSON document on stdout for scripts. Errors go to stderr with a non-zero exit code.

Layout: ``root`` builds the app from one module per sub-app (plans, directory, schedule,
occurrences, notify, service, report, users, db); those import only ``context`` (the run's
CliContext, reached through ``ctx.obj``) and ``output`` (the console, JSON, listings), never
this package's root or each other."""
from flows.cli.root import app, entry, main

__all__ = ["app", "entry", "main"]
