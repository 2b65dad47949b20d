"""Request plumbing: the database session (one transaction per request), who is signed in
(a server-side session named by the cookie, or an API token), CSRF."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

from fastapi import Depends, Form, HTTPException, Request
from sqlmodel import Session

from storage import accounts
from storage.access import Principal
from storage.occurrences import OccurrenceError, resolve_jurisdiction
from storage.tables import Jurisdiction, UserAccount


class LoginRequired(Exception):
    """Raised by page routes; the app turns it into a redirect to the sign-in page."""


def _transaction(request: Request) -> Iterator[Session]:
    """The request's session and its one transaction: committed when the route returns,
    rolled back when it raises (before the response is sent: scope "function"). The service
    functions check every rule before they write, so a refusal the route turns into a page
    leaves nothing to commit."""
    with Session(request.app.state.engine) as session:
        request.state.session = session     # the page's own, for what its template asks (web/nav.py)
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            request.state.session = None
        session.commit()


db = Depends(_transaction, scope="function")


def principal_of(session: Session, user: UserAccount) -> Principal:
    unit = session.get(Jurisdiction, user.jurisdiction_id)
    return Principal(user.id, user.username, user.display_name, user.role, unit.id, unit.path, unit.name,
                     user.department_key, user.director)


def client_address(request: Request) -> str:
    """The address the sign-in throttle counts (behind a proxy, uvicorn's --proxy-headers gives
    the client's own)."""
    return request.client.host if request.client else "unknown"


def signed_in(request: Request, session: Session = db) -> Principal | None:
    key = request.session.get("sid")
    if not key or not isinstance(key, str):
        return None
    web = request.app.state.settings.web
    user = accounts.session_user(session, key, idle_minutes=web.session_idle_minutes, hours=web.session_hours)
    if user is None:
        session.commit()        # a session ended here stays ended, though the route is refused
        request.session.clear()
        return None
    return principal_of(session, user)


def page_user(p: Principal | None = Depends(signed_in)) -> Principal:
    if p is None:
        raise LoginRequired()
    return p


def api_user(request: Request, session: Session = db) -> Principal:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "需要接口令牌（Authorization: Bearer …，由 duban users token 生成）",
                            headers={"WWW-Authenticate": "Bearer"})
    user = accounts.user_for_token(session, token.strip())
    if user is None:
        raise HTTPException(401, "接口令牌无效、已过期或已吊销", headers={"WWW-Authenticate": "Bearer"})
    return principal_of(session, user)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, csrf: str = Form("")) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(expected, csrf):
        raise HTTPException(403, "表单已失效（CSRF 校验失败），请刷新页面后重试")


def unit_in_area(session: Session, p: Principal, text: str | None) -> Jurisdiction:
    """The unit named by ``text`` (name or code), or ``p``'s own; 400 when unknown, 403 when
    outside ``p``'s jurisdiction."""
    if not text:
        return session.get(Jurisdiction, p.jurisdiction_id)
    try:
        unit = resolve_jurisdiction(session, text)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    if not unit.path.startswith(p.jurisdiction_path):
        raise HTTPException(403, f"{unit.name} 不在您的管辖范围（{p.jurisdiction_name}）内")
    return unit
