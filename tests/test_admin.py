"""Accounts and contacts managed by coordinators: the service functions (scope, role ceiling,
audit rows, validation) on the real database, then the pages through real HTTP requests
(/accounts, /contacts: 403 for others, 404 for another area's ids, forms that keep what was
typed, CSRF), the error page with the navigation, and no command-line hints for web users.

Personas: mz coordinator of 新华区, jy 教育局 of 新华区, dc 督查 of 平顶山市 (above 新华区), zr a
children's director in Fujian."""
import datetime as dt
import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import Session

from obligations.errors import Forbidden, NotFound
from storage import accounts
from storage import contacts as book
from storage.tables import AuditEntry, Contact, Department, Jurisdiction, UserAccount
from tests.conftest import PASSWORD, csrf_of, sign_in
from web.app import create_app
from web.deps import principal_of

NEW_PASSWORD = "Zhong-guo-2025"


def audit_rows(s, action):
    return s.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def unit(s, code):
    return s.scalar(sa.select(Jurisdiction).where(Jurisdiction.code == code))


def contact_in(s, code):
    return s.scalar(sa.select(Contact).where(Contact.jurisdiction_id == unit(s, code).id).order_by(Contact.id))


# ---------------------------------------------------------------- service functions

def test_a_coordinator_creates_accounts_in_their_area_by_department_name(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        user = accounts.add_user(s, username="wj", password=NEW_PASSWORD, role="department",
                                 jurisdiction="中兴路街道", department="卫健委", display_name="中兴路街道卫健办", by=mz)
        assert (user.department_key, s.get(Jurisdiction, user.jurisdiction_id).name) == ("health", "中兴路街道")
        row = audit_rows(s, "user.add")[-1]
        assert (row.actor, row.object_id, row.after["department"]) == ("mz", str(user.id), "health")
    with Session(engine) as s:
        assert accounts.check_password(accounts.find_user(s, "wj"), NEW_PASSWORD)


@pytest.mark.parametrize("kw, status, text", [
    (dict(jurisdiction="平顶山市"), 403, "不在您的管辖范围"),              # above the coordinator's unit
    (dict(jurisdiction="卫东区"), 403, "不在您的管辖范围"),                # a sibling unit
    (dict(role="superuser"), 400, "请选择角色"),
    (dict(department=None), 400, "须填写部门"),
    (dict(department="没有这个局"), 400, "没有名为 没有这个局 的部门"),
    (dict(password="12345678901"), 400, "只由一类字符"),
    (dict(username="mz"), 400, "已存在"),
    (dict(display_name="张三 <x@evil.example>"), 400, "显示名称中不能有"),
])
def test_account_creation_refusals_write_nothing(engine, personas, kw, status, text):
    args = dict(username="new1", password=NEW_PASSWORD, role="department", jurisdiction="新华区",
                department="education") | kw
    with Session(engine) as s:
        before = s.scalar(sa.select(sa.func.count()).select_from(UserAccount))
        with pytest.raises(accounts.AccountError) as err:
            accounts.add_user(s, by=personas.coordinator.principal, **args)
        s.rollback()
        assert err.value.http_status == status and text in err.value.web
        assert "duban" not in err.value.web and "--" not in err.value.web
        assert s.scalar(sa.select(sa.func.count()).select_from(UserAccount)) == before


def test_only_coordinators_manage_and_never_above_their_own_role(engine, personas):
    with Session(engine) as s:
        for who in (personas.department, personas.supervisor, personas.director):
            with pytest.raises(accounts.AccountForbidden):
                accounts.add_user(s, username="x1", password=NEW_PASSWORD, role="department", jurisdiction="新华区",
                                  department="education", by=who.principal)
            with pytest.raises(accounts.AccountForbidden):
                accounts.list_accounts(s, who.principal)
            with pytest.raises(accounts.AccountForbidden):
                accounts.set_password(s, "jy", NEW_PASSWORD, by=who.principal)
        mz = personas.coordinator.principal
        # a coordinator of 新华区 may make a colleague there, but not change that colleague's account
        accounts.add_user(s, username="mz2", password=NEW_PASSWORD, role="coordinator", jurisdiction="新华区", by=mz)
        with pytest.raises(accounts.AccountForbidden, match="上级协调员"):
            accounts.disable_user(s, "mz2", by=mz)
        with pytest.raises(accounts.AccountForbidden, match="上级协调员"):
            accounts.set_password(s, "mz2", NEW_PASSWORD, by=mz)
        # a coordinator one level down is theirs to manage; so is their own password
        accounts.add_user(s, username="zx", password=NEW_PASSWORD, role="coordinator", jurisdiction="中兴路街道", by=mz)
        assert accounts.disable_user(s, "zx", by=mz)
        accounts.set_password(s, "mz", NEW_PASSWORD, by=mz)
        with pytest.raises(accounts.AccountForbidden, match="自己"):
            accounts.disable_user(s, "mz", by=mz)
        # the town's coordinator can never touch the county's accounts: to them they do not exist
        zx = principal_of(s, accounts.find_user(s, "zx"))
        accounts.enable_user(s, "zx", by=mz)
        for act in (lambda: accounts.disable_user(s, "jy", by=zx), lambda: accounts.rotate_ics(s, "mz", by=zx),
                    lambda: accounts.account_of(s, personas.department.user_id, zx)):
            with pytest.raises(accounts.AccountNotFound):
                act()
        s.rollback()


def test_another_areas_account_is_not_found_and_unchanged(engine, personas):
    mz, dc = personas.coordinator.principal, personas.supervisor
    with Session(engine) as s:
        for act in (lambda: accounts.account_of(s, dc.user_id, mz), lambda: accounts.disable_user(s, "dc", by=mz),
                    lambda: accounts.set_password(s, "dc", NEW_PASSWORD, by=mz),
                    lambda: accounts.add_token(s, accounts.find_user(s, "dc"), by=mz),
                    lambda: accounts.revoke_token(s, "dc", None, by=mz), lambda: accounts.rotate_ics(s, "zr", by=mz)):
            with pytest.raises(accounts.AccountNotFound) as err:
                act()
            assert err.value.http_status == 404
        s.rollback()
        assert accounts.find_user(s, "dc").active and accounts.check_password(accounts.find_user(s, "dc"), PASSWORD)


def test_each_change_writes_its_audit_row_with_the_coordinator_as_actor(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        jy = accounts.find_user(s, "jy")
        token = accounts.add_token(s, jy, label="统计系统", days=30, by=mz)
        tid = accounts.list_tokens(s, "jy")[0]["id"]
        assert accounts.user_for_token(s, token).username == "jy"
        assert accounts.revoke_token(s, "jy", tid, by=mz) == 1
        assert accounts.user_for_token(s, token) is None
        salt = jy.ics_salt
        accounts.rotate_ics(s, "jy", by=mz)
        assert jy.ics_salt != salt
        accounts.set_password(s, "jy", NEW_PASSWORD, by=mz)
        assert accounts.disable_user(s, "jy", by=mz) and not accounts.disable_user(s, "jy", by=mz)
        assert accounts.enable_user(s, "jy", by=mz)
    with Session(engine) as s:
        for action in ("token.add", "token.revoke", "user.ics", "user.password", "user.disable", "user.enable"):
            rows = [r for r in audit_rows(s, action) if r.actor == "mz"]
            assert len(rows) == 1, action
            assert rows[0].object_id == str(personas.department.user_id)
            assert rows[0].jurisdiction_id == unit(s, "410402").id
        assert accounts.check_password(accounts.find_user(s, "jy"), NEW_PASSWORD)
        with pytest.raises(accounts.AccountError, match="过于常见"):
            accounts.set_password(s, "jy", "password123", by=mz)


def test_list_accounts_is_the_area_with_search_and_total(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        for i in range(7):
            accounts.add_user(s, username=f"v{i}", password=NEW_PASSWORD, role="department",
                              jurisdiction="中兴路街道", department="education", by=mz)
    with Session(engine) as s:
        rows, total = accounts.list_accounts(s, mz)
        assert total == 9 and {r["username"] for r in rows} == {"mz", "jy"} | {f"v{i}" for i in range(7)}
        page, total = accounts.list_accounts(s, mz, offset=3, limit=3)
        assert total == 9 and len(page) == 3
        assert [r["username"] for r in accounts.list_accounts(s, mz, q="中兴路")[0]] == [f"v{i}" for i in range(7)]
        found, n = accounts.list_accounts(s, mz, q="教育")       # the department's name
        assert n == 8
        assert accounts.list_accounts(s, mz, q="%")[1] == 0      # a wildcard is a character
        # the city's coordinator would see the supervisor of the city too; 新华区's does not
        assert "dc" not in {r["username"] for r in accounts.list_accounts(s, mz, q="dc")[0]}


# ---------------------------------------------------------------- contacts

@pytest.mark.parametrize("field, value, text", [
    ("person", "张三 <boss@evil.example>", "联系人中不能有"),
    ("person", "张三\r\nBcc: all@evil.example", "联系人中不能有"),
    ("person", "张三,李四", "联系人中不能有"),
    ("title", "科长\n", None),                       # a trailing line break is trimmed, not refused
    ("email", "a@x.example.org, b@evil.example", "不是一个邮箱地址"),
    ("mobile", "1380000", "不是 11 位手机号码"),
    ("im_account", "zhang san", "不是钉钉或企业微信账号"),
])
def test_contact_edits_are_checked_as_the_workbook_rows_are(engine, personas, field, value, text):
    mz = personas.coordinator.principal
    with Session(engine) as s:
        c = contact_in(s, "410402")
        before = {f: getattr(c, f) for f in book.EDITABLE}
        values = before | {field: value}
        if text is None:
            assert book.update_contact(s, "department", c.id, values, by=mz)
            assert getattr(c, field) == value.strip()
            return
        with pytest.raises(book.ContactEditError) as err:
            book.update_contact(s, "department", c.id, values, by=mz)
        assert any(p.startswith(book.FIELD_NAMES[field] + ": ") and text in p for p in err.value.problems)
        s.rollback()
        assert {f: getattr(s.get(Contact, c.id), f) for f in book.EDITABLE} == before
        assert not audit_rows(s, "contact.update")


def test_a_contact_edit_is_audited_and_kept_by_the_directory(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        c = contact_in(s, "410402001")
        cid, old_mobile = c.id, c.mobile
        assert book.update_contact(s, "department", c.id, {"person": "王芳", "title": "科长", "mobile": "138 0000 1234",
                                                           "email": "wangfang@410402.example.org"}, by=mz)
        assert not book.update_contact(s, "department", c.id, {"person": "王芳", "title": "科长", "mobile": "13800001234",
                                                               "email": "wangfang@410402.example.org"}, by=mz)
        sup = unit(s, "410402")
        assert book.update_contact(s, "supervisor", sup.id, {"person": "赵督查", "mobile": "13900002222",
                                                           "email": sup.supervisor_email}, by=mz)
    with Session(engine) as s:
        c = s.get(Contact, cid)
        assert (c.person, c.mobile, c.source) == ("王芳", "13800001234", "sheet")
        assert (unit(s, "410402").supervisor_person, unit(s, "410402").supervisor_source) == ("赵督查", "sheet")
        rows = audit_rows(s, "contact.update")
        assert len(rows) == 2 and rows[0].actor == "mz"
        assert rows[0].before["mobile"] == old_mobile and rows[0].after["mobile"] == "13800001234"
        assert rows[1].object_type == "contact.supervisor" and rows[1].after == {"person": "赵督查", "mobile": "13900002222"}


def test_contacts_outside_the_area_are_not_found_and_others_may_not_edit(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s:
        other = contact_in(s, "410403")
        for kind, ident in (("department", other.id), ("supervisor", unit(s, "410400").id), ("department", 10**9)):
            with pytest.raises(NotFound):
                book.update_contact(s, kind, ident, {"person": "x"}, by=mz)
        with pytest.raises(Forbidden):
            book.list_contacts(s, personas.department.principal)
        rows, total = book.list_contacts(s, mz)
        units = {r["unit"] for r in rows}
        assert units <= {"新华区", "中兴路街道", "矿工路街道", "中兴路街道第一社区", "中兴路街道第二社区",
                         "矿工路街道第一社区", "矿工路街道第二社区"} and "新华区" in units
        assert total == len(rows) and any(r["supervisor"] for r in rows)
        assert book.list_contacts(s, mz, q="督查室")[1] == 1


def test_the_workbook_of_an_area_round_trips_and_refuses_other_units(engine, personas, tmp_path):
    mz = personas.coordinator.principal
    path = tmp_path / "area.xlsx"
    with Session(engine) as s:
        n = book.export_workbook(s, path, area_path=mz.jurisdiction_path)
        assert n == len(book.rows(s, mz.jurisdiction_path)) < len(book.rows(s))
    wb = load_workbook(path)
    ws = wb[book.SHEET]
    codes = {r[0] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert codes and all(str(c).startswith("410402") for c in codes)
    ws.append(["410403", "卫东区", "教育局", "李四", "", "", "", "", "否"])
    wb.save(path)
    with Session(engine) as s:
        with pytest.raises(book.ContactsError) as err:
            book.import_workbook(s, path, by=mz)
        assert err.value.problems == [f"通讯录!{ws.max_row}: 单位代码: 卫东区 不在您的管辖范围内"]
        # the command line (no Principal) may import every unit
        book.import_workbook(s, path)
        assert s.scalar(sa.select(Contact.person).where(Contact.jurisdiction_id == unit(s, "410403").id,
                                                        Contact.department_key == "education")) == "李四"


# ---------------------------------------------------------------- pages

@pytest.fixture
def app(engine, plans_loaded, personas):
    return create_app(plans_loaded, engine, today=lambda: dt.date(2025, 4, 10))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_departments_and_supervisors_get_403_with_their_navigation(app, personas):
    for who in (personas.department, personas.supervisor):
        c = who.client(app)
        for path in ("/accounts", "/contacts", f"/accounts/{who.user_id}", "/contacts.xlsx"):
            r = c.get(path)
            assert r.status_code == 403, path
            assert "只有协调员可以管理" in r.text and who.display_name in r.text and "main-nav" in r.text
        r = c.post("/accounts", data={"csrf": csrf_of(c, "/"), "username": "x", "role": "coordinator"})
        assert r.status_code == 403


def test_another_areas_ids_are_404_on_every_door(app, engine, personas):
    c = personas.coordinator.client(app)
    csrf = csrf_of(c, "/accounts")
    dc = personas.supervisor.user_id
    with Session(engine) as s:
        other = contact_in(s, "410403").id
    for method, path in (("get", f"/accounts/{dc}"), ("post", f"/accounts/{dc}/disable"),
                         ("post", f"/accounts/{dc}/password"), ("post", f"/accounts/{dc}/tokens"),
                         ("post", f"/accounts/{dc}/ics"), ("post", f"/accounts/{dc}/tokens/1/revoke"),
                         ("get", "/accounts/999999"), ("get", f"/contacts/department/{other}"),
                         ("post", f"/contacts/department/{other}"), ("get", "/contacts/nothing/1")):
        r = getattr(c, method)(path, **({"data": {"csrf": csrf, "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
                                                  "person": "x"}} if method == "post" else {}))
        assert r.status_code == 404, path
        assert "新华区民政局" in r.text            # the error page keeps the signed-in person's navigation
    with Session(engine) as s:
        assert accounts.find_user(s, "dc").active and accounts.check_password(accounts.find_user(s, "dc"), PASSWORD)


def test_the_accounts_pages_create_reset_and_issue_a_token_once(app, engine, personas):
    c = personas.coordinator.client(app)
    r = c.get("/accounts")
    assert r.status_code == 200 and "共 2 个账号" in text_of(r.text)
    csrf = csrf_of(c, "/accounts")
    form = {"csrf": csrf, "username": "wsj", "display_name": "中兴路街道卫生院", "role": "department",
            "jurisdiction": "中兴路街道", "department": "卫健委", "director": "", "password": "short", "password2": "short"}
    r = c.post("/accounts", data=form)
    assert r.status_code == 400 and "密码至少 10 位" in r.text
    for value in ("wsj", "中兴路街道卫生院", "中兴路街道", "卫健委"):
        assert f'value="{value}"' in r.text                 # what was typed is kept …
    assert 'value="short"' not in r.text                    # … except the password
    r = c.post("/accounts", data=form | {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "已创建账号 wsj" in page.text and "卫生健康" in page.text
    uid = int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])
    sign_in(app, "wsj", NEW_PASSWORD)                       # the new person signs in

    r = c.post(f"/accounts/{uid}/tokens", data={"csrf": csrf, "label": "统计", "days": "30"})
    token = re.search(r'id="token">(dbn_[^<]+)<', r.text)[1]
    assert r.status_code == 200 and "只显示这一次" in r.text
    assert token not in c.get(f"/accounts/{uid}").text     # never again
    with Session(engine) as s:
        assert accounts.user_for_token(s, token).username == "wsj"
    r = c.post(f"/accounts/{uid}/password", data={"csrf": csrf, "password": NEW_PASSWORD + "x", "password2": "other-pass-1"})
    assert r.status_code == 400 and "两次输入的密码不一致" in r.text
    r = c.post(f"/accounts/{uid}/disable", data={"csrf": csrf})
    assert r.status_code == 303 and "已停用" in c.get(r.headers["location"]).text
    with Session(engine) as s:
        assert accounts.user_for_token(s, token) is None
    r = c.post(f"/accounts/{uid}/enable", data={"csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    with Session(engine) as s:
        assert not accounts.find_user(s, "wsj").active
    assert "共 1 个账号" in text_of(c.get("/accounts?q=卫生院").text)


def test_the_account_form_lists_departments_by_name_and_units_of_the_area(app, engine, personas, monkeypatch):
    from web.pages import admin

    c = personas.coordinator.client(app)
    page = c.get("/accounts").text
    departments = re.search(r'<datalist id="departments">(.*?)</datalist>', page, flags=re.S)[1]
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', departments)
    assert ("教育部门", "") in options and ("卫生健康部门", "") in options
    assert not any(re.fullmatch(r"[a-z_]+", v) or label for v, label in options)        # names only, no keys
    units = re.findall(r'<option value="([^"]*)">(\d+)</option>',
                       re.search(r'<datalist id="units">(.*?)</datalist>', page, flags=re.S)[1])
    with Session(engine) as s:
        area = s.scalars(sa.select(Jurisdiction.name).where(Jurisdiction.path.like(unit(s, "410402").path + "%"))).all()
    assert sorted(name for name, _ in units) == sorted(area) and "卫东区" not in dict(units)   # the area, all of it
    assert 'id="units-note"' not in page
    # an area with more units than the list holds: the upper levels listed, the rest typed in
    monkeypatch.setattr(admin, "UNIT_CHOICES", 3)
    page = c.get("/accounts").text
    units = re.findall(r'<option value="([^"]*)">(\d+)</option>',
                       re.search(r'<datalist id="units">(.*?)</datalist>', page, flags=re.S)[1])
    assert [name for name, _ in units] == ["新华区", "中兴路街道", "矿工路街道"]
    assert f"下拉列表只列出前 3 个地区（新华区及所辖共 {len(area)} 个，上级地区在前）；其他地区请直接输入名称或区划代码。" \
        in text_of(page)
    form = {"csrf": csrf_of(c, "/accounts"), "username": "sq1", "role": "department", "jurisdiction": "中兴路街道第一社区",
            "department": "民政局", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    r = c.post("/accounts", data=form)
    assert r.status_code == 303, r.text
    with Session(engine) as s:
        made = accounts.find_user(s, "sq1")
        assert (s.get(Jurisdiction, made.jurisdiction_id).name, made.department_key) == ("中兴路街道第一社区", "civil_affairs")
    r = c.post("/accounts", data=form | {"username": "sq2", "jurisdiction": "没有这个社区"})
    assert r.status_code == 400 and "所属地区：没有名为 没有这个社区 的地区" in r.text
    r = c.post("/accounts", data=form | {"username": "sq2", "department": "没有这个局"})
    assert r.status_code == 400 and "部门：没有名为 没有这个局 的部门" in r.text


def test_a_contact_page_refuses_header_injection_and_keeps_what_was_typed(app, engine, personas):
    c = personas.coordinator.client(app)
    with Session(engine) as s:
        cid = contact_in(s, "410402").id
        before = s.get(Contact, cid).person
    r = c.get("/contacts")
    assert r.status_code == 200 and re.search(r"共 \d+ 位联系人", text_of(r.text))
    csrf = csrf_of(c, f"/contacts/department/{cid}")
    evil = {"csrf": csrf, "person": "王五\r\nBcc: all@evil.example", "title": "科长", "mobile": "13800001111",
            "email": "ww@410402.example.org", "im_account": ""}
    r = c.post(f"/contacts/department/{cid}", data=evil)
    assert r.status_code == 400 and "联系人中不能有" in r.text and 'value="13800001111"' in r.text
    with Session(engine) as s:
        assert s.get(Contact, cid).person == before
    r = c.post(f"/contacts/department/{cid}", data=evil | {"person": "王五"})
    assert r.status_code == 303 and "已保存" in c.get(r.headers["location"]).text
    with Session(engine) as s:
        assert (s.get(Contact, cid).person, s.get(Contact, cid).mobile) == ("王五", "13800001111")


def test_the_workbook_downloads_for_the_area_and_uploads_all_or_none(app, engine, personas):
    c = personas.coordinator.client(app)
    r = c.get("/contacts.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    wb = load_workbook(BytesIO(r.content))
    ws = wb[book.SHEET]
    assert all(str(row[0]).startswith("410402") for row in ws.iter_rows(min_row=2, values_only=True))
    ws.cell(row=3, column=4, value="赵六")
    ws.cell(row=3, column=7, value="zl@x.example.org, boss@evil.example")
    buf = BytesIO()
    wb.save(buf)
    csrf = csrf_of(c, "/contacts")
    r = c.post("/contacts/upload", data={"csrf": csrf}, files={"workbook": ("通讯录.xlsx", buf.getvalue())})
    assert r.status_code == 400 and "通讯录!3: 邮箱:" in r.text and "duban" not in text_of(r.text)
    with Session(engine) as s:
        assert not audit_rows(s, "contacts.import")
    ws.cell(row=3, column=7, value="zl@x.example.org")
    buf = BytesIO()
    wb.save(buf)
    r = c.post("/contacts/upload", data={"csrf": csrf}, files={"workbook": ("通讯录.xlsx", buf.getvalue())})
    assert r.status_code == 303 and "已导入" in c.get(r.headers["location"]).text
    with Session(engine) as s:
        row = audit_rows(s, "contacts.import")[-1]
        assert (row.actor, row.object_id) == ("mz", "通讯录.xlsx")


def test_sign_in_keeps_the_name_and_speaks_to_people_not_terminals(app):
    from fastapi.testclient import TestClient

    c = TestClient(app, follow_redirects=False)
    page = c.get("/login").text
    assert "duban" not in text_of(page) and "请联系本单位协调员" in page
    r = c.post("/login", data={"username": "mz", "password": "wrong-password-1", "csrf": csrf_of(c, "/login")})
    assert r.status_code == 401 and 'value="mz"' in r.text and "wrong-password-1" not in r.text


def test_an_error_page_has_the_navigation_a_way_back_and_no_command_hints(app, personas):
    c = personas.coordinator.client(app)
    r = c.get("/review?jurisdiction=火星市", headers={"referer": "http://testserver/dashboard?period=2025"})
    assert r.status_code == 400
    assert "没有名为 火星市 的行政区划" in r.text and "duban" not in text_of(r.text)
    assert 'href="/dashboard?period=2025"' in r.text and "新华区民政局" in r.text and 'href="/review"' in r.text
    # a broken session cookie is no one: the page still renders, without navigation
    from fastapi.testclient import TestClient

    anon = TestClient(app, cookies={"duban_session": "garbage"})
    r = anon.post("/login", data={"username": "mz", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text and "main-nav" not in r.text
    # the same for a signed-in person: words, not JSON, and the navigation
    r = c.get("/accounts/abc")
    assert r.status_code == 422 and "地址或表单中的内容有误" in r.text and "main-nav" in r.text


def test_the_lists_export_exactly_the_filtered_rows(app, engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        for i in range(3):
            accounts.add_user(s, username=f"k{i}", password=NEW_PASSWORD, role="department",
                              jurisdiction="矿工路街道", department="education", by=mz)
    c = personas.coordinator.client(app)
    r = c.get("/accounts?q=矿工路&sort=username&dir=desc&export=xlsx")
    ws = load_workbook(BytesIO(r.content)).active
    assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == ["k2", "k1", "k0"]
    page = c.get("/accounts?q=矿工路&size=20")
    assert "共 3 个账号" in text_of(page.text)
    r = c.get("/contacts?q=督查室&export=xlsx")
    rows = list(load_workbook(BytesIO(r.content)).active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][:3] == ("新华区", "新华区人民政府督查室", "是")


def test_the_command_line_and_the_page_go_through_the_same_door(app, engine, personas, capsys):
    """`duban users disable` and the page's 停用 are one function: the same audit action, the
    actor told apart; the CLI keeps its own wording (with the command to run), the page its own."""
    from flows.cli import main

    assert main(["users", "disable", "jy"]) == 0
    assert "已停用账号 jy" in capsys.readouterr().out
    assert main(["users", "revoke", "jy", "999"]) == 1
    assert "duban users tokens jy" in capsys.readouterr().err
    c = personas.coordinator.client(app)
    csrf = csrf_of(c, "/accounts")
    uid = personas.department.user_id
    assert c.post(f"/accounts/{uid}/enable", data={"csrf": csrf}).status_code == 303
    r = c.post(f"/accounts/{uid}/tokens/999/revoke", data={"csrf": csrf})
    assert r.status_code == 404 and "没有编号为 999 的令牌" in r.text and "duban" not in text_of(r.text)
    with Session(engine) as s:
        assert [(r.actor, r.action) for r in s.scalars(sa.select(AuditEntry).where(
            AuditEntry.action.in_(("user.disable", "user.enable"))).order_by(AuditEntry.id))] == [
            ("cli", "user.disable"), ("mz", "user.enable")]


def test_signing_in_returns_to_the_page_with_its_filters(app):
    from fastapi.testclient import TestClient

    c = TestClient(app, follow_redirects=False)
    r = c.get("/contacts?q=督查室&sort=person")
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    nxt = re.search(r'name="next" value="([^"]+)"', page)[1].replace("&amp;", "&")
    r = c.post("/login", data={"username": "mz", "password": PASSWORD, "csrf": csrf_of(c, "/login"), "next": nxt})
    from urllib.parse import unquote

    assert unquote(r.headers["location"]) == "/contacts?q=督查室&sort=person"


def _without_supervisor(s, code="410402"):
    """A unit of ``code``'s area, its name its own, that has no supervisor contact (督查联系人) yet."""
    area = unit(s, code)
    names = {}
    for u in s.scalars(sa.select(Jurisdiction)):
        names[u.name] = names.get(u.name, 0) + 1
    return next(u for u in s.scalars(sa.select(Jurisdiction).where(Jurisdiction.path.like(area.path + "%"))
                                      .order_by(Jurisdiction.path))
                if names[u.name] == 1 and not any((u.supervisor_person, u.supervisor_mobile, u.supervisor_email)))


def test_a_new_contact_is_added_checked_and_audited(engine, personas):
    mz = personas.coordinator.principal
    with Session(engine) as s, s.begin():
        u = _without_supervisor(s)
        where, uid = u.name, u.id
        kind, ident = book.add_contact(s, unit=where, supervisor=True, values={
            "person": "王五", "title": "督查专员", "mobile": "139 0000 0001", "email": "ww@410402.example.org"}, by=mz)
    with Session(engine) as s:
        u = s.get(Jurisdiction, uid)
        assert (kind, ident) == ("supervisor", uid)
        assert (u.supervisor_person, u.supervisor_mobile, u.supervisor_source) == ("王五", "13900000001", "sheet")
        assert u.supervisor_name == where + book.SUPERVISOR
        [row] = audit_rows(s, "contact.add")
        assert row.actor == "mz" and row.after == {"office": where + book.SUPERVISOR, "person": "王五",
                                                   "title": "督查专员", "mobile": "13900000001",
                                                   "email": "ww@410402.example.org"}
        rows, _ = book.list_contacts(s, mz, q="王五")
        assert [(r["unit"], r["supervisor"]) for r in rows] == [(where, True)]
        dept = contact_in(s, "410402")
        dept_name = s.scalar(sa.select(Department.name).where(Department.key == dept.department_key))
    # twice, a department that has its contact, another area, unknown names, bad fields: refused,
    # nothing written
    with Session(engine) as s:
        for kw, text in (
                (dict(unit=where, supervisor=True), "已有督查联系人"),
                (dict(unit="410402", department=dept_name), "已有联系人"),
                (dict(unit="卫东区", supervisor=True), "不在您的管辖范围"),
                (dict(unit="并无此地", supervisor=True), "没有名为 并无此地 的单位"),
                (dict(unit="新华区", department="并无此部门"), "没有名为 并无此部门 的部门"),
                (dict(unit="新华区", department=""), "请填写部门"),
        ):
            with pytest.raises(book.ContactEditError) as err:
                book.add_contact(s, values={"person": "赵六", "mobile": "13900000002"}, by=mz, **kw)
            assert any(text in p for p in err.value.problems), (kw, err.value.problems)
            assert not any("duban" in p for p in err.value.problems)
        with pytest.raises(book.ContactEditError) as err:
            book.add_contact(s, unit="新华区", supervisor=True, values={"mobile": "123"}, by=mz)
        assert any(p.startswith("手机") for p in err.value.problems)
        with pytest.raises(Forbidden):
            book.add_contact(s, unit="新华区", supervisor=True, values={"person": "x"}, by=personas.department.principal)
        s.rollback()
    with Session(engine) as s:
        assert len(audit_rows(s, "contact.add")) == 1


def test_the_new_contact_form_keeps_what_was_typed_and_adds(app, engine, personas):
    c = personas.coordinator.client(app)
    assert 'href="/contacts/new"' in c.get("/contacts").text
    with Session(engine) as s:
        town = _without_supervisor(s).name
        name = s.scalar(sa.select(Department.name).where(Department.key == "education"))
    csrf = csrf_of(c, "/contacts/new")
    form = {"csrf": csrf, "unit": town, "department": name, "supervisor": "1", "person": "李四", "title": "专干",
            "mobile": "1380000", "email": "", "im_account": ""}
    r = c.post("/contacts/new", data=form)
    assert r.status_code == 400 and "手机" in r.text and f'value="{town}"' in r.text and 'value="李四"' in r.text
    assert f'<option value="{name}" selected>' in r.text
    r = c.post("/contacts/new", data=form | {"mobile": "13800001112"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/contacts/supervisor/")
    page = c.get(r.headers["location"]).text
    assert "已添加" in page and 'value="李四"' in page and 'value="13800001112"' in page
    assert personas.department.client(app).get("/contacts/new").status_code == 403
    assert c.post("/contacts/new", data={k: v for k, v in form.items() if k != "csrf"}).status_code in (400, 403)
