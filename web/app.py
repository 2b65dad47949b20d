"""The web application: server-rendered pages in Chinese for coordinators, departments,
children's directors and supervisors; completion links from notices; ICS feeds; the JSON API.

    create_app(settings, engine=None) → FastAPI     (duban up serves it on 127.0.0.1:8000)

The app does not migrate the database: ``duban up`` (or ``duban db upgrade``) does, once, before
serving; a database from an older duban is refused at start with that advice."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from starlette.middleware.sessions import SessionMiddleware

from notifications.links import load_secret
from obligations.errors import DubanError
from storage import accounts
from storage.db import ensure_schema, make_engine
from storage.files import Settings
from web import api, docs, ics, pages
from web.deps import LoginRequired, principal_of
from web.guard import BodyLimit, SecurityHeaders
from web.templating import for_people, make_templates

TITLES = {403: "无权访问", 404: "未找到", 400: "请求有误", 409: "无法办理", 410: "链接已失效", 413: "文件过大",
          422: "请求有误", 503: "系统繁忙"}


def create_app(settings: Settings, engine=None, *, today=None) -> FastAPI:
    """``today``: a function giving the app's date (tests freeze it); default the configured
    timezone's today."""
    if engine is None:
        engine = make_engine(settings.database_url, pool=settings.pool())
        ensure_schema(engine)
    app = FastAPI(title="督办 duban API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json",
                  description="督办事项、办结登记、计划、部门与报告数据。每个部门以接口令牌访问（duban users token），"
                              "与网页相同的权限规则。")
    secret = load_secret(settings.data_dir)
    app.state.settings, app.state.engine, app.state.secret = settings, engine, secret
    app.state.today = today or settings.today
    app.add_middleware(SessionMiddleware, secret_key=secret.decode() + ":session", session_cookie="duban_session",
                       same_site="lax", https_only=settings.web.https_only,
                       max_age=settings.web.session_hours * 3600)
    templates = make_templates(settings.timezone)
    app.state.templates = templates

    def _refusal_page(scope, status: int, title: str, message: str) -> str:
        return templates.get_template("message.html").render(
            {"request": Request(scope), "title": title, "message": message, "user": None})

    # outermost last: the headers go on every response, the 413 included
    app.add_middleware(BodyLimit, max_body=settings.web.max_body_bytes, max_upload=settings.web.max_upload_bytes,
                       render=_refusal_page)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        # back to the very page after signing in, its filters included
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)

    def _who(request: Request):
        """The signed-in person for an error page's navigation, or None: read only (nothing is
        written for it), and never an error of its own (a broken or ended session is no one)."""
        try:
            key = request.session.get("sid") if "session" in request.scope else None
            if not isinstance(key, str):
                return None
            web = settings.web
            with Session(engine) as s:
                user = accounts.session_user(s, key, idle_minutes=web.session_idle_minutes, hours=web.session_hours)
                who = principal_of(s, user) if user is not None else None
                s.rollback()
                return who
        except Exception:  # noqa: BLE001 - an error page must render whatever the session is
            return None

    def _back(request: Request) -> str | None:
        """Where 返回上一页 goes: the page the person came from on this site, else nowhere."""
        ref = urlsplit(request.headers.get("referer", ""))
        if not ref.path.startswith("/") or ref.netloc != request.url.netloc or ref.path == request.url.path:
            return None
        return ref.path + (f"?{ref.query}" if ref.query else "")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(request, "message.html", {
            "title": TITLES.get(exc.status_code, "出错了"), "message": for_people(exc.detail), "user": _who(request),
            "back": _back(request)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # a page's address or form with a value of the wrong kind (/accounts/abc): words, not JSON
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        return await _http_error(request, HTTPException(422, "地址或表单中的内容有误，请返回后重试"))

    @app.exception_handler(DubanError)
    async def _refused(request: Request, exc: DubanError):
        # a rule of the service refused the action: its status and its words, on every door
        return await _http_error(request, HTTPException(exc.http_status, str(exc)))

    @app.exception_handler(DataError)
    async def _bad_data(request: Request, exc: DataError):
        # values the database refuses (PostgreSQL: a NUL byte in text) are the client's error
        return await _http_error(request, HTTPException(400, "请求中含有无法处理的字符或数值"))

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout):
        # every database connection stayed in use for database_pool.timeout_seconds: say so at once
        return await _http_error(request, HTTPException(503, "系统繁忙，请稍后再试", headers={"Retry-After": "5"}))

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(ics.router)
    app.include_router(docs.router)
    docs.mount(app)
    return app
