"""`duban users`: accounts for the web app and tokens for the API."""
from __future__ import annotations

from typing import Optional

import typer

from flows.cli.context import cli
from flows.cli.output import FormatOption, ListFormat, col, print_listing
from storage import accounts

app = typer.Typer(help="网页账号与接口令牌 / accounts and API tokens", no_args_is_help=True)


@app.command("add")
def add_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
            role: str = typer.Option(..., "--role", help="coordinator 协调员 | supervisor 督查 | department 责任部门 | director 儿童主任"),
            jurisdiction: str = typer.Option(..., "--jurisdiction", help="所属地区（名称或区划代码）/ unit"),
            department: Optional[str] = typer.Option(None, "--department", help="部门名称或键，如 卫健委、health（责任部门账号）/ department name or key"),
            director: Optional[str] = typer.Option(None, "--director", help="台账中的儿童主任名字或工号 / director in the ledger"),
            name: Optional[str] = typer.Option(None, "--name", help="显示名称 / display name"),
            password: Optional[str] = typer.Option(None, "--password", help="密码（不给则提示输入）/ password")):
    """新建网页账号 / create an account."""
    run = cli(ctx)
    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    with run.session() as s:
        try:
            user = accounts.add_user(s, username=username, password=password, role=role, jurisdiction=jurisdiction,
                                     display_name=name, department=department, director=director)
            s.commit()
        except accounts.AccountError as exc:
            raise typer.BadParameter(str(exc)) from None
        run.out.print(f"已创建账号 {user.username}（{role}）。")


@app.command("list")
def list_cmd(ctx: typer.Context, fmt: ListFormat = FormatOption):
    """列出账号 / list accounts."""
    run = cli(ctx)
    with run.session() as s:
        rows = accounts.list_users(s)
    print_listing(run.out, fmt, rows, [
        col("用户名", "username"), col("名称", "name"), col("角色", "role"), col("地区", "jurisdiction"),
        col("部门", "department"), col("儿童主任", "director"),
    ], title=f"账号（{len(rows)} 个）", title_justify="left")


@app.command("token")
def token_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
              label: Optional[str] = typer.Option(None, "--label", help="用途说明 / label")):
    """为账号生成接口令牌（只显示一次）/ create an API token (shown once)."""
    run = cli(ctx)
    with run.session() as s:
        user = accounts.find_user(s, username)
        if user is None:
            raise typer.BadParameter(f"没有用户名为 {username} 的账号", param_hint="USERNAME")
        token = accounts.add_token(s, user, label=label)
        s.commit()
    run.out.print(token, soft_wrap=True, highlight=False)
