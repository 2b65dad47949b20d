"""Reading the configuration, the directory and plan catalogs from disk, with located errors."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from obligations.catalog import Catalog, PolicyDefault, parse_catalog
from obligations.config import (
    CalendarConfig,
    CasesConfig,
    ConfigDoc,
    ConfigError,
    DatabasePoolConfig,
    NotifyConfig,
    PolicyConfig,
    ProgressReportConfig,
    ReportConfig,
    ScheduleConfig,
    ServiceConfig,
    WebConfig,
    parse_config,
)
from obligations.directory import Directory, parse_directory
from obligations.feedback import FeedbackPolicy
from obligations.notify import NotifyPolicy
from obligations.workcal import WorkCalendar
from obligations.yamlsource import Problem

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    path: Path
    database_url: str
    data_dir: Path
    directory_path: Path
    plan_dirs: tuple[Path, ...]
    policy: PolicyDefault
    timezone: str = "Asia/Shanghai"
    schedule_start: dt.date = dt.date(2025, 1, 1)
    horizon_days: int = 120
    due_soon_days: int = 7
    completion_grace_days: int = 3
    roll_forward: bool = True
    extra_holidays: tuple[dt.date, ...] = ()
    extra_workdays: tuple[dt.date, ...] = ()

    notify: NotifyConfig = field(default_factory=NotifyConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    report: ReportConfig = field(default_factory=ReportConfig)    # docx_template: an absolute path
    web: WebConfig = field(default_factory=WebConfig)
    cases: CasesConfig = field(default_factory=CasesConfig)
    as_of: dt.date | None = None
    database_pool: DatabasePoolConfig = field(default_factory=DatabasePoolConfig)

    def pool(self):
        """The connection pool's settings (storage.db.PoolSettings) for make_engine."""
        from storage.db import PoolSettings

        p = self.database_pool
        return PoolSettings(p.size, p.max_overflow, p.timeout_seconds, p.scan_connections)

    def notify_policy(self) -> NotifyPolicy:
        n = self.notify
        return NotifyPolicy(tuple(n.reminders), n.on_due_day, n.overdue_every, tuple(n.escalate_after))

    def feedback_policy(self) -> FeedbackPolicy:
        """The feedback days of config ``notify.feedback`` (plans and obligations may override them)."""
        f = self.notify.feedback
        return FeedbackPolicy(f.every, f.day, f.min_period_days, f.enabled)

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
    doc = parse_config(path.read_text(encoding="utf-8"), str(path))
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
        timezone=doc.schedule.timezone, schedule_start=doc.schedule.start,
        horizon_days=doc.schedule.horizon_days, due_soon_days=doc.schedule.due_soon_days, as_of=doc.schedule.as_of,
        completion_grace_days=doc.schedule.completion_grace_days,
        roll_forward=doc.calendar.roll_forward, extra_holidays=tuple(doc.calendar.holidays),
        extra_workdays=tuple(doc.calendar.workdays), notify=doc.notify, service=doc.service,
        report=doc.report.model_copy(update={"docx_template": str((base / doc.report.docx_template).resolve())}
                                     if doc.report.docx_template else {}),
        web=doc.web, database_pool=doc.database_pool, cases=doc.cases,
    )


def config_doc(settings: Settings) -> ConfigDoc:
    """The configuration ``settings`` were loaded from, as a config.yaml model: the effective
    values (the database URL after DUBAN_DATABASE_URL), every path absolute, so that a file
    written from it means the same wherever it is put."""
    p = settings.policy
    return ConfigDoc(
        database=settings.database_url, data_dir=str(settings.data_dir), directory=str(settings.directory_path),
        plans=[str(folder) for folder in settings.plan_dirs],
        policy=PolicyConfig(progress_report=ProgressReportConfig(
            kind=p.kind, scope=p.scope, what=p.what, rrule=p.rrule, months=list(p.months) if p.months else None,
            count=p.count)),
        calendar=CalendarConfig(roll_forward=settings.roll_forward, holidays=list(settings.extra_holidays),
                                workdays=list(settings.extra_workdays)),
        schedule=ScheduleConfig(timezone=settings.timezone, start=settings.schedule_start,
                                horizon_days=settings.horizon_days, due_soon_days=settings.due_soon_days,
                                completion_grace_days=settings.completion_grace_days, as_of=settings.as_of),
        notify=settings.notify, service=settings.service, report=settings.report, web=settings.web,
        database_pool=settings.database_pool, cases=settings.cases)


def config_document(settings: Settings) -> dict:
    """``config_doc(settings)`` as plain data (text, numbers, lists, mappings) for yaml.safe_dump:
    every section and key, defaults included."""
    return config_doc(settings).model_dump(mode="json", exclude_defaults=False)


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


__all__ = ["ConfigError", "Settings", "load_settings", "config_doc", "config_document", "read_directory",
           "read_catalog", "plan_folder", "CatalogFile"]
