"""The root `duban` command: the Typer app with every sub-app added, the root callback that
sets up the run's CliContext from ``--config``, and ``main``, which runs the CLI once and turns
errors into messages on stderr and exit codes."""
from __future__ import annotations

import os
import sys
from typing import Optional

import typer
from sqlalchemy.exc import OperationalError

import flows.cli.confirm as confirm
import flows.cli.contacts as contacts
import flows.cli.db as db
import flows.cli.directory as directory
import flows.cli.locality as locality
import flows.cli.notify as notify
import flows.cli.occurrences as occurrences
import flows.cli.plans as plans
import flows.cli.progress as progress
import flows.cli.report as report
import flows.cli.schedule as schedule
import flows.cli.service as service
import flows.cli.tasks as tasks
import flows.cli.users as users
from flows.cli.context import CliContext
from flows.cli.output import make_console
from obligations.errors import DubanError

app = typer.Typer(
    help="督办 duban：把实施方案的条款变成按期督办的任务。Turns plan clauses into scheduled obligations.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    epilog="从这里开始 / start here: duban demo（模拟一年）。本地区 / your locality: duban init 文件夹 --locality 某市。"
           "日常 / daily: duban plans load --all → duban materialize → duban sweep → duban deliver，"
           "或 duban up 按时间表自动运行。",
)
app.add_typer(plans.app, name="plans")
app.add_typer(directory.departments_app, name="departments")
app.add_typer(directory.obligations_app, name="obligations")
app.add_typer(directory.jurisdictions_app, name="jurisdictions")
app.add_typer(contacts.app, name="contacts")
app.add_typer(occurrences.cases_app, name="cases")
app.add_typer(occurrences.occurrences_app, name="occurrences")
app.add_typer(schedule.app)          # materialize, complete, waive
app.add_typer(occurrences.app)       # due, overdue, status
app.add_typer(occurrences.review_app, name="review")
app.add_typer(notify.outbox_app, name="outbox")
app.add_typer(notify.app)            # sweep, deliver
app.add_typer(service.app)           # demo, up, run, deploy
app.add_typer(locality.app)          # init
app.add_typer(report.app)            # report, report-template
app.add_typer(users.app, name="users")
app.add_typer(db.app, name="db")
app.add_typer(tasks.app, name="tasks")
app.add_typer(tasks.urge_app)        # urge
app.add_typer(progress.app, name="progress")
app.add_typer(confirm.app)           # confirm (协办确认)


@app.callback()
def _root(ctx: typer.Context,
          config: Optional[str] = typer.Option(None, "--config", help="配置文件 config.yaml 的路径 / path to config.yaml")):
    if isinstance(ctx.obj, CliContext):      # made by main(), which disposes of it
        ctx.obj.config = config
    else:                                    # the app called some other way (typer's CliRunner)
        ctx.obj = CliContext(config)
        ctx.call_on_close(ctx.obj.close)


def _fail(message: str, code: int = 1) -> int:
    # plain write: `file:line: field: reason` lines must never be wrapped
    sys.stderr.write(message.rstrip("\n") + "\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI once; domain errors become messages on stderr and exit code 1 (usage errors 2)."""
    run = CliContext(out=make_console())   # a console per run: it reads the terminal width (COLUMNS)
    try:
        rc = app(args=argv, prog_name="duban", standalone_mode=False, obj=run)
        return rc if isinstance(rc, int) else 0
    except typer.Abort:
        return _fail("已取消", 130)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: bad option values, missing arguments
        show = getattr(exc, "show", None)
        if show:
            show(file=sys.stderr)
        else:
            _fail(f"错误：{exc.format_message()}")
        return exc.exit_code
    except DubanError as exc:
        return _fail(exc.message(), exc.exit_code)
    except OperationalError as exc:
        return _fail(f"数据库错误（{run.database_label()}）：{exc.orig}")
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("DUBAN_DEBUG"):
            raise
        return _fail(f"内部错误：{type(exc).__name__}: {exc}（设置 DUBAN_DEBUG=1 可查看详细信息）", 70)
    finally:
        run.close()


def entry() -> None:
    sys.exit(main())
