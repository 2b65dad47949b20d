"""`duban users`: accounts for the web app and tokens for the API: add, list, disable, enable,
password, token, tokens, revoke, ics-reset. Each calls one function of storage.accounts (the
rule and the audit row are there)."""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

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
        col("状态", lambda r: "启用" if r["active"] else "停用"),
    ], title=f"账号（{len(rows)} 个）", title_justify="left")


@app.command("token")
def token_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
              label: Optional[str] = typer.Option(None, "--label", help="用途说明 / label"),
              days: int = typer.Option(accounts.TOKEN_DAYS, "--days", min=1, max=accounts.MAX_TOKEN_DAYS,
                                       help="有效天数 / days valid")):
    """为账号生成接口令牌（只显示一次，到期失效）/ create an API token (shown once; it expires)."""
    run = cli(ctx)
    with run.session() as s:
        token = accounts.add_token(s, _user(s, username), label=label, days=days)
        s.commit()
    run.out.print(token, soft_wrap=True, highlight=False)


def _user(s, username: str):
    user = accounts.find_user(s, username)
    if user is None:
        raise typer.BadParameter(f"没有用户名为 {username} 的账号", param_hint="USERNAME")
    return user


def _change(ctx: typer.Context, act, *args, **kwargs):
    """Run one account change in its own transaction (a refusal, such as an unknown account or
    a password the rule refuses, is the command's error: exit code 1, nothing written)."""
    run = cli(ctx)
    with run.session() as s:
        result = act(s, *args, **kwargs)
        s.commit()
    return run, result


@app.command("disable")
def disable_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username")):
    """停用账号：不能再登录，已登录的会话立即结束，接口令牌全部吊销 / disable an account."""
    run, changed = _change(ctx, accounts.disable_user, username)
    run.out.print(f"已停用账号 {username}：会话已结束，接口令牌已吊销。" if changed else f"账号 {username} 本已停用。")


@app.command("enable")
def enable_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username")):
    """启用账号，并解除因多次登录失败造成的锁定 / enable an account (also lifts a sign-in lock)."""
    run, changed = _change(ctx, accounts.enable_user, username)
    run.out.print(f"账号 {username} 已启用，可以登录。" if changed else f"账号 {username} 本已启用，也未被锁定。")


@app.command("password")
def password_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
                 password: Optional[str] = typer.Option(None, "--password", help="新密码（不给则提示输入）/ new password")):
    """修改账号密码（其已登录的会话随之结束）/ set an account's password (its sessions end)."""
    if password is None:
        password = typer.prompt("新密码", hide_input=True, confirmation_prompt="再次输入新密码")
    run, _ = _change(ctx, accounts.set_password, username, password)
    run.out.print(f"已修改账号 {username} 的密码；其已登录的会话已结束。")


@app.command("tokens")
def tokens_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
               fmt: ListFormat = FormatOption):
    """列出账号的接口令牌（不显示令牌本身）/ list an account's API tokens (never the token)."""
    run = cli(ctx)
    zone = ZoneInfo(run.settings.timezone)

    def when(key: str):
        return lambda r: r[key].astimezone(zone).strftime("%Y-%m-%d %H:%M") if r[key] else "—"

    with run.session() as s:
        rows = accounts.list_tokens(s, username)
    print_listing(run.out, fmt, rows, [
        col("编号", "id", justify="right"), col("用途", lambda r: r["label"] or "—"), col("生成", when("created")),
        col("最近使用", when("last_used")), col("到期", when("expires")), col("吊销", when("revoked")),
        col("状态", "state"),
    ], title=f"{username} 的接口令牌（{len(rows)} 个）", title_justify="left",
        empty=f"账号 {username} 没有接口令牌。",
        json_value=[{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in r.items()} for r in rows])


@app.command("revoke")
def revoke_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username"),
               token_id: Optional[int] = typer.Argument(None, help="令牌编号（duban users tokens 可查看）/ token number"),
               all_: bool = typer.Option(False, "--all", help="吊销该账号全部有效令牌 / every live token")):
    """吊销接口令牌 / revoke an API token."""
    if (token_id is None) == (not all_):
        raise typer.BadParameter("请给出令牌编号，或用 --all 吊销全部（二者选一）", param_hint="TOKEN_ID")
    run, count = _change(ctx, accounts.revoke_token, username, token_id)
    run.out.print(f"已吊销 {username} 的 {count} 个接口令牌。")


@app.command("ics-reset")
def ics_reset_cmd(ctx: typer.Context, username: str = typer.Argument(..., help="用户名 / username")):
    """更换账号的日历订阅（ICS）地址，旧地址立即失效 / give an account a new ICS feed URL."""
    run, _ = _change(ctx, accounts.rotate_ics, username)
    run.out.print(f"账号 {username} 的日历订阅地址已更换，旧地址已失效；新地址见其网页待办事项页。")
