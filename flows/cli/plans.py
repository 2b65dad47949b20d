"""`duban plans`: draft, compare, validate, load, list, show and export plan catalogs."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

import typer
import yaml

from flows.cli.context import cli
from flows.cli.output import ExportFormat, FormatOption, ListFormat, col, dash, emit_json, print_listing
from obligations.catalog import describe_cadence
from obligations.words import LEVEL_NAMES
from storage import catalog_repo
from storage.catalogs import load_plans, validate_file

app = typer.Typer(help="实施方案目录：从原文起草、比较、校验、加载、查看、导出 / plan catalogs: extract, diff, validate, load, "
                       "show, export", no_args_is_help=True)


@app.command("validate")
def plans_validate(ctx: typer.Context,
                   file: Path = typer.Argument(..., help="catalog.yaml 或其所在文件夹 / catalog file or folder")):
    """校验一个计划目录文件（不写入数据库）/ validate a catalog file."""
    written, effective = validate_file(file, cli(ctx).settings)
    stated = sum(1 for _, o in written.obligations() if o.cadence.origin == "stated")
    total = sum(1 for _ in effective.obligations())
    cli(ctx).out.print(f"校验通过：{file}：计划 {written.plan.id}，{len(written.clauses)} 个条款，"
                       f"{stated} 项原文规定周期的义务，加载后共 {total} 项义务（含默认进度报送）。")


@app.command("load")
def plans_load(
    ctx: typer.Context,
    plan_id: Optional[str] = typer.Argument(None, help="计划编号（如 fujian-2025）或文件夹 / plan id or folder"),
    all_: bool = typer.Option(False, "--all", help="加载 config.yaml 中配置的全部计划 / load every configured plan"),
    format: ListFormat = FormatOption,
):
    """加载计划目录和部门目录到数据库；重复加载不产生变化 / load catalogs (idempotent)."""
    if not plan_id and not all_:
        raise typer.BadParameter("请给出计划编号，或使用 --all 加载全部计划", param_hint="PLAN_ID")
    run = cli(ctx)
    result = load_plans(run.engine, run.settings, [plan_id] if plan_id else None)
    if format == ListFormat.json:
        emit_json({"directory": result.directory.__dict__, "plans": [r.as_dict() for r in result.plans]})
        return
    out = run.out
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


@app.command("list")
def plans_list(ctx: typer.Context, format: ListFormat = FormatOption):
    """列出已加载的计划 / list loaded plans."""
    run = cli(ctx)
    with run.session() as s:
        rows = catalog_repo.list_plans(s)
    print_listing(run.out, format, rows, [
        col("编号", "id"), col("名称", "title"), col("发文单位", "issuer"),
        col("层级", lambda r: LEVEL_NAMES.get(r["level"], r["level"])), col("印发日期", lambda r: dash(r["issued"])),
        col("条款", "clauses"), col("原文周期义务", "obligations_stated"), col("默认周期义务", "obligations_policy"),
    ], title="已加载的计划", empty="尚未加载任何计划。请运行：duban plans load --all")


@app.command("check")
def plans_check(ctx: typer.Context, plan_id: str = typer.Argument(..., help="计划编号 / plan id"),
                format: ListFormat = FormatOption):
    """每项义务由多少单位、多少责任方承担；没有事项的义务说明原因 / who owes each obligation, and why not."""
    from obligations.words import clause_label
    from storage.plan_check import check_plan

    run = cli(ctx)
    with run.session() as s:
        rows = check_plan(s, plan_id)
    idle = [r for r in rows if not r.items]
    print_listing(run.out, format, rows, [
        col("条款", lambda r: clause_label(r.clause), overflow="fold"),
        col("义务", lambda r: r.obligation, overflow="fold"),
        col("内容", lambda r: r.what, overflow="fold"),
        col("责任部门", lambda r: "、".join(r.parties), overflow="fold"),
        col("单位", lambda r: str(r.units), justify="right"),
        col("责任方", lambda r: str(r.owing), justify="right"),
        col("事项", lambda r: str(r.items), justify="right"),
        col("没有事项的原因", lambda r: r.reason or "", overflow="fold"),
    ], title=f"{plan_id}：{len(rows)} 项义务，{len(rows) - len(idle)} 项已有事项，{len(idle)} 项没有",
        json_value=[r.as_dict() for r in rows], title_justify="left")


@app.command("show")
def plans_show(ctx: typer.Context, plan_id: str = typer.Argument(..., help="计划编号 / plan id"),
               format: ListFormat = FormatOption):
    """显示一个计划的条款、责任部门和义务 / show a plan's clauses."""
    run = cli(ctx)
    with run.session() as s:
        doc = catalog_repo.export_catalog(s, plan_id)
    if format == ListFormat.json:
        emit_json(doc)
        return
    p = doc["plan"]
    run.out.print(f"[bold]{p['title']}[/bold]（{p['id']}）")
    run.out.print(f"发文单位：{p['issuer']}　地区：{p['locality']}　印发：{p.get('issued') or '原文未载'}　"
                  f"依据：{'、'.join(p.get('implements') or []) or '—'}")

    def departments(c: dict) -> str:
        return "、".join(d["name"] + ("（牵头）" if d["role"] == "lead" else "") for d in c["departments"])

    def obligations(c: dict) -> str:
        return "\n".join(f"{o['id']} {describe_cadence(o['cadence'])}"
                         f"{'' if o['cadence']['origin'] == 'stated' else '〔默认〕'}" for o in c["obligations"])

    print_listing(run.out, ListFormat.table, doc["clauses"], [
        col("条款", "id", overflow="fold"),
        col("标题", lambda c: c.get("title") or c.get("item") or "", overflow="fold"),
        col("原文行", lambda c: f"{c['lines'][0]}–{c['lines'][1]}", overflow="fold"),
        col("责任部门（牵头在前）", departments, overflow="fold"),
        col("义务与周期", obligations, overflow="fold"),
    ], show_lines=False)


@app.command("export")
def plans_export(ctx: typer.Context, plan_id: str = typer.Argument(..., help="计划编号 / plan id"),
                 format: ExportFormat = typer.Option(ExportFormat.json, "--format", "-f", help="json|yaml")):
    """按固定字段名导出已加载的计划目录 / export a loaded catalog."""
    with cli(ctx).session() as s:
        doc = catalog_repo.export_catalog(s, plan_id)
    if format == ExportFormat.json:
        emit_json(doc)
    else:
        sys.stdout.write(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100))


@app.command("extract")
def plans_extract(
    ctx: typer.Context,
    text_file: Path = typer.Argument(..., help="方案原文（UTF-8 文本，可来自 PDF、网页或 OCR）/ the plan's text"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="草稿目录文件 draft.yaml / where to write the draft"),
    add: bool = typer.Option(False, "--add", help="写入 plans/<编号>/（catalog.yaml 和 source.txt）并加入 config.yaml 的 plans / "
                                                 "put the draft in place and list it"),
    plan_id: Optional[str] = typer.Option(None, "--id", help="计划编号（默认取文件夹名或文件名）/ plan id"),
):
    """从方案原文起草计划目录，供人工核对 / draft a catalog from a plan's text."""
    from obligations.catalog import PLAN_ID, parse_catalog
    from obligations.directory import Directory, dump_directory
    from obligations.extract.draft import extract_catalog, plan_id_for, to_yaml, with_proposals
    from storage.atomic import write_atomic
    from storage.files import read_directory
    from storage.localities import header_of

    if add == (output is not None):
        raise typer.BadParameter("请给出 -o 草稿文件，或用 --add 直接放入本工作文件夹（二者选一）", param_hint="-o / --add")
    run = cli(ctx)
    text = _read_text(text_file)
    pid = plan_id or _plan_id(text_file)
    if not re.fullmatch(PLAN_ID, pid):
        raise typer.BadParameter(f"计划编号 {pid!r} 只能由小写字母、数字和 - 组成，如 moushi-2025", param_hint="--id")
    directory = read_directory(run.settings.directory_path)
    source_name = "source.txt" if add else str(text_file)
    draft = extract_catalog(text, directory, pid, source_name)
    if not plan_id and pid == "draft":       # the file name gives no id: the locality and year do (luoyang-2025)
        pid = draft.document["plan"]["id"] = plan_id_for(draft.document["plan"], run.settings.today().year)
    body = to_yaml(draft, source_name)
    target = run.settings.path.parent / "plans" / pid / "catalog.yaml" if add else output
    # departments the directory does not know are proposed: the draft is valid against the
    # directory with them (an error here is duban's, not the user's)
    extended = with_proposals(directory.doc, draft.proposals)
    parse_catalog(body, str(target), Directory(extended), text.count("\n") + 1)
    directory_path = run.settings.directory_path
    if add:
        from storage.plan_files import add_plan

        placed = add_plan(run.settings.path, pid, body, text_file.read_bytes())
        target = placed.catalog
        if draft.proposals:
            write_atomic(directory_path, dump_directory(extended, header_of(directory_path.read_text(encoding="utf-8"))))
    else:
        write_atomic(output, body)
    doc = draft.document
    policy = sum(1 for c in draft.clauses for o in c["obligations"] if o["cadence"]["origin"] == "policy")
    lines = [f"已写入草稿 {target}：计划“{doc['plan']['title']}”，{len(draft.clauses)} 个条款，"
             f"{sum(len(c['departments']) for c in draft.clauses)} 个责任部门，{draft.stated()} 项原文规定周期的义务，"
             f"{policy} 项“定期”义务。"]
    if add:
        lines.append(f"原文已存为 {placed.source}；" + (f"已在 {placed.config} 的 plans 中加入 plans/{pid}。"
                                                     if placed.listed else f"{placed.config} 已列出 plans/{pid}。"))
    if draft.proposals:
        head = (f"部门目录中没有的 {len(draft.proposals)} 个部门，已作为新部门加入 {directory_path}（标有 review，请核对名称和层级）："
                if add else f"部门目录中没有的 {len(draft.proposals)} 个部门，建议加入部门目录（用 --add 时自动加入；"
                            "否则 plans validate 会提示未知的部门键）：")
        lines.append(head)
        lines += [f"  {p['key']}：{p['name']}（原文：{'、'.join(p.get('aliases') or [p['name']])}）" for p in draft.proposals]
    if draft.reviews:
        lines.append(f"需要人工核对 {len(draft.reviews)} 处（草稿中标为 review）：")
        lines += [f"  {line}" for line in draft.reviews]
    if add:
        lines.append(f"下一步：duban plans load --all，然后 duban materialize；在 {target} 中核对标为 review 的条目后再次 plans load。")
    else:
        lines.append(f"核对后：duban plans validate {output}；与已有目录比较：duban plans diff {output} plans/<编号>/catalog.yaml")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command("diff")
def plans_diff(
    ctx: typer.Context,
    left: Path = typer.Argument(..., help="草稿或新版目录 / draft or new catalog"),
    right: Path = typer.Argument(..., help="作为基准的目录 / the catalog taken as reference"),
    format: ListFormat = FormatOption,
):
    """比较两个计划目录（如草稿与已核对的目录）/ compare two catalogs."""
    from obligations.extract.compare import compare, render

    docs = [_read_catalog_doc(path, cli(ctx).settings.directory_path) for path in (left, right)]
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
    for name in (path.parent.name if path.stem == "source" else "", path.stem):
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        if slug:
            return slug
    return "draft"


def _read_catalog_doc(path: Path, directory_path: Path) -> dict:
    """A catalog file as a document, validated against the configured directory first."""
    from storage.files import read_catalog, read_directory

    read_catalog(path, read_directory(directory_path))
    return yaml.safe_load((path / "catalog.yaml" if path.is_dir() else path).read_text(encoding="utf-8"))
