"""Service functions over catalogs: validate files, load plans (directory first), all or nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from obligations.catalog import Catalog, effective_catalog
from obligations.directory import Directory
from obligations.errors import NotFound
from storage import audit
from storage.catalog_repo import LoadReport, load_catalog
from storage.directory_repo import DirectoryChanges, sync_directory
from storage.files import CatalogFile, Settings, plan_folder, read_catalog, read_directory


class PlanNotConfigured(NotFound, LookupError):
    def __init__(self, plan_id: str, settings: Settings):
        known = ", ".join(p.name for p in settings.plan_dirs) or "（无）"
        super().__init__(f"{settings.path}: plans: 没有名为 {plan_id} 的计划（已配置: {known}）")


@dataclass
class LoadResult:
    directory: DirectoryChanges
    plans: list[LoadReport]


def validate_file(path: Path, settings: Settings) -> tuple[Catalog, Catalog]:
    """Validate a catalog file against the configured directory; return (as written, effective)."""
    directory = read_directory(settings.directory_path)
    parsed = read_catalog(path, directory)
    return parsed.catalog, effective_catalog(parsed.catalog, settings.policy, directory)


def load_plans(engine: Engine, settings: Settings, plan_ids: list[str] | None = None,
               actor: str = "cli") -> LoadResult:
    """Validate the directory and every requested catalog first; then write them all in one
    transaction. Any validation error raises before anything is written."""
    directory = read_directory(settings.directory_path)
    if plan_ids:
        folders = []
        for pid in plan_ids:
            folder = plan_folder(settings, pid)
            if folder is None:
                candidate = Path(pid)
                if (candidate / "catalog.yaml").is_file() or candidate.suffix in (".yaml", ".yml"):
                    folder = candidate
                else:
                    raise PlanNotConfigured(pid, settings)
            folders.append(folder)
    else:
        folders = list(settings.plan_dirs)
    parsed: list[CatalogFile] = _read_all(folders, directory)
    with Session(engine) as session, session.begin():
        changes = sync_directory(session, directory)
        reports = [
            load_catalog(session, effective_catalog(p.catalog, settings.policy, directory),
                         catalog_path=str(p.path), source_sha256=p.source_sha256)
            for p in parsed
        ]
        for r in reports:
            if not r.unchanged:      # the audit trail: which plan changed, and how
                audit.record(session, actor=actor, action="catalog.load", object_type="plan", object_id=r.plan_id,
                             after={k: v for k, v in r.as_dict().items() if v and k != "unchanged"})
    return LoadResult(changes, reports)


def _read_all(folders: list[Path], directory: Directory) -> list[CatalogFile]:
    from obligations.catalog import CatalogError

    problems, parsed = [], []
    for folder in folders:
        try:
            parsed.append(read_catalog(folder, directory))
        except CatalogError as err:
            problems += err.problems
    problems += [problem for p in parsed if (problem := _unplaced(p, directory))]
    if problems:
        raise CatalogError(problems)
    return parsed


def _unplaced(parsed: CatalogFile, directory: Directory):
    """A plan whose locality is no unit of the directory would get no item at all: refused at
    load, naming the command that adds the locality."""
    from obligations.yamlsource import Problem, parse

    locality = parsed.catalog.plan.locality
    names = {u.name for u in directory.units()}
    if locality in names:
        return None
    try:
        line = parse(parsed.path.read_text(encoding="utf-8"), str(parsed.path)).line_of(("plan", "locality"))
    except Exception:  # noqa: BLE001 - the file parsed a moment ago; the line is a courtesy
        line = 1
    return Problem(str(parsed.path), line, "plan.locality",
                   f"地区“{locality}”不在部门目录的行政区划中，加载后不会生成任何督办事项。"
                   f"请先运行：duban jurisdictions import {locality}")
