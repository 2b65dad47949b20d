"""The `duban` command line (typer). Output for people is Chinese; `--format json` gives one
JSON document on stdout for scripts. Errors go to stderr with a non-zero exit code."""
from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from obligations.catalog import SCOPE_NAMES, describe_cadence
from obligations.directory import LEVEL_NAMES
from obligations.errors import DubanError
from storage import catalog_repo
from storage.catalogs import load_plans, validate_file
from storage.db import make_engine, migrate
from storage.files import Settings, load_settings

out = Console(soft_wrap=False)

app = typer.Typer(
    help="督办 duban：把实施方案的条款变成按期督办的任务。Turns plan clauses into scheduled obligations.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    epilog="从这里开始 / start here: duban demo（模拟一年）。日常 / daily: duban plans load --all → duban materialize"
           " → duban sweep → duban deliver，或 duban up 按时间表自动运行。",
)
plans_app = typer.Typer(help="实施方案目录：从原文起草、比较、校验、加载、查看、导出 / plan catalogs: extract, diff, validate, load, show, export", no_args_is_help=True)
departments_app = typer.Typer(help="部门目录 / departments and roles", no_args_is_help=True)
obligations_app = typer.Typer(help="督办义务 / obligations", no_args_is_help=True)
jurisdictions_app = typer.Typer(help="行政区划与联系人 / jurisdictions and contacts", no_args_is_help=True)
app.add_typer(plans_app, name="plans")
app.add_typer(departments_app, name="departments")
app.add_typer(obligations_app, name="obligations")
app.add_typer(jurisdictions_app, name="jurisdictions")

_state: dict[str, Any] = {}


class ListFormat(str, Enum):
    table = "table"
    json = "json"


class ExportFormat(str, Enum):
    json = "json"
    yaml = "yaml"


FormatOption = typer.Option(ListFormat.table, "--format", "-f", help="输出格式 table|json / output format")


@app.callback()
def _root(config: Optional[str] = typer.Option(None, "--config", help="配置文件 config.yaml 的路径 / path to config.yaml")):
    _state["config"] = config


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings(_state.get("config"))
    return _state["settings"]


def engine():
    if "engine" not in _state:
        eng = make_engine(settings().database_url)
        migrate(eng)
        _state["engine"] = eng
    return _state["engine"]


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def party_names(keys: list[str], short: bool = False) -> str:
    names = _state.setdefault("names", {})
    if not names:
        with Session(engine()) as s:
            names.update({d["key"]: d["name"] for d in catalog_repo.list_departments(s)})
    shown = [names.get(k, k) for k in keys]
    if short and len(shown) > 3:
        return "、".join(shown[:2]) + f" 等 {len(shown)} 个"
    return "、".join(shown)


# ---------------------------------------------------------------- plans

@plans_app.command("validate")
def plans_validate(file: Path = typer.Argument(..., help="catalog.yaml 或其所在文件夹 / catalog file or folder")):
    """校验一个计划目录文件（不写入数据库）/ validate a catalog file."""
    written, effective = validate_file(file, settings())
    stated = sum(1 for _, o in written.obligations() if o.cadence.origin == "stated")
    total = sum(1 for _ in effective.obligations())
    out.print(f"校验通过：{file}：计划 {written.plan.id}，{len(written.clauses)} 个条款，"
              f"{stated} 项原文规定周期的义务，加载后共 {total} 项义务（含默认进度报送）。")


@plans_app.command("load")
def plans_load(
    plan_id: Optional[str] = typer.Argument(None, help="计划编号（如 fujian-2025）或文件夹 / plan id or folder"),
    all_: bool = typer.Option(False, "--all", help="加载 config.yaml 中配置的全部计划 / load every configured plan"),
    format: ListFormat = FormatOption,
):
    """加载计划目录和部门目录到数据库；重复加载不产生变化 / load catalogs (idempotent)."""
    if not plan_id and not all_:
        raise typer.BadParameter("请给出计划编号，或使用 --all 加载全部计划", param_hint="PLAN_ID")
    result = load_plans(engine(), settings(), [plan_id] if plan_id else None)
    if format == ListFormat.json:
        emit_json({"directory": result.directory.__dict__, "plans": [r.as_dict() for r in result.plans]})
        return
    d = result.directory
    if d.unchanged:
        out.print("部门目录：无变化")
    else:
        out.print(f"部门目录：部门/角色 新增 {d.departments_added}、修改 {d.departments_changed}；"
                  f"行政区划 新增 {d.units_added}、修改 {d.units_changed}；联系人 新增 {d.contacts_added}、修改 {d.contacts_changed}")
    for r in result.plans:
        if r.unchanged:
            out.print(f"{r.plan_id}：无变化")
            continue
        head = "新加载" if r.created else "已更新"
        out.print(f"{r.plan_id}：{head}")
        for label, items in (("条款 新增", r.clauses_added), ("条款 修改", r.clauses_changed),
                             ("条款 删除", r.clauses_removed), ("义务 新增", r.obligations_added),
                             ("义务 修改", r.obligations_changed), ("义务 删除", r.obligations_removed)):
            if items:
                shown = "、".join(items[:12]) + (f" 等 {len(items)} 项" if len(items) > 12 else f"（{len(items)}）")
                out.print(f"  {label}：{shown}")


@plans_app.command("list")
def plans_list(format: ListFormat = FormatOption):
    """列出已加载的计划 / list loaded plans."""
    with Session(engine()) as s:
        rows = catalog_repo.list_plans(s)
    if format == ListFormat.json:
        emit_json(rows)
        return
    if not rows:
        out.print("尚未加载任何计划。请运行：duban plans load --all")
        return
    t = Table(title="已加载的计划")
    for col in ("编号", "名称", "发文单位", "层级", "印发日期", "条款", "原文周期义务", "默认周期义务"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["id"], r["title"], r["issuer"], LEVEL_NAMES.get(r["level"], r["level"]), r["issued"] or "—",
                  str(r["clauses"]), str(r["obligations_stated"]), str(r["obligations_policy"]))
    out.print(t)


@plans_app.command("show")
def plans_show(plan_id: str = typer.Argument(..., help="计划编号 / plan id"), format: ListFormat = FormatOption):
    """显示一个计划的条款、责任部门和义务 / show a plan's clauses."""
    with Session(engine()) as s:
        doc = catalog_repo.export_catalog(s, plan_id)
    if format == ListFormat.json:
        emit_json(doc)
        return
    p = doc["plan"]
    out.print(f"[bold]{p['title']}[/bold]（{p['id']}）")
    out.print(f"发文单位：{p['issuer']}　地区：{p['locality']}　印发：{p.get('issued') or '原文未载'}　"
              f"依据：{'、'.join(p.get('implements') or []) or '—'}")
    t = Table(show_lines=False)
    for col in ("条款", "标题", "原文行", "责任部门（牵头在前）", "义务与周期"):
        t.add_column(col, overflow="fold")
    for c in doc["clauses"]:
        deps = "、".join(d["name"] + ("（牵头）" if d["role"] == "lead" else "") for d in c["departments"])
        obs = "\n".join(f"{o['id']} {describe_cadence(o['cadence'])}{'' if o['cadence']['origin'] == 'stated' else '〔默认〕'}"
                        for o in c["obligations"])
        t.add_row(c["id"], c.get("title") or c.get("item") or "", f"{c['lines'][0]}–{c['lines'][1]}", deps, obs)
    out.print(t)


@plans_app.command("export")
def plans_export(plan_id: str = typer.Argument(..., help="计划编号 / plan id"),
                 format: ExportFormat = typer.Option(ExportFormat.json, "--format", "-f", help="json|yaml")):
    """按固定字段名导出已加载的计划目录 / export a loaded catalog."""
    with Session(engine()) as s:
        doc = catalog_repo.export_catalog(s, plan_id)
    if format == ExportFormat.json:
        emit_json(doc)
    else:
        sys.stdout.write(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100))


@plans_app.command("extract")
def plans_extract(
    text_file: Path = typer.Argument(..., help="方案原文（UTF-8 文本，可来自 PDF、网页或 OCR）/ the plan's text"),
    output: Path = typer.Option(..., "--output", "-o", help="草稿目录文件 draft.yaml / where to write the draft"),
    plan_id: Optional[str] = typer.Option(None, "--id", help="计划编号（默认取文件夹名或文件名）/ plan id"),
):
    """从方案原文起草计划目录，供人工核对 / draft a catalog from a plan's text."""
    from obligations.catalog import parse_catalog
    from obligations.extract.draft import extract_catalog, to_yaml
    from storage.atomic import write_atomic
    from storage.files import read_directory

    text = _read_text(text_file)
    directory = read_directory(settings().directory_path)
    draft = extract_catalog(text, directory, plan_id or _plan_id(text_file), str(text_file))
    body = to_yaml(draft, str(text_file))
    # the draft must be a valid catalog: check before writing (an error here is duban's, not the user's)
    parse_catalog(body, str(output), directory, text.count("\n") + 1)
    write_atomic(output, body)
    doc = draft.document
    policy = sum(1 for c in draft.clauses for o in c["obligations"] if o["cadence"]["origin"] == "policy")
    lines = [f"已写入草稿 {output}：计划“{doc['plan']['title']}”，{len(draft.clauses)} 个条款，"
             f"{sum(len(c['departments']) for c in draft.clauses)} 个责任部门，{draft.stated()} 项原文规定周期的义务，"
             f"{policy} 项“定期”义务。"]
    if draft.reviews:
        lines.append(f"需要人工核对 {len(draft.reviews)} 处（草稿中标为 review）：")
        lines += [f"  {line}" for line in draft.reviews]
    lines.append(f"核对后：duban plans validate {output}；与已有目录比较：duban plans diff {output} plans/<编号>/catalog.yaml")
    sys.stdout.write("\n".join(lines) + "\n")


@plans_app.command("diff")
def plans_diff(
    left: Path = typer.Argument(..., help="草稿或新版目录 / draft or new catalog"),
    right: Path = typer.Argument(..., help="作为基准的目录 / the catalog taken as reference"),
    format: ListFormat = FormatOption,
):
    """比较两个计划目录（如草稿与已核对的目录）/ compare two catalogs."""
    from obligations.extract.compare import compare, render

    docs = [_read_catalog_doc(path) for path in (left, right)]
    result = compare(*docs)
    if format == ListFormat.json:
        emit_json({"same": result.same, "plan": result.plan,
                   "changes": [{"clause": c, "change": t} for c, t in result.changes],
                   "figures": {k: round(v, 4) for k, v in result.figures().items()}})
    else:
        sys.stdout.write(render(result, str(left), str(right)) + "\n")


def _read_text(path: Path) -> str:
    from obligations.catalog import CatalogError
    from obligations.yamlsource import Problem

    if not path.is_file():
        raise CatalogError([Problem(str(path), 1, "(file)", "文件不存在")])
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise CatalogError([Problem(str(path), line, "(text)", f"不是 UTF-8 文本（第 {exc.start} 字节），"
                                                              "请先转换编码，如 iconv -f GB18030 -t UTF-8")]) from None


def _plan_id(path: Path) -> str:
    import re

    for name in (path.parent.name if path.stem == "source" else "", path.stem):
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        if slug:
            return slug
    return "draft"


def _read_catalog_doc(path: Path) -> dict:
    """A catalog file as a document, validated against the configured directory first."""
    from storage.files import read_catalog, read_directory

    read_catalog(path, read_directory(settings().directory_path))
    return yaml.safe_load((path / "catalog.yaml" if path.is_dir() else path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- departments, obligations

@departments_app.command("list")
def departments_list(format: ListFormat = FormatOption):
    """列出部门键、各级名称和承担的义务数 / list department and role keys."""
    with Session(engine()) as s:
        rows = catalog_repo.list_departments(s)
    if format == ListFormat.json:
        emit_json(rows)
        return
    if not rows:
        out.print("部门目录为空。请运行：duban plans load --all")
        return
    t = Table(title="部门与角色")
    for col in ("键", "类别", "名称", "各级名称", "义务数"):
        t.add_column(col, overflow="fold")
    for r in rows:
        names = "、".join(f"{LEVEL_NAMES.get(k, k)}:{v}" for k, v in r["names"].items())
        t.add_row(r["key"], "部门" if r["kind"] == "department" else "角色", r["name"], names, str(r["obligations"]))
    out.print(t)


class Origin(str, Enum):
    stated = "stated"
    policy = "policy"


@obligations_app.command("list")
def obligations_list(
    plan: Optional[str] = typer.Option(None, "--plan", help="计划编号 / plan id"),
    department: Optional[str] = typer.Option(None, "--department", help="部门键，如 education / department key"),
    origin: Optional[Origin] = typer.Option(None, "--origin", help="stated（原文规定）| policy（默认周期）"),
    format: ListFormat = FormatOption,
):
    """列出督办义务 / list obligations."""
    if department:
        with Session(engine()) as s:
            if not any(d["key"] == department for d in catalog_repo.list_departments(s)):
                raise typer.BadParameter(f"未知的部门键 {department}（可用 duban departments list 查看）",
                                         param_hint="--department")
    with Session(engine()) as s:
        rows = catalog_repo.list_obligations(s, plan=plan, department=department,
                                             origin=origin.value if origin else None)
    if format == ListFormat.json:
        emit_json(rows)
        return
    if not rows:
        out.print("没有符合条件的义务。尚未加载计划时请运行：duban plans load --all")
        return
    by_plan: dict[str, list[dict]] = {}
    for r in rows:
        by_plan.setdefault(r["plan"], []).append(r)
    for plan_id, items in by_plan.items():
        t = Table(title=f"{plan_id}：督办义务 {len(items)} 项", title_justify="left")
        for col, width in (("义务", 9), ("内容", None), ("责任方", None), ("范围", 8), ("周期", 12), ("来源", 6)):
            t.add_column(col, overflow="fold", min_width=width)
        for r in items:
            cadence = describe_cadence({k: r[k] for k in ("kind", "count", "months", "rrule", "start", "deadline", "after")})
            t.add_row(r["obligation"], r["what"], party_names(r["who"], short=True),
                      SCOPE_NAMES.get(r["scope"], r["scope"]), cadence, "原文" if r["origin"] == "stated" else "默认")
        out.print(t)
    out.print(f"共 {len(rows)} 项。“原文”= 方案原文规定的周期；“默认”= config.yaml 的默认进度报送周期。"
              "原文短语见 --format json 的 text 字段。")


@jurisdictions_app.command("list")
def jurisdictions_list(level: Optional[str] = typer.Option(None, "--level", help="province|city|county|township|village"),
                       format: ListFormat = FormatOption):
    """列出行政区划及督查联系人 / list jurisdictions."""
    from sqlalchemy import func, select

    from storage.tables import Contact, Jurisdiction

    with Session(engine()) as s:
        counts = dict(s.execute(select(Contact.jurisdiction_id, func.count()).group_by(Contact.jurisdiction_id)).all())
        q = select(Jurisdiction).order_by(Jurisdiction.path)
        if level:
            q = q.where(Jurisdiction.level == level)
        rows = [{"code": j.code, "name": j.name, "level": j.level, "path": j.path, "supervisor": j.supervisor_name,
                 "supervisor_email": j.supervisor_email, "contacts": counts.get(j.id, 0)} for j in s.scalars(q)]
    if format == ListFormat.json:
        emit_json(rows)
        return
    t = Table(title=f"行政区划（{len(rows)} 个）")
    for col in ("代码", "名称", "层级", "督查联系人", "部门联系人数"):
        t.add_column(col)
    for r in rows:
        indent = "  " * (r["path"].count("/") - 1)
        t.add_row(r["code"], indent + r["name"], LEVEL_NAMES.get(r["level"], r["level"]),
                  f"{r['supervisor'] or '—'} {r['supervisor_email'] or ''}", str(r["contacts"]))
    out.print(t)


# ---------------------------------------------------------------- entry point

def _fail(message: str, code: int = 1) -> int:
    # plain write: `file:line: field: reason` lines must never be wrapped
    sys.stderr.write(message.rstrip("\n") + "\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; domain errors become messages on stderr and exit code 1 (usage errors 2)."""
    global out
    out = Console(soft_wrap=False)  # re-read the terminal width (COLUMNS) on each run
    try:
        rc = app(args=argv, prog_name="duban", standalone_mode=False)
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
        url = _state.get("settings").database_url if _state.get("settings") else "?"
        return _fail(f"数据库错误（{_mask(url)}）：{exc.orig}")
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("DUBAN_DEBUG"):
            raise
        return _fail(f"内部错误：{type(exc).__name__}: {exc}（设置 DUBAN_DEBUG=1 可查看详细信息）", 70)
    finally:
        eng = _state.pop("engine", None)
        if eng is not None:
            eng.dispose()
        _state.pop("settings", None)
        _state.pop("names", None)


def _mask(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def entry() -> None:
    sys.exit(main())


import flows.cli_schedule  # noqa: E402,F401  (registers the scheduling commands)
import flows.cli_notify  # noqa: E402,F401  (registers the notice commands)
import flows.cli_flows  # noqa: E402,F401  (registers demo, up, run)
import flows.cli_report  # noqa: E402,F401  (registers report, report-template)
import flows.cli_users  # noqa: E402,F401  (registers users)
import flows.cli_db  # noqa: E402,F401  (registers db check)
