"""Notices: sweep stages against the pure rule, digests, templates, links, and delivery over a
real SMTP server and real HTTP robot endpoints on loopback."""
import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import func, select
from sqlmodel import Session

from notifications.channels import Channels, DingTalk, Message, WeCom, message_id
from notifications.deliver import DeliverySettings, claim, deliver, in_quiet_hours, requeue
from notifications.links import LinkError, make_token, read_token
from notifications.sweep import sweep
from obligations.feedback import FeedbackPolicy
from obligations.feedback import stage as feedback_stage
from obligations.notify import NotifyPolicy, stages_on
from storage import occurrences as occ
from storage.catalogs import load_plans
from storage.schedule import materialize
from storage.tables import Jurisdiction, Notice, Obligation, Occurrence, Outbox
from tests.test_schedule import write_ledger

D = dt.date
NOW = dt.datetime(2025, 4, 28, 2, 0, tzinfo=dt.UTC)   # 10:00 in Shanghai


@pytest.fixture
def world(plans_loaded, engine, tmp_path):
    settings = plans_loaded
    ledger = write_ledger(tmp_path / "cases.xlsx", [
        ["FJ-0201", "鼓东街道", "鼓东街道第一社区", "监护缺失", "李主任", D(2025, 1, 5), None, None]])
    from storage.cases import import_ledger
    with Session(engine) as s, s.begin():
        import_ledger(s, ledger)
    materialize(engine, settings.calendar(), D(2025, 12, 31), today=D(2025, 1, 1), default_start=settings.schedule_start)
    return settings


def do_sweep(engine, settings, day, policy=None):
    return sweep(engine, settings.calendar(), policy or settings.notify_policy(), day,
                 send_time=dt.time(9, 0), timezone="Asia/Shanghai")


def dsettings(**kw):
    return DeliverySettings(secret=b"test-secret", base_url="http://127.0.0.1:8000", **kw)


# ------------------------------------------------------------------ the rule

def test_reminder_windows_do_not_overlap():
    p = NotifyPolicy(reminders=(7, 1), overdue_every=3, escalate_after=(5, 10))
    assert p.reminder_windows() == [("remind-1", 0, 1), ("remind-7", 1, 7)]
    assert stages_on(p, left=5, late=0, due_today=False) == ["remind-7"]
    assert stages_on(p, left=1, late=0, due_today=False) == ["remind-1"]
    assert stages_on(p, left=0, late=0, due_today=True) == ["due"]
    assert stages_on(p, left=0, late=4, due_today=False) == ["overdue-2"]
    assert stages_on(p, left=0, late=11, due_today=False) == ["overdue-4", "escalate-1", "escalate-2"]
    assert p.merged({"reminders": [3], "escalate_after": [2]}).reminder_windows() == [("remind-3", 0, 3)]


@pytest.mark.parametrize("day", [D(2025, 4, 28), D(2025, 10, 9)])
def test_sweep_matches_the_pure_rule_for_every_occurrence(world, engine, day):
    report = do_sweep(engine, world, day)
    cal, policy = world.calendar(), world.notify_policy()
    with Session(engine) as s:
        got = {(n.occurrence_id, n.stage) for n in s.scalars(select(Notice))}
        expected = set()
        routes = {j.id: (j.escalate_to_id, j.escalate_next_id) for j in s.scalars(select(Jurisdiction))}
        for o in s.scalars(select(Occurrence).where(Occurrence.done_count < Occurrence.required)):
            left = cal.workdays_between(day, o.due) if o.due > day else 0
            late = cal.workdays_between(o.due, day) if o.due < day else 0
            first, second = routes[o.jurisdiction_id]
            expected |= {(o.id, st) for st in stages_on(policy, left=left, late=late, due_today=o.due == day)
                         if not (st == "escalate-1" and first is None or st == "escalate-2" and second is None)}
            # progress feedback (obligations.feedback) on the day's feedback day, if it is recent
            window = FeedbackPolicy().window(day)
            if window and o.waived_at is None and FeedbackPolicy().asks(period_start=o.period_start, due=o.due,
                                                                        day=window[0]):
                expected.add((o.id, feedback_stage(window[0])))
        # a unit at the top (the province) has nobody above its own supervisor
        assert any(second is None for _, second in routes.values())
    assert got == expected and report.added == len(expected) > 0


def test_sweep_is_idempotent_and_sends_one_digest_per_recipient_per_day(world, engine):
    first = do_sweep(engine, world, D(2025, 4, 28))
    again = do_sweep(engine, world, D(2025, 4, 28))
    assert first.digests > 0 and again.added == 0 and again.digests == 0
    with Session(engine) as s:
        per_recipient = s.execute(select(Outbox.recipient_kind, Outbox.recipient_id, Outbox.day, func.count())
                                  .group_by(Outbox.recipient_kind, Outbox.recipient_id, Outbox.day)).all()
        assert per_recipient and all(n == 1 for *_, n in per_recipient)
        assert s.scalar(select(func.count()).select_from(Notice).where(Notice.digest_id.is_(None))) == 0
        items = s.scalar(select(func.sum(Outbox.items)))
        assert items == s.scalar(select(func.count()).select_from(Notice))


def test_escalation_goes_to_the_supervisor_then_one_level_up(world, engine):
    do_sweep(engine, world, D(2025, 5, 20))   # April items are 12 working days late
    with Session(engine) as s:
        ob = s.execute(sa.text("SELECT o.id, o.jurisdiction_id FROM occurrence o JOIN obligation b ON b.id = o.obligation_id "
                               "WHERE b.plan_id = 'fujian-2025' AND b.code = '1.1' AND o.period_key = '2025-04' "
                               "AND o.party_key = 'education' ORDER BY o.id LIMIT 1")).one()
        county = s.get(Jurisdiction, ob.jurisdiction_id)
        city = s.get(Jurisdiction, county.parent_id)
        stages = {n.stage: n for n in s.scalars(select(Notice).where(Notice.occurrence_id == ob.id))}
        assert {"escalate-1", "escalate-2"} <= set(stages)
        assert (stages["escalate-1"].recipient_kind, stages["escalate-1"].recipient_id) == ("supervisor", county.id)
        assert (stages["escalate-2"].recipient_kind, stages["escalate-2"].recipient_id) == ("supervisor", city.id)
        assert stages["escalate-1"].workdays >= 10


def test_per_obligation_override(world, engine, project):
    path = project / "plans" / "fujian-2025" / "catalog.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["clauses"][0]["obligations"][0]["notify"] = {"reminders": [3], "escalate_after": [1]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_plans(engine, world)
    do_sweep(engine, world, D(2025, 4, 27))     # a make-up Sunday; due 2025-04-30 is 3 working days on
    with Session(engine) as s:
        stages = set(s.scalars(select(Notice.stage).join(Occurrence, Occurrence.id == Notice.occurrence_id)
                               .join(Obligation, Obligation.id == Occurrence.obligation_id)
                               .where(Occurrence.period_key == "2025-04", Obligation.plan_id == "fujian-2025",
                                      Obligation.code == "1.1")))
    assert "remind-3" in stages and "remind-7" not in stages


# ------------------------------------------------------------------ content

def test_digest_content_is_formal_chinese_without_identifying_details(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    report = deliver(engine, chans, dsettings(), now=NOW, force=True)
    assert report.sent > 0 and report.dead == 0
    by_to = {m["To"].addresses[0].addr_spec: m for m in smtp_sink.messages}
    edu = next(m for a, m in by_to.items() if a.startswith("education@350102"))
    assert edu["Subject"].startswith("【督办提醒】鼓楼区教育局：")
    text = edu.get_body(("plain",)).get_content()
    assert "福建省加强流动儿童关爱保护行动实施方案" in text and "第1条 开展流动儿童监测摸排" in text
    assert "更新流动儿童信息" in text and "2025年4月30日（星期三）" in text and "还剩" in text
    assert "2025年4月" in text and "办结登记：http://127.0.0.1:8000/c/" in text
    html = edu.get_body(("html",)).get_content()
    assert "<table" in html and "登记办理情况" in html
    bodies = {a: m.get_body(("plain",)).get_content() for a, m in by_to.items()}
    [body] = [b for a, b in bodies.items() if a.startswith("children_director@") and "FJ-0201" in b]
    assert "FJ-0201（鼓东街道）" in body        # the pseudonymous code and the township only
    assert not any("李主任" in b for b in bodies.values())   # nothing from the ledger beyond the code
    token = body.split("/c/")[1].split()[0]
    data = read_token(b"test-secret", token, D(2025, 4, 28))
    with Session(engine) as s:
        n = s.get(Notice, data["notice_id"])
        assert n.occurrence_id == data["occurrence_id"]


def test_links_are_signed_and_expire():
    token = make_token(b"k", notice_id=1, occurrence_id=2, expires=D(2025, 5, 28))
    assert read_token(b"k", token, D(2025, 5, 28))["occurrence_id"] == 2
    with pytest.raises(LinkError, match="过期"):
        read_token(b"k", token, D(2025, 5, 29))
    with pytest.raises(LinkError, match="签名"):
        read_token(b"other", token, D(2025, 5, 1))
    with pytest.raises(LinkError):
        read_token(b"k", "garbage", D(2025, 5, 1))


# ------------------------------------------------------------------ delivery over SMTP

def test_smtp_delivery_is_once_per_digest_with_stable_message_ids(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    first = deliver(engine, chans, dsettings(), now=NOW, force=True)
    again = deliver(engine, chans, dsettings(), now=NOW, force=True)
    assert again.sent == 0
    with Session(engine) as s:
        rows = s.scalars(select(Outbox).where(Outbox.status == "sent")).all()
        assert len(rows) == first.sent == len(smtp_sink.messages)
        for row in rows:
            assert row.message_id == message_id(row.key, world.notify.sender) and row.transport == "smtp"
    ids = smtp_sink.message_ids()
    assert len(ids) == len(set(ids))


def test_smtp_down_keeps_notices_pending_until_it_returns(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    smtp_sink.stop()
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    down = deliver(engine, chans, dsettings(batch=20), now=NOW, force=True, until_empty=False)
    # the first connection is refused: that one is retried later, the rest wait untouched
    assert down.sent == 0 and down.retried == 1 and down.waiting == 19 and down.dead == 0
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "sent")) == 0
        total = s.scalar(select(func.count()).select_from(Outbox))
    smtp_sink.start()
    later = NOW + dt.timedelta(hours=1)        # past the backoff
    up = deliver(engine, chans, dsettings(), now=later, force=True)
    assert up.sent == total and len(smtp_sink.messages) == total


def test_a_crash_after_claiming_is_recovered_and_sent_once(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    claimed = claim(engine, NOW, 5)            # a worker claims five rows and dies before sending
    assert len(claimed) == 5
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    early = deliver(engine, chans, dsettings(), now=NOW + dt.timedelta(minutes=1), force=True)
    assert early.recovered == 0                 # within the lease: left alone
    with Session(engine) as s:
        assert {o.status for o in s.scalars(select(Outbox).where(Outbox.id.in_(claimed)))} == {"sending"}
    late = deliver(engine, chans, dsettings(), now=NOW + dt.timedelta(minutes=11), force=True)
    assert late.recovered == 5
    ids = smtp_sink.message_ids()
    assert len(ids) == len(set(ids))
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")) == 0


def test_the_remaining_window_resends_with_the_same_message_id(world, engine, smtp_sink):
    """Documented window: the server accepted, the worker died before committing `sent`."""
    do_sweep(engine, world, D(2025, 4, 28))
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    deliver(engine, chans, dsettings(), now=NOW, force=True)
    with engine.begin() as conn:
        oid = conn.execute(sa.text("SELECT min(id) FROM outbox")).scalar()
        conn.execute(sa.text("UPDATE outbox SET status = 'sending', sending_at = :t WHERE id = :id"),
                     {"t": NOW, "id": oid})
    deliver(engine, chans, dsettings(), now=NOW + dt.timedelta(minutes=11), force=True)
    ids = smtp_sink.message_ids()
    assert len(ids) == len(set(ids)) + 1        # one second copy …
    assert len(set(ids)) == len(set(ids) | {ids[-1]})   # … carrying a Message-ID already seen


def test_completed_items_are_left_out_and_empty_digests_skipped(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    with Session(engine) as s:
        row = s.scalars(select(Outbox).where(Outbox.items == 1)).first()
        n = s.scalar(select(Notice).where(Notice.digest_id == row.id))
    with Session(engine) as s, s.begin():
        occ.record_completion(s, n.occurrence_id, count=10, actor="x", channel="cli", done_on=D(2025, 4, 28))
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    report = deliver(engine, chans, dsettings(), now=NOW, force=True)
    assert report.skipped == 1
    with Session(engine) as s:
        assert s.get(Outbox, row.id).status == "skipped"


def test_quiet_hours_and_send_time(world, engine):
    night = dt.datetime(2025, 4, 28, 14, 0, tzinfo=dt.UTC)    # 22:00 in Shanghai
    assert in_quiet_hours(night, (dt.time(20), dt.time(8)), "Asia/Shanghai")
    assert not in_quiet_hours(NOW, (dt.time(20), dt.time(8)), "Asia/Shanghai")
    do_sweep(engine, world, D(2025, 4, 28))
    chans = Channels(world.data_dir / "outbox", world.notify.sender)
    assert deliver(engine, chans, dsettings(), now=night).quiet
    early = dt.datetime(2025, 4, 28, 0, 30, tzinfo=dt.UTC)    # 08:30, before the 09:00 send time
    assert deliver(engine, chans, dsettings(), now=early).sent == 0
    assert deliver(engine, chans, dsettings(), now=NOW).sent > 0          # 10:00: file sink
    assert list((world.data_dir / "outbox").glob("*.eml"))


# ------------------------------------------------------------------ robots over HTTP

def test_dingtalk_signature_and_errcode(robot_server):
    robot = DingTalk("SEC-test")
    url = robot.signed_url(robot_server.url("/robot/send?access_token=abc"), timestamp_ms=1700000000000)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    expected = base64.b64encode(hmac.new(b"SEC-test", b"1700000000000\nSEC-test", hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected] and query["timestamp"] == ["1700000000000"]
    msg = Message("digest:contact:1:2025-04-28", robot_server.url("/robot/send?access_token=abc"), "福州市民政局",
                  "【督办提醒】福州市民政局：1 项待办事项", "正文", "<p>正文</p>")
    robot.send(msg)
    req = robot_server.requests[-1]
    sent_q = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
    ts = sent_q["timestamp"][0]
    good = base64.b64encode(hmac.new(b"SEC-test", f"{ts}\nSEC-test".encode(), hashlib.sha256).digest()).decode()
    assert sent_q["sign"] == [good] and req["body"]["msgtype"] == "markdown"
    assert req["body"]["markdown"]["title"].startswith("【督办提醒】")
    robot_server.replies.append((200, {"errcode": 310000, "errmsg": "sign not match"}))
    from notifications.channels import SendError
    with pytest.raises(SendError) as info:
        robot.send(msg)
    assert info.value.permanent and "310000" in str(info.value)
    robot.close()


def test_wecom_markdown_stays_within_its_limit(robot_server):
    robot = WeCom()
    long_text = "\n".join(f"{i}. 事项" * 20 for i in range(200))
    robot.send(Message("k", robot_server.url("/cgi-bin/webhook/send?key=x"), None, "主题", long_text, ""))
    content = robot_server.requests[-1]["body"]["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("登录督办系统。")
    robot.close()


def test_robot_500s_back_off_then_succeed_and_4xx_is_dead(world, engine, robot_server):
    with engine.begin() as conn:
        fz = conn.execute(sa.text("SELECT id FROM jurisdiction WHERE code = '350102'")).scalar()
        conn.execute(sa.text("UPDATE contact SET email = NULL, webhook = :u WHERE jurisdiction_id = :j "
                             "AND department_key = 'education'"), {"u": robot_server.url("/robot/send?access_token=t"), "j": fz})
    do_sweep(engine, world, D(2025, 4, 28))
    with Session(engine) as s:
        row = s.scalars(select(Outbox).where(Outbox.channel == "dingtalk")).one()
    robot_server.replies += [(500, {}), (502, {})]
    chans = Channels(world.data_dir / "outbox", world.notify.sender, dingtalk_secret="SEC")
    deliver(engine, chans, dsettings(), now=NOW, force=True)
    with Session(engine) as s:
        r = s.get(Outbox, row.id)
        assert (r.status, r.attempts) == ("pending", 1) and "500" in r.last_error
        assert r.next_attempt_at.replace(tzinfo=dt.UTC) == NOW + dt.timedelta(minutes=1)
    deliver(engine, chans, dsettings(), now=NOW + dt.timedelta(minutes=1), force=True)   # 502: 2 more minutes
    deliver(engine, chans, dsettings(), now=NOW + dt.timedelta(minutes=3), force=True)   # 200
    with Session(engine) as s:
        r = s.get(Outbox, row.id)
        assert (r.status, r.attempts, r.transport) == ("sent", 3, "dingtalk")
    assert len([q for q in robot_server.requests if q["path"].startswith("/robot/send")]) == 3
    assert not requeue(engine, row.id, NOW)     # a sent notice is never queued again
    robot_server.replies.append((404, {}))
    from notifications.channels import SendError
    with pytest.raises(SendError) as info:
        DingTalk("SEC").send(Message("k", robot_server.url("/robot/send?access_token=t"), None, "s", "t", "h"))
    assert info.value.permanent


def test_dead_after_max_attempts_and_requeue(world, engine, smtp_sink):
    do_sweep(engine, world, D(2025, 4, 28))
    smtp_sink.stop()
    chans = Channels(world.data_dir / "outbox", world.notify.sender, smtp_url=smtp_sink.url)
    t = NOW
    for _ in range(3):
        deliver(engine, chans, dsettings(max_attempts=3), now=t, force=True)
        t += dt.timedelta(hours=1)
    with Session(engine) as s:
        # each run tries the first notice, finds the relay down and leaves the rest untouched:
        # after max_attempts the first one is a dead letter, an outage never kills the queue
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert rows[0].status == "dead" and rows[0].attempts == 3
        assert {(o.status, o.attempts) for o in rows[1:]} == {("pending", 0)}
        oid = rows[0].id
    smtp_sink.start()
    assert requeue(engine, oid, t)
    assert deliver(engine, chans, dsettings(), now=t, force=True).sent == len(rows)
