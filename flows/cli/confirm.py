"""`duban confirm`: a co-department confirms its part (协办确认) on the lead department's item
(obligations with ``co_departments: confirm``; storage.workflow.confirm_part)."""
from __future__ import annotations

from typing import Optional

import typer

from flows.cli.context import cli
from flows.cli.output import FormatOption, ListFormat, emit_json
from storage import occurrences as occ
from storage import views, workflow

app = typer.Typer()


@app.command("confirm")
def confirm_cmd(ctx: typer.Context, occurrence: int = typer.Argument(..., help="牵头部门的督办事项编号 / the lead's item"),
                department: Optional[str] = typer.Option(
                    None, "--department", help="确认的协办部门（名称或键；事项只有一个协办部门时可省略）/ co-department"),
                note: Optional[str] = typer.Option(None, "--note", help="协办部分的办理说明 / note"),
                by: str = typer.Option("命令行用户", "--by", help="确认人 / who"),
                format: ListFormat = FormatOption):
    """协办部门确认协办部分（每个部门只确认一次）/ a co-department confirms its part."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        party = occ.resolve_department(session, department).key if department else None
        row = workflow.confirm_part(session, occurrence, by=workflow.Actor(by, "cli"), note=note, party=party)
        party = row.party_key
    with run.session() as session:
        detail = occ.occurrence_detail(session, occurrence, today=s.today(), soon_days=s.due_soon_days)
        parts = views.confirmations_of(session, occurrence)
    confirmed = sum(1 for r in parts if r.confirmed_at is not None)
    if format == ListFormat.json:
        emit_json({"occurrence": occurrence, "department": party, "confirmed": confirmed, "of": len(parts),
                   "co_departments": [{"department": r.party_key, "name": r.name, "confirmed_at": r.confirmed_at,
                                       "by": r.confirmed_by, "note": r.note} for r in parts]})
        return
    name = next((r.name for r in parts if r.party_key == party), party)
    pending = [r.name for r in parts if r.confirmed_at is None]
    run.out.print(f"已确认：{name}对事项 {occurrence}（{detail['what']}，牵头单位 {detail['jurisdiction']}·"
                  f"{detail['assignee_name']}）的协办部分；协办确认 {confirmed}/{len(parts)}"
                  + (f"，尚待确认：{'、'.join(pending)}。" if pending else "，协办部门已全部确认。"), soft_wrap=True)
