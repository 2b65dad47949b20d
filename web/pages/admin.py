"""Accounts (账号管理) and contacts (通讯录) for coordinators: the accounts of their unit and below
(create, disable, enable, a new password, API tokens, a new ICS URL) and the contacts of the
units there (edit one, download and upload the workbook).

Every change is one function of ``storage.accounts`` or ``storage.contacts`` (the same the
``duban users`` and ``duban contacts`` commands call), given the signed-in Principal: the scope,
the role ceiling and the audit row live there. A refused form comes back with what was typed
(never a password) and the reason in words for a person, not for a terminal."""
from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from sqlmodel import Session
from starlette.background import BackgroundTask

from obligations.errors import DubanError, ProblemsError
from storage import accounts
from storage import contacts as contact_book
from storage.access import Principal
from storage.tables import Department, Jurisdiction
from web import listing
from web.deps import check_csrf, db, page_user
from web.pages.common import redirect
from web.templating import for_people, render, today

router = APIRouter(include_in_schema=False)


def _id():
    """A path's number, bounded (a new Param per route: FastAPI binds one to its first name)."""
    return PathParam(..., ge=1, le=2**62)


ROLE_CHOICES = (("department", "责任部门"), ("director", "儿童主任"), ("supervisor", "督查"), ("coordinator", "协调员"))

def words(exc: Exception) -> str:
    """A refusal in a page's words (an AccountError's own web wording where it has one)."""
    return for_people(getattr(exc, "web", None) or str(exc))


def _coordinator(p: Principal, what: str = "账号") -> None:
    if p.role != "coordinator":
        raise HTTPException(403, f"只有协调员可以管理{what}")


UNIT_CHOICES = 2000      # the units a form's list offers; any other unit of the area is typed in


def _choices(session: Session, p: Principal) -> dict:
    """The account form's lists: the units of the coordinator's area, the upper levels first (a
    province's villages are too many to list: the form says so, and the field takes any unit's
    name or code, the door resolving it), and the departments by their names."""
    area = Jurisdiction.path.like(p.jurisdiction_path + "%")
    units = session.execute(select(Jurisdiction.name, Jurisdiction.code).where(area)
                            .order_by(func.length(Jurisdiction.path), Jurisdiction.path).limit(UNIT_CHOICES)).all()
    total = len(units) if len(units) < UNIT_CHOICES else \
        session.scalar(select(func.count()).select_from(Jurisdiction).where(area))
    departments = session.scalars(select(Department.name).order_by(Department.kind, Department.key)).all()
    return {"units": units, "units_total": total, "departments": list(dict.fromkeys(departments)),
            "roles": ROLE_CHOICES}


# ---------------------------------------------------------------- accounts

EMPTY_ACCOUNT = {"username": "", "display_name": "", "role": "department", "jurisdiction": "", "department": "",
                 "director": ""}


ACCOUNT_COLUMNS = (listing.Column("用户名", "username", width=16), listing.Column("名称", "name"),
                   listing.Column("角色", "role_name", width=10), listing.Column("地区", "jurisdiction"),
                   listing.Column("部门", "department"), listing.Column("台账中的名字", "director", width=14),
                   listing.Column("状态", lambda r: "启用" if r["active"] else "停用", width=8),
                   listing.Column("创建时间", "created", "datetime"))


def _accounts_page(request: Request, p: Principal, session: Session, *, form: dict | None = None, error: str = "",
                   ok: str = "", status_code: int = 200):
    _coordinator(p)
    lst = listing.read(request, sorts=accounts.ACCOUNT_SORTS, default_sort="unit", path="/accounts")
    if lst.export and request.method == "GET":
        rows, total = accounts.list_accounts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=0)
        listing.check_export(total)
        rows, _ = accounts.list_accounts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=None)
        return listing.xlsx_response(f"{p.jurisdiction_name}账号", ACCOUNT_COLUMNS, rows, day=today(request),
                                     zone=ZoneInfo(request.app.state.settings.timezone))
    rows, total = accounts.list_accounts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=0)
    lst.count(total)
    rows, _ = accounts.list_accounts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, offset=lst.offset,
                                     limit=lst.limit)
    return render(request, "accounts.html", {
        "user": p, "rows": rows, "lst": lst, "error": error, "ok": ok,
        "form": form or {**EMPTY_ACCOUNT, "jurisdiction": p.jurisdiction_name}, **_choices(session, p)},
        status_code=status_code)


@router.get("/accounts")
def accounts_page(request: Request, ok: str = "", p: Principal = Depends(page_user), session: Session = db):
    return _accounts_page(request, p, session, ok=ok[:200])


@router.post("/accounts")
def account_add(request: Request, username: str = Form(""), display_name: str = Form(""), role: str = Form(""),
                jurisdiction: str = Form(""), department: str = Form(""), director: str = Form(""),
                password: str = Form(""), password2: str = Form(""),
                p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    _coordinator(p)
    form = {"username": username[:64], "display_name": display_name[:40], "role": role[:16],
            "jurisdiction": jurisdiction[:64], "department": department[:64], "director": director[:64]}
    try:
        if password != password2:
            raise accounts.AccountError("两次输入的密码不一致")
        user = accounts.add_user(session, username=username, password=password, role=role, jurisdiction=jurisdiction,
                                 display_name=display_name, department=department if role == "department" else None,
                                 director=director if role == "director" else None, by=p)
    except DubanError as exc:
        session.rollback()
        if exc.http_status == 403 and not isinstance(exc, accounts.AccountForbidden):
            raise
        return _accounts_page(request, p, session, form=form, error=words(exc), status_code=exc.http_status)
    return redirect(f"/accounts/{user.id}?ok={quote(f'已创建账号 {user.username}，请把用户名和初始密码告知本人')}")


def _account_page(request: Request, p: Principal, session: Session, user_id: int, *, error: str = "", ok: str = "",
                  token: str | None = None, status_code: int = 200):
    user = accounts.account_of(session, user_id, p)
    unit = session.get(Jurisdiction, user.jurisdiction_id)
    dept = session.get(Department, user.department_key) if user.department_key else None
    return render(request, "account.html", {
        "user": p, "account": user, "unit": unit, "department": dept.name if dept else None,
        "role_name": accounts.ROLE_NAMES.get(user.role, user.role), "tokens": accounts.list_tokens(session, user.username),
        "error": error, "ok": ok, "token": token, "token_days": accounts.TOKEN_DAYS, "max_days": accounts.MAX_TOKEN_DAYS,
        "self": user.id == p.user_id}, status_code=status_code)


@router.get("/accounts/{user_id}")
def account_page(request: Request, user_id: int = _id(), ok: str = "", p: Principal = Depends(page_user),
                 session: Session = db):
    _coordinator(p)
    return _account_page(request, p, session, user_id, ok=ok[:200])


def _act(request: Request, p: Principal, session: Session, user_id: int, act, done: str):
    """One account change through its service function; a refusal back on the account's page."""
    _coordinator(p)
    user = accounts.account_of(session, user_id, p)
    try:
        result = act(user)
    except DubanError as exc:
        session.rollback()
        if exc.http_status == 404:
            raise
        return _account_page(request, p, session, user_id, error=words(exc), status_code=exc.http_status)
    message = done(result) if callable(done) else done
    return redirect(f"/accounts/{user_id}?ok={quote(message)}")


@router.post("/accounts/{user_id}/disable")
def account_disable(request: Request, user_id: int = _id(), p: Principal = Depends(page_user),
                    session: Session = db, _: None = Depends(check_csrf)):
    return _act(request, p, session, user_id, lambda u: accounts.disable_user(session, u.username, by=p),
                lambda changed: "已停用：不能再登录，已登录的会话已结束，接口令牌已全部吊销" if changed else "该账号本已停用")


@router.post("/accounts/{user_id}/enable")
def account_enable(request: Request, user_id: int = _id(), p: Principal = Depends(page_user),
                   session: Session = db, _: None = Depends(check_csrf)):
    return _act(request, p, session, user_id, lambda u: accounts.enable_user(session, u.username, by=p),
                lambda changed: "已启用，可以登录（登录失败造成的锁定也已解除）" if changed else "该账号本已启用，也未被锁定")


@router.post("/accounts/{user_id}/password")
def account_password(request: Request, user_id: int = _id(), password: str = Form(""), password2: str = Form(""),
                     p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    def act(u):
        if password != password2:
            raise accounts.AccountError("两次输入的密码不一致")
        return accounts.set_password(session, u.username, password, by=p)

    return _act(request, p, session, user_id, act, "已重设密码，该账号已登录的会话已结束；请把新密码告知本人")


@router.post("/accounts/{user_id}/tokens")
def account_token(request: Request, user_id: int = _id(), label: str = Form(""), days: str = Form(""),
                  p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    _coordinator(p)
    user = accounts.account_of(session, user_id, p)
    try:
        try:
            n = int(days or accounts.TOKEN_DAYS)
        except ValueError:
            raise accounts.AccountError("有效天数应为整数") from None
        token = accounts.add_token(session, user, label=label, days=n, by=p)
    except DubanError as exc:
        session.rollback()
        if exc.http_status == 404:
            raise
        return _account_page(request, p, session, user_id, error=words(exc), status_code=exc.http_status)
    session.flush()
    # shown this once (only its hash is kept): the page itself, not a redirect that would carry it
    page = _account_page(request, p, session, user_id, token=token,
                         ok="已生成接口令牌。请立即复制保存：离开本页后无法再次查看")
    page.headers["Cache-Control"] = "no-store"
    return page


@router.post("/accounts/{user_id}/tokens/{token_id}/revoke")
def account_revoke(request: Request, user_id: int = _id(), token_id: int = _id(),
                   p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    return _act(request, p, session, user_id, lambda u: accounts.revoke_token(session, u.username, token_id, by=p),
                f"已吊销令牌 {token_id}")


@router.post("/accounts/{user_id}/ics")
def account_ics(request: Request, user_id: int = _id(), p: Principal = Depends(page_user),
                session: Session = db, _: None = Depends(check_csrf)):
    return _act(request, p, session, user_id, lambda u: accounts.rotate_ics(session, u.username, by=p),
                "已更换日历订阅地址，旧地址已失效；本人可在其待办事项页看到新地址")


# ---------------------------------------------------------------- contacts (通讯录)

KINDS = ("department", "supervisor")


CONTACT_COLUMNS = (listing.Column("地区", "unit"), listing.Column("部门", "office"),
                   listing.Column("督查联系人", lambda r: "是" if r["supervisor"] else "否", width=10),
                   listing.Column("联系人", "person", width=10), listing.Column("职务", "title", width=14),
                   listing.Column("手机", "mobile", width=14), listing.Column("邮箱", "email", width=28),
                   listing.Column("钉钉/企业微信账号", "im_account", width=20))


@router.get("/contacts")
def contacts_page(request: Request, ok: str = "", p: Principal = Depends(page_user), session: Session = db):
    return _contacts_page(request, p, session, ok=ok[:200])


def _contacts_page(request: Request, p: Principal, session: Session, *, ok: str = "",
                   problems: list[str] | None = None, status_code: int = 200):
    _coordinator(p, "通讯录")
    lst = listing.read(request, sorts=contact_book.CONTACT_SORTS, default_sort="unit", path="/contacts")
    if lst.export and request.method == "GET":
        _, total = contact_book.list_contacts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=0)
        listing.check_export(total)
        rows, _ = contact_book.list_contacts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=None)
        return listing.xlsx_response(f"{p.jurisdiction_name}联系人", CONTACT_COLUMNS, rows, day=today(request))
    _, total = contact_book.list_contacts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, limit=0)
    lst.count(total)
    rows, _ = contact_book.list_contacts(session, p, q=lst.q, sort=lst.sort, desc=lst.desc, offset=lst.offset,
                                         limit=lst.limit)
    return render(request, "contacts.html", {"user": p, "rows": rows, "lst": lst, "ok": ok,
                                             "problems": problems or []}, status_code=status_code)


def _contact_page(request: Request, p: Principal, session: Session, kind: str, ident: int, *, form: dict | None = None,
                  problems: list[str] | None = None, ok: str = "", back: str = "/contacts", status_code: int = 200):
    _coordinator(p, "通讯录")
    if kind not in KINDS:
        raise HTTPException(404, "没有这个联系人")
    contact = contact_book.contact_of(session, p, kind, ident)
    return render(request, "contact.html", {
        "user": p, "contact": contact, "form": form or {f: contact[f] or "" for f in contact_book.EDITABLE},
        "problems": problems or [], "ok": ok, "back": back}, status_code=status_code)


def _back(text: str) -> str:
    back = listing.safe_back(text, "/contacts")
    return back if back.startswith("/contacts") else "/contacts"


def _new_contact_page(request: Request, p: Principal, session: Session, *, form: dict | None = None,
                      problems: list[str] | None = None, status_code: int = 200):
    _coordinator(p, "通讯录")
    departments = session.execute(select(Department.key, Department.name).order_by(Department.kind, Department.name)).all()
    blank = {"unit": "", "department": "", "supervisor": "", **dict.fromkeys(contact_book.EDITABLE, "")}
    return render(request, "contact_new.html", {
        "user": p, "form": {**blank, **(form or {})}, "problems": problems or [], "departments": departments},
        status_code=status_code)


@router.get("/contacts/new")
def new_contact_page(request: Request, p: Principal = Depends(page_user), session: Session = db):
    """添加联系人: a unit's department contact, or its supervisor contact (督查联系人)."""
    return _new_contact_page(request, p, session)


@router.post("/contacts/new")
def new_contact(request: Request, unit: str = Form(""), department: str = Form(""), supervisor: str = Form(""),
                person: str = Form(""), title: str = Form(""), mobile: str = Form(""), email: str = Form(""),
                im_account: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
                _: None = Depends(check_csrf)):
    _coordinator(p, "通讯录")
    form = {"unit": unit[:64], "department": department[:64], "supervisor": "1" if supervisor else "",
            "person": person[:200], "title": title[:200], "mobile": mobile[:64], "email": email[:320],
            "im_account": im_account[:200]}
    try:
        kind, ident = contact_book.add_contact(
            session, unit=form["unit"], department=form["department"], supervisor=bool(supervisor),
            values={f: form[f] for f in contact_book.EDITABLE}, by=p)
    except ProblemsError as exc:
        session.rollback()
        return _new_contact_page(request, p, session, form=form, problems=[for_people(x) for x in exc.problems],
                                 status_code=400)
    return redirect(f"/contacts/{kind}/{ident}?{urlencode({'ok': '已添加，之后的通知将按此联系方式发送'})}")


@router.get("/contacts/{kind}/{ident}")
def contact_page(request: Request, kind: str, ident: int = _id(), ok: str = "", back: str = "/contacts",
                 p: Principal = Depends(page_user), session: Session = db):
    return _contact_page(request, p, session, kind, ident, ok=ok[:200], back=_back(back))


@router.post("/contacts/{kind}/{ident}")
def contact_save(request: Request, kind: str, ident: int = _id(), person: str = Form(""), title: str = Form(""),
                 mobile: str = Form(""), email: str = Form(""), im_account: str = Form(""), back: str = Form("/contacts"),
                 p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    _coordinator(p, "通讯录")
    if kind not in KINDS:
        raise HTTPException(404, "没有这个联系人")
    form = {"person": person[:200], "title": title[:200], "mobile": mobile[:64], "email": email[:320],
            "im_account": im_account[:200]}
    try:
        changed = contact_book.update_contact(session, kind, ident, form, by=p)
    except ProblemsError as exc:
        session.rollback()
        return _contact_page(request, p, session, kind, ident, form=form, back=_back(back),
                             problems=[for_people(x) for x in exc.problems], status_code=400)
    message = "已保存，之后的通知将按新的联系方式发送" if changed else "没有改动"
    return redirect(f"/contacts/{kind}/{ident}?{urlencode({'ok': message, 'back': _back(back)})}")


@router.get("/contacts.xlsx")
def contacts_download(request: Request, p: Principal = Depends(page_user), session: Session = db):
    _coordinator(p, "通讯录")
    folder = tempfile.mkdtemp(prefix="duban-contacts-")
    path = Path(folder) / "contacts.xlsx"
    contact_book.export_workbook(session, path, area_path=p.jurisdiction_path)
    name = f"{p.jurisdiction_name}通讯录-{today(request):%Y%m%d}.xlsx"

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        Path(folder).rmdir()

    return FileResponse(path, filename=name, background=BackgroundTask(cleanup),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.post("/contacts/upload")
async def contacts_upload(request: Request, workbook: UploadFile | None = None, p: Principal = Depends(page_user),
                          session: Session = db, _: None = Depends(check_csrf)):
    _coordinator(p, "通讯录")
    if workbook is None or not workbook.filename:
        return _contacts_page(request, p, session, problems=["请选择要上传的通讯录文件（xlsx）"], status_code=400)
    with tempfile.TemporaryDirectory(prefix="duban-upload-") as folder:
        path = Path(folder) / "upload.xlsx"
        path.write_bytes(await workbook.read())
        shown = Path(workbook.filename).name[:100]
        try:
            r = contact_book.import_workbook(session, path, by=p, name=shown)
        except ProblemsError as exc:
            session.rollback()
            problems = [for_people(str(x).replace(str(path), shown)) for x in exc.problems]
            return _contacts_page(request, p, session, problems=[f"{exc.head}（{len(problems)} 处错误）", *problems],
                                  status_code=400)
    message = (f"已导入 {shown}：{r.rows:,} 行，联系人新增 {r.added:,}、修改 {r.changed:,}、删除 {r.removed:,}，"
               f"督查联系人更新 {r.supervisors:,}，无变化 {r.unchanged:,}")
    return redirect(f"/contacts?ok={quote(message)}")
