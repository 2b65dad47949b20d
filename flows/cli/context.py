"""What one run of `duban` carries from the root callback to its command: the ``CliContext``,
reached through typer's context (``ctx.obj``) — the config path, the settings (read on first
use), the engine (made on first use, disposed when the run ends), the console, and the
department names (read once). Also the options and parsers that several command modules share.

Imports nothing from the rest of the CLI but ``output``."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.cli.output import make_console
from storage.files import Settings, load_settings


class CliContext:
    """The state of one run of `duban`; commands get it with ``cli(ctx)``."""

    def __init__(self, config: Optional[str] = None, out: Console | None = None):
        self.config = config
        self.out = out if out is not None else make_console()
        self._settings: Settings | None = None
        self._engine: Engine | None = None
        self._department_names: dict[str, str] | None = None

    @property
    def settings(self) -> Settings:
        """config.yaml (the ``--config`` path, else DUBAN_CONFIG or ./config.yaml), read once."""
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def engine(self) -> Engine:
        """The database, checked once: a new empty one gets the schema, an out-of-date one stops
        the command naming `duban db upgrade` (storage.db.ensure_schema)."""
        if self._engine is None:
            from storage.db import ensure_schema, make_engine

            engine = make_engine(self.settings.database_url, pool=self.settings.pool())
            try:
                ensure_schema(engine)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate the database to the newest schema (for `db upgrade`, `up`); the revisions
        before and after. The engine is then this run's engine."""
        from storage.db import current_revision, make_engine, migrate

        engine = self._engine or make_engine(self.settings.database_url, pool=self.settings.pool())
        self._engine = engine
        before = current_revision(engine)
        migrate(engine)
        return before, current_revision(engine)

    def session(self) -> Session:
        return Session(self.engine)

    def department_names(self) -> dict[str, str]:
        """Department and role keys → names, read once per run."""
        if self._department_names is None:
            from storage import catalog_repo

            with self.session() as s:
                self._department_names = {d["key"]: d["name"] for d in catalog_repo.list_departments(s)}
        return self._department_names

    def party_names(self, keys: list[str], short: bool = False) -> str:
        names = self.department_names()
        shown = [names.get(k, k) for k in keys]
        if short and len(shown) > 3:
            return "、".join(shown[:2]) + f" 等 {len(shown)} 个"
        return "、".join(shown)

    def today(self, value: Optional[str] = None, option: str = "--today") -> dt.date:
        """The date given with ``option``, else the configured today."""
        return parse_date(value, option) or self.settings.today()

    def database_label(self) -> str:
        """The database URL without its password, for error messages ("?" before settings are read)."""
        if self._settings is None:
            return "?"
        from sqlalchemy.engine import make_url

        url = self._settings.database_url
        try:
            return make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown as written
            return url

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def cli(ctx: typer.Context) -> CliContext:
    """This run's CliContext (set up by the root callback)."""
    found = ctx.find_object(CliContext)
    if found is None:
        raise RuntimeError("duban: the root callback sets up the CliContext")
    return found


def parse_date(value: Optional[str], option: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} 不是日期（格式 YYYY-MM-DD）", param_hint=option) from None


TodayOption = typer.Option(None, "--today", help="按此日期计算状态（YYYY-MM-DD，默认今天）/ evaluate as of this date")
