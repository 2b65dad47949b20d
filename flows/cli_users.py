"""`duban users`: accounts for the web app and tokens for the API."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table
from sqlalchemy import select
from sqlmodel import Session

from flows import cli
from flows.cli import FormatOption, ListFormat, app, emit_json, engine

users_app = typer.Typer(help="网页账号与接口令牌 / accounts and API tokens", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def add_cmd(username: str = typer.Argument(..., help="用户名 / username"),
            role: str = typer.Option(..., "--role", help="coordinator 协调员 | supervisor 督查 | department 责任部门 | director 儿童主任"),
            jurisdiction: str = typer.Option(..., "--jurisdiction", help="所属地区（名称或区划代码）/ unit"),
            department: Optional[str] = typer.Option(None, "--department", help="部门键（责任部门账号）/ department key"),
            director: Optional[str] = typer.Option(None, "--director", help="台账中的儿童主任名字或工号 / director in the ledger"),
            name: Optional[str] = typer.Option(None, "--name", help="显示名称 / display name"),
            password: Optional[str] = typer.Option(None, "--password", help="密码（不给则提示输入）/ password")):
    """新建网页账号 / create an account."""
    from storage.accounts import AccountError, add_user

    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    with Session(engine()) as s:
        try:
            user = add_user(s, username=username, password=password, role=role, jurisdiction=jurisdiction,
                            display_name=name, department=department, director=director)
            s.commit()
        except AccountError as exc:
            raise typer.BadParameter(str(exc)) from None
        cli.out.print(f"已创建账号 {user.username}（{role}）。")


@users_app.command("list")
def list_cmd(fmt: ListFormat = FormatOption):
    """列出账号 / list accounts."""
    from storage.tables import Jurisdiction, UserAccount

    with Session(engine()) as s:
        rows = [{"username": u.username, "name": u.display_name, "role": u.role, "jurisdiction": j,
                 "department": u.department_key, "director": u.director, "active": u.active}
                for u, j in s.execute(select(UserAccount, Jurisdiction.name)
                                      .join(Jurisdiction, Jurisdiction.id == UserAccount.jurisdiction_id)
                                      .order_by(UserAccount.username))]
    if fmt == "json":
        emit_json(rows)
        return
    t = Table(title=f"账号（{len(rows)} 个）", title_justify="left")
    for col in ("用户名", "名称", "角色", "地区", "部门", "儿童主任"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["username"], r["name"], r["role"], r["jurisdiction"], r["department"] or "", r["director"] or "")
    cli.out.print(t)


@users_app.command("token")
def token_cmd(username: str = typer.Argument(..., help="用户名 / username"),
              label: Optional[str] = typer.Option(None, "--label", help="用途说明 / label")):
    """为账号生成接口令牌（只显示一次）/ create an API token (shown once)."""
    from storage.accounts import add_token
    from storage.tables import UserAccount

    with Session(engine()) as s:
        user = s.scalar(select(UserAccount).where(UserAccount.username == username))
        if user is None:
            raise typer.BadParameter(f"没有用户名为 {username} 的账号", param_hint="USERNAME")
        token = add_token(s, user, label=label)
        s.commit()
    cli.out.print(token, soft_wrap=True, highlight=False)
