"""The web application: server-rendered pages in Chinese for coordinators, departments,
children's directors and supervisors; completion links from notices; ICS feeds; the JSON API.

    create_app(settings) → FastAPI     (duban up serves it on 127.0.0.1:8000)"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.middleware.sessions import SessionMiddleware

from notifications.links import load_secret
from storage.db import make_engine, migrate
from storage.files import Settings
from web.deps import LoginRequired, csrf_token

TEMPLATES = Path(__file__).parent / "templates"


def create_app(settings: Settings, engine=None, *, today=None) -> FastAPI:
    """``today``: a function giving the app's date (tests freeze it); default the configured
    timezone's today."""
    if engine is None:
        engine = make_engine(settings.database_url)
        migrate(engine)
    app = FastAPI(title="督办 duban API", version="1", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/v1/openapi.json",
                  description="督办事项、办结登记、计划、部门与报告数据。每个部门以接口令牌访问（duban users token），"
                              "与网页相同的权限规则。")
    secret = load_secret(settings.data_dir)
    app.state.settings, app.state.engine, app.state.secret = settings, engine, secret
    app.state.today = today or settings.today
    app.add_middleware(SessionMiddleware, secret_key=secret.decode() + ":session", session_cookie="duban_session",
                       same_site="lax", https_only=settings.web.https_only,
                       max_age=12 * 3600)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.filters["clause"] = clause_label
    templates.env.filters["cjson"] = lambda v: json.dumps(v, ensure_ascii=False)
    zone = ZoneInfo(settings.timezone)
    templates.env.filters["localtime"] = lambda t: (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)) \
        .astimezone(zone).strftime("%Y-%m-%d %H:%M")
    app.state.templates = templates

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(request, "message.html", {
            "title": {403: "无权访问", 404: "未找到", 400: "请求有误", 413: "文件过大"}.get(exc.status_code, "出错了"),
            "message": exc.detail, "user": None}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DataError)
    async def _bad_data(request: Request, exc: DataError):
        # values the database refuses (PostgreSQL: a NUL byte in text) are the client's error
        return await _http_error(request, HTTPException(400, "请求中含有无法处理的字符或数值"))

    from web import api, ics, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(ics.router)
    return app


def clause_label(code: str) -> str:
    """How people cite a clause: 第3条, 工作要求第2段, 基础清单第19项."""
    kind, _, n = str(code).partition("-")
    if n and kind == "req":
        return f"工作要求第{n}段"
    if n and kind == "list":
        return f"基础清单第{n}项"
    return f"第{code}条"


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def today(request: Request) -> dt.date:
    return request.app.state.today()
