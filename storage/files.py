"""Reading the configuration, the directory and plan catalogs from disk, with located errors."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from obligations.catalog import CadenceKind, Catalog, PolicyDefault, parse_catalog
from obligations.directory import Directory, parse_directory
from obligations.errors import ProblemsError
from obligations.problems import from_validation_error
from obligations.notify import NotifyPolicy
from obligations.workcal import WorkCalendar
from obligations.yamlsource import Problem, YamlSyntaxError, parse

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ProblemsError, ValueError):
    head = "配置有误"


class _ProgressReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: CadenceKind = "quarterly"
    scope: Literal["issuer", "province", "city", "county", "township", "village"] = "issuer"
    what: str = "报送工作进展"
    rrule: str | None = None
    months: list[int] | None = None
    count: int = Field(default=1, ge=1)


class _Policy(BaseModel):
    model_config = ConfigDict(extra="allow")
    progress_report: _ProgressReport = _ProgressReport()


class _Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roll_forward: bool = True
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []


class _Schedule(BaseModel):
    model_config = ConfigDict(extra="allow")
    timezone: str = "Asia/Shanghai"
    start: dt.date = dt.date(2025, 1, 1)
    horizon_days: int = Field(default=120, ge=1)
    due_soon_days: int = Field(default=7, ge=0)
    as_of: dt.date | None = None      # run as if today were this day (demos, training); null: the real date


class _Notify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reminders: list[int] = [7, 1]
    on_due_day: bool = True
    overdue_every: int = Field(default=3, ge=1)
    escalate_after: list[int] = [5, 10]
    send_time: dt.time = dt.time(9, 0)
    quiet_hours: list[dt.time] = Field(default=[dt.time(20, 0), dt.time(8, 0)], min_length=2, max_length=2)
    link_days: int = Field(default=30, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    lease_seconds: int = Field(default=600, ge=1)
    base_url: str = "http://127.0.0.1:8000"
    sender: str = "督办系统 <duban@example.org>"


class _Service(BaseModel):
    model_config = ConfigDict(extra="forbid")
    materialize: str | dict[str, int] = "0 2 * * *"
    sweep: str | dict[str, int] = "30 8 * * *"
    deliver: str | dict[str, int] = "*/5 * * * *"
    report: str | dict[str, int] = "0 7 1 * *"


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issuer: str = "流动儿童关爱保护工作督查室"
    number: str = ""
    font: str = "WenQuanYi Zen Hei"
    docx_template: str | None = None
    period: Literal["month", "quarter", "half", "year"] = "month"
    formats: list[Literal["html", "pdf", "xlsx", "docx"]] = ["html", "pdf", "xlsx", "docx"]
    jurisdiction: str | None = None
    children: bool = True
    overdue_rows: int = Field(default=50, ge=0)
    requirements: list[str] = []


class _ConfigDoc(BaseModel):
    model_config = ConfigDict(extra="allow")
    database: str = "sqlite:///var/duban.db"
    data_dir: str = "var"
    directory: str = "plans/directory.yaml"
    plans: list[str] = []
    policy: _Policy = _Policy()
    calendar: _Calendar = _Calendar()
    schedule: _Schedule = _Schedule()
    notify: _Notify = _Notify()
    service: _Service = _Service()
    report: _Report = _Report()


@dataclass(frozen=True)
class Settings:
    path: Path
    database_url: str
    data_dir: Path
    directory_path: Path
    plan_dirs: tuple[Path, ...]
    policy: PolicyDefault
    raw: dict
    timezone: str = "Asia/Shanghai"
    schedule_start: dt.date = dt.date(2025, 1, 1)
    horizon_days: int = 120
    due_soon_days: int = 7
    roll_forward: bool = True
    extra_holidays: tuple[dt.date, ...] = ()
    extra_workdays: tuple[dt.date, ...] = ()

    notify: Any = None
    service: Any = None
    report: Any = None
    as_of: dt.date | None = None

    def notify_policy(self) -> NotifyPolicy:
        n = self.notify
        return NotifyPolicy(tuple(n.reminders), n.on_due_day, n.overdue_every, tuple(n.escalate_after))

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.extra_holidays, self.extra_workdays, self.roll_forward)

    def today(self) -> dt.date:
        return self.as_of or dt.datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"


def find_config(explicit: str | None = None) -> Path:
    for candidate in (explicit, os.environ.get("DUBAN_CONFIG")):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                raise ConfigError([Problem(str(path), 1, "(file)", "配置文件不存在")])
            return path
    for path in (Path.cwd() / "config.yaml", PROJECT_ROOT / "config.yaml"):
        if path.is_file():
            return path
    raise ConfigError([Problem("config.yaml", 1, "(file)", "找不到配置文件；请用 --config 或 DUBAN_CONFIG 指定")])


def load_settings(explicit: str | None = None) -> Settings:
    path = find_config(explicit).resolve()
    text = path.read_text(encoding="utf-8")
    try:
        located = parse(text, str(path))
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem]) from None
    try:
        doc = _ConfigDoc.model_validate(located.data or {})
    except ValidationError as err:
        raise ConfigError(from_validation_error(err, located, str(path))) from None
    base = path.parent
    url = os.environ.get("DUBAN_DATABASE_URL") or doc.database
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        url = "sqlite:///" + str((base / url.removeprefix("sqlite:///")).resolve())
    pr = doc.policy.progress_report
    policy = PolicyDefault(kind=pr.kind, scope=pr.scope, what=pr.what, rrule=pr.rrule,
                           months=tuple(pr.months) if pr.months else None, count=pr.count)
    return Settings(
        path=path, database_url=url, data_dir=(base / doc.data_dir).resolve(),
        directory_path=(base / doc.directory).resolve(),
        plan_dirs=tuple((base / p).resolve() for p in doc.plans), policy=policy,
        raw=doc.model_dump(),
        timezone=doc.schedule.timezone, schedule_start=doc.schedule.start,
        horizon_days=doc.schedule.horizon_days, due_soon_days=doc.schedule.due_soon_days, as_of=doc.schedule.as_of,
        roll_forward=doc.calendar.roll_forward, extra_holidays=tuple(doc.calendar.holidays),
        extra_workdays=tuple(doc.calendar.workdays), notify=doc.notify, service=doc.service,
        report=doc.report.model_copy(update={"docx_template": str((base / doc.report.docx_template).resolve())}
                                     if doc.report.docx_template else {}),
    )


def read_directory(path: Path) -> Directory:
    if not path.is_file():
        from obligations.directory import DirectoryError

        raise DirectoryError([Problem(str(path), 1, "(file)", "部门目录文件不存在")])
    return parse_directory(path.read_text(encoding="utf-8"), str(path))


@dataclass(frozen=True)
class CatalogFile:
    path: Path
    catalog: Catalog
    source_sha256: str | None


def read_catalog(path: Path, directory: Directory) -> CatalogFile:
    """Read and validate ``catalog.yaml`` (or a folder holding it) beside its ``source.txt``."""
    from obligations.catalog import CatalogError

    if path.is_dir():
        path = path / "catalog.yaml"
    if not path.is_file():
        raise CatalogError([Problem(str(path), 1, "(file)", "目录文件不存在")])
    source = path.with_name("source.txt")
    source_lines = sha = None
    if source.is_file():
        raw = source.read_bytes()
        sha = hashlib.sha256(raw).hexdigest()
        source_lines = raw.decode("utf-8").count("\n") + 1
    catalog = parse_catalog(path.read_text(encoding="utf-8"), str(path), directory, source_lines)
    return CatalogFile(path, catalog, sha)


def plan_folder(settings: Settings, plan_id: str) -> Path | None:
    """The configured folder of a plan, by folder name or by the catalog's plan id."""
    import yaml

    for folder in settings.plan_dirs:
        if folder.name == plan_id:
            return folder
    for folder in settings.plan_dirs:
        try:
            head = yaml.safe_load((folder / "catalog.yaml").read_text(encoding="utf-8"))
            if isinstance(head, dict) and (head.get("plan") or {}).get("id") == plan_id:
                return folder
        except (OSError, yaml.YAMLError):
            continue
    return None


__all__ = ["ConfigError", "Settings", "load_settings", "read_directory", "read_catalog", "plan_folder",
           "CatalogFile"]
