"""Ad-hoc assignments (交办) and 催办 by hand, as the people who use them: a city coordinator
assigns a task to every county, each county's department gets its items and notices and
completes one through the usual door, the city's report marks it 交办; the workbook import is
all or nothing; a coordinator's hand reminder goes through the outbox over real SMTP (after
quiet hours), shows on the item and in the report, and is refused on a finished item and
outside the coordinator's area. Time is frozen (the app's today, explicit clocks)."""
import datetime as dt
import json
import re
from urllib.parse import unquote

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from flows.cli.root import main
from notifications.channels import Channels
from notifications.deliver import DeliverySettings, deliver
from notifications.sweep import sweep
from notifications.urge import urge
from obligations.errors import Forbidden, NotFound, Refused
from reports.data import build as build_report
from reports.document import build_document
from storage import accounts, tasks, workflow
from storage.tables import AuditEntry, Contact, HandReminder, Jurisdiction, Notice, Obligation, Occurrence, Outbox, Plan
from tests.conftest import PASSWORD, csrf_of
from web.app import create_app

D = dt.date
TODAY = D(2025, 6, 16)                                        # a Monday
NOON = dt.datetime(2025, 6, 16, 2, 0, tzinfo=dt.UTC)          # 10:00 in Shanghai


@pytest.fixture
def city(engine, year_2025, personas):
    """The project with 2025's items, the four personas, a coordinator of 平顶山市 (sz, with an
    API token) and the web app frozen on TODAY."""
    settings = year_2025
    with Session(engine) as s, s.begin():
        user = accounts.add_user(s, username="sz", password=PASSWORD, role="coordinator", jurisdiction="平顶山市",
                                 display_name="平顶山市民政局")
        s.flush()
        token = accounts.add_token(s, user)
    app = create_app(settings, engine, today=lambda: TODAY)
    return app, settings, token


def _counties(engine, name="平顶山市"):
    with Session(engine) as s:
        unit = s.scalar(sa.select(Jurisdiction).where(Jurisdiction.name == name))
        return dict(s.execute(sa.select(Jurisdiction.id, Jurisdiction.name).where(
            Jurisdiction.level == "county", Jurisdiction.path.like(unit.path + "%"))).all())


def _delivery(settings):
    return DeliverySettings(secret=b"test-secret", base_url="http://127.0.0.1:8000",
                            quiet_hours=tuple(settings.notify.quiet_hours), timezone=settings.timezone)


def test_a_task_for_every_county_reaches_each_department_and_the_city_report(city, engine, personas):
    app, settings, token = city
    from fastapi.testclient import TestClient

    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    r = api.post("/api/v1/tasks", json={"title": "暑期防溺水安全专项排查", "departments": ["教育局", "公安局"],
                                        "jurisdiction": "平顶山市", "level": "county", "within": 5, "source": "批示",
                                        "text": "对辖区学校和流动儿童聚居点开展防溺水排查"})
    assert r.status_code == 201, r.text
    done = r.json()
    counties = _counties(engine)
    assert done["units"] == len(counties) >= 2
    assert done["items"] == 2 * len(counties) and done["due"] == "2025-06-23"   # 5 working days after Monday
    with Session(engine) as s:
        items = s.execute(sa.select(Occurrence.id, Occurrence.jurisdiction_id, Occurrence.party_key)
                          .where(Occurrence.plan_id == done["plan_id"])).all()
        assert {(j, k) for _, j, k in items} == {(j, k) for j in counties for k in ("education", "public_security")}
        assert s.scalar(sa.select(Obligation.origin).where(Obligation.plan_id == done["plan_id"])) == "assigned"
        [entry] = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "task.assign")).all()
        assert entry.actor == "sz" and entry.object_id == done["plan_id"] and entry.after["items"] == len(items)

    # a later materialize adds nothing: the assignment's items are the ones it would make
    from storage.schedule import materialize
    again = materialize(engine, settings.calendar(), D(2025, 12, 31), today=TODAY, default_start=settings.schedule_start)
    assert again.by_plan[done["plan_id"]] == 0 and again.occurrences_removed == 0

    # the sweep reminds every county's department of it (5 working days left: the 7-day reminder)
    sweep(engine, settings.calendar(), settings.notify_policy(), TODAY, send_time=dt.time(9), timezone="Asia/Shanghai")
    with Session(engine) as s:
        told = s.execute(sa.select(Occurrence.jurisdiction_id, Occurrence.party_key, Notice.stage)
                         .join(Notice, Notice.occurrence_id == Occurrence.id)
                         .where(Occurrence.plan_id == done["plan_id"])).all()
    assert {(j, k) for j, k, _ in told} == {(j, k) for _, j, k in items} and {st for *_, st in told} == {"remind-7"}

    # 新华区教育局 sees it in its inbox, marked 交办, and completes it through the usual door
    jy = personas.department.client(app)
    inbox = jy.get("/inbox").text
    assert "暑期防溺水安全专项排查" in inbox and '<span class="badge s-assigned">交办</span>' in inbox
    [mine] = [i for i, j, k in items if counties[j] == "新华区" and k == "education"]
    r = jy.post(f"/items/{mine}/complete", data={"count": "1", "note": "已排查 12 处", "csrf": csrf_of(jy, f"/items/{mine}")})
    assert r.status_code == 303 and "已登记" in unquote(r.headers["location"])
    with Session(engine) as s:
        assert s.get(Occurrence, mine).submitted_at is not None       # 待审核, like a plan's item

    # the city's coordinator follows it on the 交办 page and its dashboard
    sz = TestClient(app, follow_redirects=False)
    r = sz.post("/login", data={"username": "sz", "password": PASSWORD, "csrf": csrf_of(sz, "/login"), "next": "/"})
    page = sz.get("/tasks").text
    assert "暑期防溺水安全专项排查" in page and f'/dashboard?plan={done["plan_id"]}' in page
    assert '<span class="muted">平顶山市民政局</span>' in page and '<span class="muted">sz</span>' not in page
    # a refusal on the page keeps what was typed and speaks to a person, not a terminal
    r = sz.post("/tasks", data={"title": "专项检查", "lead": "不存在的局", "jurisdiction": "平顶山市", "due": "2025-07-15",
                                "csrf": csrf_of(sz, "/tasks")})
    flash = re.search(r'<div class="flash err" id="flash">(.*?)</div>', r.text).group(1)
    assert r.status_code == 422 and flash.startswith("未知的部门：不存在的局") and "duban" not in flash
    assert 'value="专项检查"' in r.text
    board = sz.get(f"/dashboard?plan={done['plan_id']}&period=2025")
    assert board.status_code == 200 and "暑期防溺水安全专项排查" in board.text
    # and accepts the county's report of it from the review queue
    r = sz.post("/review/accept", data={"id": str(mine), "csrf": csrf_of(sz, "/review")})
    assert r.status_code == 303, r.text[:300]

    # the city's report: the assignment among the clauses and as its own kind of task, marked 交办
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=TODAY, jurisdiction="平顶山市")
    [origin] = [o for o in data.by_origin if o["origin"] == "assigned"]
    assert origin["total"] == len(items) and origin["done"] == 1
    [row] = [c for c in data.by_clause if c["plan"] == done["plan_id"]]
    assert row["title"] == "暑期防溺水安全专项排查" and row["total"] == len(items)
    doc = build_document(data, issuer="平顶山市民政局", issued_on=TODAY)
    tables = {t.key: t for sec in doc.sections for t in sec.tables}
    assert any(r["origin"].startswith("交办任务") and r["done"] == 1 for r in tables["origins"].rows)
    assert any(r["clause"] == "交办" for r in tables["clauses"].rows)


def test_assigning_is_refused_outside_the_rules_and_writes_nothing(city, engine, personas):
    app, settings, token = city
    before = _plans(engine)

    def refused(who, **kw):
        args = dict(title="专项排查", departments=["education"], jurisdiction="平顶山市", level="county",
                    due=D(2025, 7, 15), today=TODAY, calendar=settings.calendar())
        args.update(kw)
        with Session(engine) as s:
            with pytest.raises(Exception) as caught:
                tasks.assign(s, who, **args)
            s.rollback()
        return caught.value

    mz = workflow.Actor("mz", "web", personas.coordinator.principal)       # 新华区 coordinator
    assert isinstance(refused(mz), Forbidden) and "不在您的管辖范围" in str(refused(mz))
    assert isinstance(refused(workflow.Actor("jy", "web", personas.department.principal)), Forbidden)
    assert isinstance(refused(workflow.Actor("dc", "web", personas.supervisor.principal)), Forbidden)
    op = workflow.Actor("operator", "cli")
    assert "早于今天" in str(refused(op, due=D(2025, 6, 13)))
    assert "未知的部门：气象局" in str(refused(op, departments=["气象局"]))
    assert "在乡镇（街道）一级未设置" in str(refused(op, level="township"))
    assert "不能超过 100 个字" in str(refused(op, title="排" * 101))
    assert "无法保存的字符" in str(refused(op, text="排查\x00"))
    assert "请填写任务名称" in str(refused(op, title="   "))
    assert "二者选一" in str(refused(op, within=3))
    assert "层级须低于" in str(refused(op, jurisdiction="新华区", level="city"))
    assert _plans(engine) == before
    # the same through the API: 403 outside the area, 422 for a bad value
    from fastapi.testclient import TestClient
    r = personas.coordinator.api(app).post("/api/v1/tasks", json={"title": "x", "departments": ["education"],
                                                                   "jurisdiction": "福州市", "due": "2025-07-01"})
    assert r.status_code == 403
    r = TestClient(app, headers={"Authorization": f"Bearer {token}"}).post(
        "/api/v1/tasks", json={"title": "x", "departments": ["education"], "jurisdiction": "平顶山市", "due": "2025-01-01"})
    assert r.status_code == 422 and "早于今天" in r.json()["detail"]
    assert _plans(engine) == before


def _plans(engine) -> int:
    with Session(engine) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Plan)) + s.scalar(
            sa.select(sa.func.count()).select_from(Occurrence))


def _workbook(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "交办任务"
    sheet.append(["任务名称", "任务来源", "责任部门", "地区", "下达层级", "截止日期", "工作日内", "应完成次数", "须附佐证材料"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_the_workbook_is_imported_whole_or_not_at_all(project, plans_loaded, engine, tmp_path, capsys):
    before = _plans(engine)
    bad = _workbook(tmp_path / "bad.xlsx", [
        ["暑期安全专项排查", "批示", "教育局", "福州市", None, D(2025, 7, 15), None, None, "否"],
        ["防溺水专项检查", "会议", "教育局、气象局", "福州市", "county", None, 10, 1, "是"],
        ["校园周边治理", "来文", "公安局", "福州市", "county", "七月底", None, None, None],
        ["家访", "来文", "教育局", "福州市", None, D(2025, 7, 15), None, 2.5, "也许"],
    ])
    assert main(["tasks", "import", str(bad), "--today", "2025-06-16"]) == 1
    err = capsys.readouterr().err
    assert "交办任务表有误，未导入任何任务" in err
    assert "交办任务!3: 责任部门: 未知的部门：气象局" in err
    assert "交办任务!4: 截止日期: '七月底' 不是日期" in err
    assert "交办任务!5: 须附佐证材料: 应填“是”或“否”" in err
    assert "交办任务!2" not in err                       # the good row is not blamed …
    assert _plans(engine) == before                        # … and not written either
    good = _workbook(tmp_path / "good.xlsx", [
        ["暑期安全专项排查", "批示", "教育局", "福州市", None, D(2025, 7, 15), None, None, "否"],
        ["防溺水专项检查", "会议", "教育局,公安局", "福州市", "县（市、区）", None, 10, 1, "是"],
    ])
    assert main(["tasks", "import", str(good), "--today", "2025-06-16"]) == 0
    assert "交办 2 项任务" in capsys.readouterr().out
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Plan).where(Plan.id.like("task-2025-%"))) == 2


def test_tasks_add_works_as_typed(project, plans_loaded, engine, capsys):
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("as_of: null", "as_of: 2025-06-20"), encoding="utf-8")
    assert main(["tasks", "add", "--title", "暑期安全专项排查", "--departments", "education",
                 "--jurisdiction", "福州市", "--due", "2025-07-15"]) == 0
    out = capsys.readouterr().out
    assert "已交办：暑期安全专项排查（福州市，教育部门）" in out and "生成督办事项 1 项" in out
    assert main(["tasks", "list", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["title"] == "暑期安全专项排查" and row["items"] == 1 and row["unit"] == "福州市"
    with Session(engine) as s:
        [o] = s.scalars(sa.select(Occurrence).where(Occurrence.plan_id == "task-2025-0001")).all()
        assert o.due == D(2025, 7, 15) and o.party_key == "education"


def test_evidence_required_refuses_a_completion_without_a_file(city, engine, personas):
    app, settings, token = city
    op = workflow.Actor("operator", "cli")
    with Session(engine) as s, s.begin():
        done = tasks.assign(s, op, title="校园安全检查", departments="education", jurisdiction="新华区", due=D(2025, 7, 1),
                            evidence=True, today=TODAY, calendar=settings.calendar())
    with Session(engine) as s:
        [item] = s.scalars(sa.select(Occurrence.id).where(Occurrence.plan_id == done.plan_id)).all()
    jy = personas.department.client(app)
    page = jy.get(f"/items/{item}").text
    assert "必须上传" in page
    r = jy.post(f"/items/{item}/complete", data={"count": "1", "csrf": csrf_of(jy, f"/items/{item}")})
    assert "要求附佐证材料" in unquote(r.headers["location"])


def _open_item(engine, unit="新华区", party="education", plan="pingdingshan-2025"):
    with Session(engine) as s:
        return s.scalar(sa.select(Occurrence.id).join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                        .where(Jurisdiction.name == unit, Occurrence.party_key == party, Occurrence.plan_id == plan,
                               Occurrence.due >= TODAY, Occurrence.done_count == 0).order_by(Occurrence.due))


def test_a_hand_reminder_goes_out_at_the_next_delivery_and_is_counted(city, engine, personas, smtp_sink):
    app, settings, token = city
    item = _open_item(engine)
    mz = personas.coordinator.client(app)
    r = mz.post(f"/items/{item}/urge", data={"note": "请于本周五前报送", "csrf": csrf_of(mz, f"/items/{item}")})
    assert r.status_code == 303 and "已催办" in unquote(r.headers["location"])
    with Session(engine) as s:
        [row] = s.scalars(sa.select(Outbox).where(Outbox.key.like("urge:%"))).all()
        notice = s.scalar(sa.select(Notice).where(Notice.occurrence_id == item, Notice.kind == "urge"))
        assert row.status == "pending" and row.items == 1 and notice.digest_id == row.id and notice.stage == "urge-1"
        send_at = row.next_attempt_at
    chans = Channels(settings.data_dir / "outbox", settings.notify.sender, smtp_url=smtp_sink.url)
    sent = deliver(engine, chans, _delivery(settings), now=send_at.replace(tzinfo=dt.UTC))   # at send_at exactly: +1 min could fall in quiet hours
    assert sent.sent == 1
    [msg] = smtp_sink.messages
    assert msg["To"].addresses[0].addr_spec.startswith("education@") and "【督办催办】" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "【协调员催办·请即办理】" in body and "催办说明：请于本周五前报送" in body and "办结登记：http" in body

    page = mz.get(f"/items/{item}").text
    assert "催办记录" in page and "请于本周五前报送" in page and "已发送" in page
    assert "协调员催办（第1次）" in page                      # among the item's notices
    with Session(engine) as s:
        [entry] = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "urge")).all()
        assert entry.actor == "mz" and entry.object_id == str(item)
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=TODAY, jurisdiction="新华区")
    assert data.notices["urge"] == 1 and data.notices["urge_sent"] == 1
    rows = {r["kind"]: r for sec in build_document(data, issuer="平顶山市民政局", issued_on=TODAY).sections for t in sec.tables if t.key == "notices"
            for r in t.rows}
    assert rows["协调员催办"]["count"] == 1

    # a second hand reminder from the list: a new stage, one message per department
    other = _open_item(engine, party="civil_affairs")
    r = mz.post("/urge", data={"item": [str(item), str(other)], "csrf": csrf_of(mz, "/inbox")})
    assert "已催办 2 项，共 2 份通知" in unquote(r.headers["location"])
    with Session(engine) as s:
        assert s.scalar(sa.select(Notice.stage).where(Notice.occurrence_id == item).order_by(Notice.id.desc())) == "urge-2"


def test_a_hand_reminder_waits_for_the_end_of_quiet_hours(city, engine, personas, smtp_sink):
    app, settings, token = city
    item = _open_item(engine)
    late = dt.datetime(2025, 6, 16, 14, 30, tzinfo=dt.UTC)        # 22:30 in Shanghai
    with Session(engine) as s, s.begin():
        done = urge(s, [item], by=workflow.Actor("mz", "cli"), note=None, today=TODAY, calendar=settings.calendar(),
                    quiet_hours=tuple(settings.notify.quiet_hours), timezone=settings.timezone, now=late)
    assert done.send_at == dt.datetime(2025, 6, 17, 0, 0, tzinfo=dt.UTC)    # 08:00 the next morning
    chans = Channels(settings.data_dir / "outbox", settings.notify.sender, smtp_url=smtp_sink.url)
    assert deliver(engine, chans, _delivery(settings), now=late + dt.timedelta(minutes=5)).quiet
    assert smtp_sink.messages == []
    chans = Channels(settings.data_dir / "outbox", settings.notify.sender, smtp_url=smtp_sink.url)
    assert deliver(engine, chans, _delivery(settings), now=done.send_at + dt.timedelta(minutes=1)).sent == 1
    assert len(smtp_sink.messages) == 1


def test_a_hand_reminder_is_refused_on_finished_items_and_outside_the_area(city, engine, personas):
    app, settings, token = city
    item = _open_item(engine)
    fuzhou = _open_item(engine, unit="鼓楼区", plan="fujian-2025")
    with Session(engine) as s, s.begin():
        workflow.complete(s, item, by=workflow.Actor("jy", "cli"), count=s.get(Occurrence, item).required,
                          done_on=TODAY, setting=workflow.Setting(settings.calendar(), settings.data_dir, TODAY))
    mz = personas.coordinator.principal

    def refused(ids, principal=mz):
        with Session(engine) as s:
            with pytest.raises(Exception) as caught:
                urge(s, ids, by=workflow.Actor("x", "web", principal), note=None, today=TODAY,
                     calendar=settings.calendar(), quiet_hours=None, timezone=settings.timezone, now=NOON)
        return caught.value

    done = refused([item])
    assert isinstance(done, Refused) and "无需催办" in str(done) and "办结" in str(done)
    assert isinstance(refused([fuzhou]), NotFound)
    assert isinstance(refused([_open_item(engine)], personas.department.principal), Forbidden)
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(HandReminder)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(Notice).where(Notice.kind == "urge")) == 0
    # the doors: the page shows the refusal on the item, the API answers 409 / 404 / 403
    c = personas.coordinator.client(app)
    r = c.post(f"/items/{item}/urge", data={"csrf": csrf_of(c, f"/items/{item}")})
    assert "无需催办" in unquote(r.headers["location"])
    assert personas.coordinator.api(app).post("/api/v1/urge", json={"items": [item]}).status_code == 409
    assert personas.coordinator.api(app).post("/api/v1/urge", json={"items": [fuzhou]}).status_code == 404
    assert personas.department.api(app).post("/api/v1/urge", json={"items": [_open_item(engine)]}).status_code == 403
    # a unit without any address cannot be reminded
    with Session(engine) as s, s.begin():
        target = s.get(Occurrence, _open_item(engine))
        s.execute(sa.update(Contact).where(Contact.jurisdiction_id == target.jurisdiction_id,
                                           Contact.department_key == target.party_key).values(email=None, webhook=None))
    assert "没有邮箱或机器人地址" in str(refused([_open_item(engine)]))
