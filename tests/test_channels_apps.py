"""DingTalk work notices, WeCom app messages and SMS (Aliyun, Tencent Cloud), each against a
loopback server answering like the provider's documented API (tests/provider_server.py), and
the rules around them through the outbox: fallback, pacing, once a day, daily limits, an outage
then recovery, permanent errors as dead letters with the provider's code, quiet hours and digest
times. ``pytest -k "dingtalk or wecom or sms"`` runs them."""
import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from notifications.channels import Channels, Message
from notifications.deliver import deliver
from notifications.dingtalk import DingTalkApp
from notifications.providers import Context, Pacer, ProviderError, TokenCache
from notifications.routing import Apps
from notifications.sms import AliyunSms, TencentSms
from notifications.wecom import WeComApp
from storage.tables import ChannelSend, Outbox
from tests.provider_server import ProviderServer
from tests.test_notify import NOW, D, do_sweep, dsettings, world  # noqa: F401 - the world fixture

LINK = "http://127.0.0.1:8000/c/abc.DEF_123-x"
MSG = Message("digest:contact:7:2025-04-28", "", "福州市民政局", "【督办催办】福州市民政局：2 项待办事项（2025年4月28日）",
              f"福州市民政局：\n一、某方案\n1. 报送工作进展\n   办理：{LINK}\n", "<p>x</p>")


@pytest.fixture
def provider():
    TokenCache.clear()
    server = ProviderServer()
    yield server
    server.stop()
    TokenCache.clear()


def ding(p: ProviderServer) -> DingTalkApp:
    key, secret, agent = p.ding_app
    return DingTalkApp(key, secret, agent, api=p.url)


def wecom(p: ProviderServer, **kw) -> WeComApp:
    corp, secret, agent = p.wecom_app
    return WeComApp(corp, secret, agent, api=p.url, **kw)


def aliyun(p: ProviderServer, **kw) -> AliyunSms:
    return AliyunSms("LTAIkeyid", "keysecret", p.sms_sign, p.sms_template, endpoint=p.url, **kw)


def tencent(p: ProviderServer) -> TencentSms:
    return TencentSms("AKIDid", "key", "1400006666", p.sms_sign, "1110", endpoint=p.url)


# ------------------------------------------------------------------ the adapters alone

def test_dingtalk_token_is_cached_and_renewed_when_expired(provider):
    app = ding(provider)
    app.send(MSG, "user001", Context(items=2))
    app.send(MSG, "user002", Context(items=2))
    assert provider.token_calls["dingtalk"] == 1                      # one token for both
    provider.expire_tokens()                                           # DingTalk now answers 42001
    request_id = app.send(MSG, "user003", Context(items=2))
    assert provider.token_calls["dingtalk"] == 2 and "/task:" in request_id
    assert [d["userid"] for d in provider.ding_delivered] == ["user001", "user002", "user003"]
    sent = [r for r in provider.requests if r["path"].endswith("asyncsend_v2")]
    assert len(sent) == 4 and sent[2]["query"]["access_token"] != sent[3]["query"]["access_token"]
    card = sent[-1]["body"]["msg"]["action_card"]
    assert sent[-1]["body"]["agent_id"] == provider.ding_app[2] and sent[-1]["body"]["msg"]["msgtype"] == "action_card"
    assert card["single_url"] == LINK and f"[办理]({LINK})" in card["markdown"] and card["title"].startswith("【督办催办】")


def test_dingtalk_finds_the_userid_by_mobile_and_an_unknown_number_is_permanent(provider):
    provider.ding_users_by_mobile["13800591002"] = "fz-mz-chen"
    app = ding(provider)
    app.send(MSG, "13800591002", Context())
    assert provider.ding_delivered[-1]["userid"] == "fz-mz-chen"
    with pytest.raises(ProviderError) as info:
        app.send(MSG, "13900000000", Context())
    assert info.value.permanent and info.value.code == "60121"


def test_dingtalk_wrong_secret_and_busy_answers(provider):
    with pytest.raises(ProviderError) as info:
        DingTalkApp("dingkey", "wrong", 4242, api=provider.url).send(MSG, "u", Context())
    assert info.value.permanent and info.value.code == "40089"
    provider.script["ding-send"].append((200, {"errcode": -1, "errmsg": "系统繁忙"}))
    with pytest.raises(ProviderError) as info:
        ding(provider).send(MSG, "u", Context())
    assert not info.value.permanent and info.value.code == "-1"
    provider.script["ding-send"].append((502, {}))
    with pytest.raises(ProviderError) as info:
        ding(provider).send(MSG, "u", Context())
    assert not info.value.permanent and info.value.code == "HTTP 502"


def test_wecom_textcard_token_renewal_invalid_user_and_rate_limit_answers(provider):
    provider.wecom_members |= {"zhangsan", "lisi"}
    app = wecom(provider)
    assert app.send(MSG, "zhangsan", Context()).startswith("msg")
    provider.expire_tokens()
    app.send(MSG, "lisi", Context())
    assert provider.token_calls["wecom"] == 2
    body = [r for r in provider.requests if r["path"] == "/cgi-bin/message/send"][-1]["body"]
    assert body["msgtype"] == "textcard" and body["agentid"] == provider.wecom_app[2] and body["touser"] == "lisi"
    assert body["textcard"]["url"] == LINK and len(body["textcard"]["title"].encode()) <= 128
    assert LINK not in body["textcard"]["description"] and "报送工作进展" in body["textcard"]["description"]
    with pytest.raises(ProviderError) as info:
        app.send(MSG, "nobody", Context())
    assert info.value.permanent and info.value.code == "invaliduser"
    for code in (45009, 45033):
        provider.script["wecom-send"].append((200, {"errcode": code, "errmsg": "api freq out of limit"}))
        with pytest.raises(ProviderError) as info:
            app.send(MSG, "zhangsan", Context())
        assert not info.value.permanent and info.value.code == str(code)


def test_wecom_pacing_delays_instead_of_losing_messages(provider):
    """WeCom drops (answering ok) what goes over its per-member limit: the adapter waits."""
    provider.wecom_members.add("zhangsan")
    provider.wecom_limit, provider.wecom_period = 3, 1.0            # the limit, scaled down in time
    unpaced = wecom(provider, pacer=Pacer(1000, 1.0))
    for i in range(5):
        unpaced.send(Message(f"k{i}", "", "x", f"s{i}", "t", "h"), "zhangsan", Context())
    assert len(provider.wecom_dropped) == 2                          # what the platform does without pacing
    time.sleep(1.1)
    provider.wecom_delivered.clear()
    provider.wecom_dropped.clear()
    paced = wecom(provider, pacer=Pacer(3, 1.0))
    started = time.monotonic()
    for i in range(7):
        paced.send(Message(f"p{i}", "", "x", f"s{i}", "t", "h"), "zhangsan", Context())
    took = time.monotonic() - started
    assert len(provider.wecom_delivered) == 7 and provider.wecom_dropped == []
    assert took >= 2.0 and paced.pacer.waited > 1.0                   # 7 sends at 3 a second: two waits


def test_sms_aliyun_variables_cut_to_35_characters_and_codes(provider):
    long_name = "福建省福州市鼓楼区鼓东街道第一社区居民委员会儿童主任办公室联系人甲乙丙丁戊己庚辛"
    msg = Message("digest:supervisor:3:2025-04-28", "", long_name, "【逾期督办】", "x", "h")
    request_id = aliyun(provider).send(msg, "13800591001", Context(items=12, kinds=frozenset({"escalate", "overdue"})))
    sent = provider.sms_delivered[-1]
    assert sent["mobile"] == "13800591001" and sent["out_id"] == msg.key
    assert sent["params"] == {"name": long_name[:34] + "…", "count": "12", "kind": "逾期督办"}
    assert all(len(v) <= 35 for v in sent["params"].values()) and "/biz:" in request_id
    with pytest.raises(ProviderError) as info:
        aliyun(provider).send(msg, "12345", Context(items=1))
    assert info.value.permanent and info.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    provider.script["aliyun"].append((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控",
                                            "RequestId": "R1"}))
    with pytest.raises(ProviderError) as info:
        aliyun(provider).send(msg, "13800591001", Context(items=1))
    assert not info.value.permanent and info.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    with pytest.raises(ProviderError) as info:
        AliyunSms("k", "s", provider.sms_sign, "SMS_WRONG", endpoint=provider.url).send(msg, "13800591001", Context())
    assert info.value.permanent and info.value.code == "isv.SMS_TEMPLATE_ILLEGAL"


def test_sms_tencent_send_status_and_errors(provider):
    msg = Message("digest:supervisor:3:2025-04-28", "", "福州市人民政府督查室", "s", "x", "h")
    request_id = tencent(provider).send(msg, "13800591001", Context(items=3, kinds=frozenset({"escalate"})))
    sent = provider.sms_delivered[-1]
    assert sent["mobile"] == "+8613800591001" and sent["params"] == ["福州市人民政府督查室", "3", "逾期督办"]
    assert sent["session"] == msg.key and "/serial:2433:" in request_id
    with pytest.raises(ProviderError) as info:
        tencent(provider).send(msg, "1380059100", Context())
    assert info.value.permanent and info.value.code == "InvalidParameterValue.IncorrectPhoneNumber"
    provider.script["tencent"].append((200, {"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound",
                                                                    "Message": "密钥不存在"}, "RequestId": "r"}}))
    with pytest.raises(ProviderError) as info:
        tencent(provider).send(msg, "13800591001", Context())
    assert info.value.permanent and info.value.code == "AuthFailure.SecretIdNotFound"
    provider.script["tencent"].append((200, {"Response": {"Error": {"Code": "InternalError.Timeout",
                                                                    "Message": "超时"}, "RequestId": "r"}}))
    with pytest.raises(ProviderError) as info:
        tencent(provider).send(msg, "13800591001", Context())
    assert not info.value.permanent


def test_sms_provider_down_is_unreachable(provider):
    provider.stop()
    with pytest.raises(ProviderError) as info:
        aliyun(provider).send(MSG, "13800591001", Context())
    assert not info.value.permanent
    with pytest.raises(ProviderError) as info:
        tencent(provider).send(MSG, "13800591001", Context())
    assert not info.value.permanent and info.value.unreachable


# ------------------------------------------------------------------ through the outbox

def _digests(engine, kind="contact"):
    with Session(engine) as s:
        return s.scalars(select(Outbox).where(Outbox.recipient_kind == kind).order_by(Outbox.id)).all()


def _set(engine, table: str, rid: int, **values):
    cols = ", ".join(f"{k} = :{k}" for k in values)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {cols} WHERE id = :rid"), {**values, "rid": rid})


def _only(engine, *keep: int):
    """Leave only these digests due (the others wait a year), so a run sends just them."""
    with engine.begin() as conn:
        conn.execute(sa.update(Outbox).where(Outbox.id.not_in(keep))
                     .values(next_attempt_at=NOW + dt.timedelta(days=365)))


def _chans(settings, provider, **apps) -> Channels:
    chans = Channels(settings.data_dir / "outbox", settings.notify.sender)
    adapters = {"dingtalk": ding(provider), "wecom": wecom(provider), "sms": aliyun(provider)}
    chans.apps = Apps(adapters=adapters, **apps)
    return chans


def _row(engine, oid) -> Outbox:
    with Session(engine) as s:
        return s.get(Outbox, oid)


def test_dingtalk_first_then_email_fallback_when_dingtalk_refuses(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a, b = _digests(engine)[:2]
    _only(engine, a.id, b.id)
    provider.ding_users_by_mobile["13800000001"] = "ding-a"
    _set(engine, "contact", a.recipient_id, mobile="13800000001", im_account=None, channels="dingtalk,email")
    _set(engine, "contact", b.recipient_id, mobile="13900000002", im_account=None, channels="dingtalk,email")
    report = deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)
    assert report.sent == 2
    ra, rb = _row(engine, a.id), _row(engine, b.id)
    assert (ra.channel, ra.address, ra.transport) == ("dingtalk", "13800000001", "ding-app")
    assert "/task:" in ra.message_id and [d["userid"] for d in provider.ding_delivered] == ["ding-a"]
    assert (rb.channel, rb.transport) == ("email", "file") and "@" in rb.address    # 60121 → e-mail
    route = json.loads(rb.route)
    assert [h[0] for h in route["hops"]][:2] == ["dingtalk", "email"]
    assert (world.data_dir / "outbox").glob("*.eml")


def test_dingtalk_permanent_error_is_a_dead_letter_with_the_provider_code(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a = _digests(engine)[0]
    _only(engine, a.id)
    _set(engine, "contact", a.recipient_id, email=None, webhook=None, mobile="13900000009", im_account=None,
         channels="dingtalk")
    report = deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)
    r = _row(engine, a.id)
    assert (report.dead, r.status, r.error_code) == (1, "dead", "60121") and "找不到该用户" in r.last_error


def test_dingtalk_same_content_once_a_day_even_when_the_sent_mark_is_lost(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a = _digests(engine)[0]
    _only(engine, a.id)
    _set(engine, "contact", a.recipient_id, im_account="ding-a", channels="dingtalk,email")
    chans = _chans(world, provider)
    deliver(engine, chans, dsettings(), now=NOW, force=True)
    first = _row(engine, a.id)
    assert first.status == "sent" and len(provider.ding_delivered) == 1
    # the worker's sent mark is lost (crash after DingTalk took it): the lease gives the row back
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET status = 'sending', sending_at = :t WHERE id = :id"),
                     {"t": NOW, "id": a.id})
    deliver(engine, _chans(world, provider), dsettings(), now=NOW + dt.timedelta(minutes=11), force=True)
    again = _row(engine, a.id)
    sends = [r for r in provider.requests if r["path"].endswith("asyncsend_v2")]
    assert again.status == "sent" and len(sends) == 1 and provider.ding_dropped == []
    assert again.message_id == first.message_id
    with Session(engine) as s:
        assert s.scalar(select(sa.func.count()).select_from(ChannelSend)) == 1


def test_dingtalk_daily_limit_falls_back_then_waits_for_tomorrow(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a, b, c = _digests(engine)[:3]
    _only(engine, a.id, b.id, c.id)
    for row, uid in ((a, "u-a"), (b, "u-b")):
        _set(engine, "contact", row.recipient_id, im_account=uid, channels="dingtalk,email")
    _set(engine, "contact", c.recipient_id, im_account="u-c", email=None, webhook=None, channels="dingtalk")
    report = deliver(engine, _chans(world, provider, daily_limits={"dingtalk": 1}), dsettings(), now=NOW, force=True)
    rows = [_row(engine, x.id) for x in (a, b, c)]
    assert [r.channel for r in rows[:2]] == ["dingtalk", "email"] and len(provider.ding_delivered) == 1
    assert rows[2].status == "pending" and report.waiting == 1 and rows[2].attempts == 0
    assert rows[2].next_attempt_at.replace(tzinfo=dt.UTC) == dt.datetime(2025, 4, 29, 0, 0, tzinfo=dt.UTC)  # 08:00
    deliver(engine, _chans(world, provider, daily_limits={"dingtalk": 1}), dsettings(),
            now=dt.datetime(2025, 4, 29, 0, 5, tzinfo=dt.UTC), force=True)
    assert _row(engine, c.id).status == "sent" and provider.ding_delivered[-1]["userid"] == "u-c"


def test_dingtalk_outage_then_recovery_loses_nothing(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a, b = _digests(engine)[:2]
    _only(engine, a.id, b.id)
    _set(engine, "contact", a.recipient_id, email=None, webhook=None, im_account="ding-a", channels="dingtalk")
    _set(engine, "contact", b.recipient_id, email=None, webhook=None, im_account="ding-b", channels="dingtalk")
    provider.stop()
    now = NOW
    for run in range(1, 6):      # DingTalk refuses connections for five runs (1 + 2 + 4 + 8 minutes)
        deliver(engine, _chans(world, provider), dsettings(), now=now, force=True)
        ra, rb = _row(engine, a.id), _row(engine, b.id)
        # the first waits for its retry; the one behind it is not tried while DingTalk is down
        assert (ra.status, ra.attempts, ra.error_code) == ("pending", run, "connect")
        assert (rb.status, rb.attempts) == ("pending", 0)
        now = ra.next_attempt_at.replace(tzinfo=dt.UTC)
    provider.start()
    deliver(engine, _chans(world, provider), dsettings(), now=now, force=True)
    ra, rb = _row(engine, a.id), _row(engine, b.id)
    assert (ra.status, ra.channel, ra.error_code) == ("sent", "dingtalk", None) and rb.status == "sent"
    assert sorted(d["userid"] for d in provider.ding_delivered) == ["ding-a", "ding-b"]


def test_wecom_rate_limit_answer_retries_later_with_backoff(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 4, 28))
    a = _digests(engine)[0]
    _only(engine, a.id)
    provider.wecom_members.add("wx-a")
    _set(engine, "contact", a.recipient_id, email=None, webhook=None, im_account="wx-a", channels="wecom")
    provider.script["wecom-send"].append((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)
    r = _row(engine, a.id)
    assert (r.status, r.attempts, r.error_code) == ("pending", 1, "45009")
    assert r.next_attempt_at.replace(tzinfo=dt.UTC) == NOW + dt.timedelta(minutes=1)
    deliver(engine, _chans(world, provider), dsettings(), now=NOW + dt.timedelta(minutes=1), force=True)
    r = _row(engine, a.id)
    assert (r.status, r.channel, r.transport) == ("sent", "wecom", "wecom-app") and r.message_id.startswith("msg")
    assert [d["userid"] for d in provider.wecom_delivered] == ["wx-a"]


def test_sms_only_for_escalations_by_default(world, engine, provider):  # noqa: F811 (the fixture)
    do_sweep(engine, world, D(2025, 6, 30))
    sup = next((r for r in _digests(engine, "supervisor")), None)
    contact = _digests(engine)[0]
    assert sup is not None
    _only(engine, sup.id, contact.id)
    _set(engine, "jurisdiction", sup.recipient_id, supervisor_email=None, supervisor_webhook=None,
         supervisor_mobile="13800591001", supervisor_channels="sms")
    _set(engine, "contact", contact.recipient_id, email=None, webhook=None, im_account=None, mobile="13800591009",
         channels="sms")
    deliver(engine, _chans(world, provider), dsettings(), now=dt.datetime(2025, 6, 30, 2, 0, tzinfo=dt.UTC), force=True)
    s, c = _row(engine, sup.id), _row(engine, contact.id)
    assert (s.status, s.channel, s.transport) == ("sent", "sms", "aliyun") and "/biz:" in s.message_id
    assert [d["mobile"] for d in provider.sms_delivered] == ["13800591001"]
    assert provider.sms_delivered[0]["params"]["kind"] == "逾期督办"
    assert c.status == "dead" and c.error_code == "no-channel"     # a reminder never goes by SMS


def test_dingtalk_quiet_hours_of_the_person_and_own_digest_time(world, engine, provider):  # noqa: F811 (the fixture)
    with engine.begin() as conn:
        cid = conn.execute(sa.text("SELECT id FROM contact ORDER BY id LIMIT 1")).scalar()
    _set(engine, "contact", cid, digest_time="07:30")
    do_sweep(engine, world, D(2025, 4, 28))
    own = [r for r in _digests(engine) if r.recipient_id == cid]
    others = [r for r in _digests(engine) if r.recipient_id != cid]
    if own:
        assert own[0].next_attempt_at.replace(tzinfo=dt.UTC) == dt.datetime(2025, 4, 27, 23, 30, tzinfo=dt.UTC)
    assert others[0].next_attempt_at.replace(tzinfo=dt.UTC) == dt.datetime(2025, 4, 28, 1, 0, tzinfo=dt.UTC)
    a = others[0]
    _only(engine, a.id)
    _set(engine, "contact", a.recipient_id, im_account="ding-q", channels="dingtalk", quiet_hours="09:00-12:00")
    report = deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)    # 10:00 local
    r = _row(engine, a.id)
    assert (r.status, r.attempts, report.waiting) == ("pending", 0, 1) and provider.ding_delivered == []
    assert r.next_attempt_at.replace(tzinfo=dt.UTC) == dt.datetime(2025, 4, 28, 4, 0, tzinfo=dt.UTC)   # 12:00
    deliver(engine, _chans(world, provider), dsettings(), now=dt.datetime(2025, 4, 28, 4, 0, tzinfo=dt.UTC), force=True)
    assert _row(engine, a.id).status == "sent" and provider.ding_delivered[0]["userid"] == "ding-q"


def test_dingtalk_wecom_and_email_deliveries_by_channel_in_the_report(world, engine, provider):  # noqa: F811 (the fixture)
    from reports import render
    from reports.html import render_html
    from reports.service import ReportRequest, report_data

    do_sweep(engine, world, D(2025, 4, 28))
    a, b, c = _digests(engine)[:3]
    _only(engine, a.id, b.id)
    provider.wecom_members.add("wx-b")
    _set(engine, "contact", a.recipient_id, im_account="ding-a", channels="dingtalk")
    _set(engine, "contact", b.recipient_id, im_account="wx-b", channels="wecom")
    deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)
    data = report_data(engine, world, ReportRequest(D(2025, 4, 1), D(2025, 4, 30), D(2025, 4, 30)))
    by = {d["channel"]: d for d in data.deliveries}
    assert by["dingtalk"]["sent_digests"] == 1 and by["dingtalk"]["sent"] == _row(engine, a.id).items
    assert by["wecom"]["sent_digests"] == 1 and by["wecom"]["name"] == "企业微信"
    assert by["email"]["sent"] == 0 and by["email"]["waiting"] > 0          # the others wait (not due)
    assert sum(d["notices"] for d in data.deliveries) == data.notices["total"]
    html = render_html(render.document(data))
    assert "各渠道送达情况" in html and "<td>钉钉</td>" in html and "<td>企业微信</td>" in html


def test_dingtalk_preferences_round_trip_through_the_contacts_workbook(project, database_url, tmp_path, capsys):
    """通知渠道, 通知时间 and 免打扰时段 go xlsx → database → xlsx; a bad value is named by row and
    column with nothing written; a workbook without the three columns leaves them alone."""
    from openpyxl import load_workbook

    from flows.cli import main
    from storage.contacts import HEADERS, SHEET
    from storage.db import make_engine
    from storage.tables import Contact, Jurisdiction
    from tests.test_locality import _sheet_rows

    assert main(["plans", "load", "--all"]) == 0
    first, second = tmp_path / "1.xlsx", tmp_path / "2.xlsx"
    assert main(["contacts", "export", str(first)]) == 0
    assert list(HEADERS[-3:]) == ["通知渠道", "通知时间", "免打扰时段"]
    rows = _sheet_rows(first)
    # the demo directory's own preferences come out in the workbook's words
    mz = next(i for i, r in enumerate(rows, start=1) if r[0] == "350100" and r[2] == "民政局")
    assert rows[mz - 1][7:10] == ("fz-mz-chen", "否", "钉钉、邮件")
    edu = next(i for i, r in enumerate(rows, start=1) if r[0] == "350102" and r[2] == "教育局")
    sup = next(i for i, r in enumerate(rows, start=1) if r[0] == "350102" and r[8] == "是")
    book = load_workbook(first)
    ws = book[SHEET]
    ws[f"H{edu}"], ws[f"J{edu}"], ws[f"K{edu}"], ws[f"L{edu}"] = "gl-jy-wu", "企业微信，短信、邮件", "8:30", "22:00-07:00"
    ws[f"J{sup}"], ws[f"L{sup}"] = "短信、钉钉", "12:00~13:30"
    book.save(first)
    assert main(["contacts", "import", str(first)]) == 0
    engine = make_engine(database_url)
    with Session(engine) as s:
        c = s.scalars(select(Contact).join(Jurisdiction, Jurisdiction.id == Contact.jurisdiction_id)
                      .where(Jurisdiction.code == "350102", Contact.department_key == "education")).one()
        assert (c.channels, c.digest_time, c.quiet_hours, c.im_account) == ("wecom,sms,email", "08:30",
                                                                            "22:00-07:00", "gl-jy-wu")
        u = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "350102")).one()
        assert (u.supervisor_channels, u.supervisor_quiet_hours) == ("sms,dingtalk", "12:00-13:30")
    assert main(["contacts", "export", str(second)]) == 0
    again = _sheet_rows(second)
    assert again[edu - 1][9:12] == ("企业微信、短信、邮件", "08:30", "22:00-07:00")
    assert main(["contacts", "import", str(second)]) == 0
    capsys.readouterr()
    assert main(["contacts", "import", str(second)]) == 0
    assert "新增 0、修改 0、删除 0，督查联系人更新 0" in capsys.readouterr().out
    # bad values: named, nothing written
    book = load_workbook(second)
    ws = book[SHEET]
    ws[f"J{edu}"], ws[f"K{edu}"], ws[f"L{sup}"] = "飞书", "25:00", "9点以后"
    book.save(second)
    capsys.readouterr()
    assert main(["contacts", "import", str(second)]) == 1
    err = capsys.readouterr().err
    assert f"通讯录!{edu}: 通知渠道: 不认识的通知渠道 '飞书'" in err and f"通讯录!{edu}: 通知时间: '25:00' 不是时间" in err
    assert f"通讯录!{sup}: 免打扰时段: '9点以后' 不是时段" in err
    # an older workbook (no preference columns) imports and keeps the preferences
    book = load_workbook(first)
    ws = book[SHEET]
    ws.delete_cols(10, 3)
    ws[f"D{edu}"] = "吴老师"
    book.save(first)
    assert main(["contacts", "import", str(first)]) == 0
    with Session(engine) as s:
        c = s.get(Contact, c.id)
        assert (c.person, c.channels, c.quiet_hours) == ("吴老师", "wecom,sms,email", "22:00-07:00")
    engine.dispose()


def test_dingtalk_deliveries_by_channel_on_the_dashboard(world, engine, provider, personas):  # noqa: F811 (the fixture)
    from web.app import create_app

    do_sweep(engine, world, D(2025, 4, 28))
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE contact SET im_account = 'xh-' || id, channels = 'dingtalk,email' WHERE jurisdiction_id IN "
            "(SELECT id FROM jurisdiction WHERE path LIKE (SELECT path FROM jurisdiction WHERE name = '新华区') || '%')"))
    report = deliver(engine, _chans(world, provider), dsettings(), now=NOW, force=True)
    assert report.sent > 0 and provider.ding_delivered
    app = create_app(world, engine, today=lambda: D(2025, 4, 30))
    page = personas.coordinator.client(app).get("/dashboard", params={"period": "2025Q2"})
    assert page.status_code == 200 and "通知送达情况（按渠道）" in page.text
    # 新华区's departments took DingTalk; their escalations went to the supervisors by e-mail
    assert "<td>钉钉</td>" in page.text and "<td>邮件</td>" in page.text


def test_dingtalk_wecom_sms_ids_and_channels_in_the_directory_file():
    from pathlib import Path

    from obligations.directory import DirectoryError, dump_directory, parse_directory

    text = Path("plans/directory.yaml").read_text(encoding="utf-8")
    directory = parse_directory(text, "directory.yaml")
    fz = next(u for u in directory.units() if u.code == "350100")
    mz = next(c for c in fz.contacts if c.department_key == "civil_affairs")
    assert (mz.im_account, mz.mobile, mz.channels) == ("fz-mz-chen", "13800591002", "dingtalk,email")
    assert (fz.supervisor_mobile, fz.supervisor_channels) == ("13800591001", "dingtalk,sms,email")
    again = parse_directory(dump_directory(directory.doc), "directory.yaml")     # a dump reads back the same
    assert next(u for u in again.units() if u.code == "350100") == fz
    bad = text.replace("channels: [钉钉, 邮件]", "channels: [飞书]", 1)
    with pytest.raises(DirectoryError) as info:
        parse_directory(bad, "directory.yaml")
    assert "contacts.civil_affairs.channels" in str(info.value) and "不认识的通知渠道 '飞书'" in str(info.value)


def test_sms_only_supervisor_still_receives_escalations(plans_loaded, engine):
    """A supervisor reachable only by mobile (or DingTalk/WeCom id) is a supervisor for escalations."""
    from notifications.sweep import update_escalation_routes
    from storage.tables import Jurisdiction

    with Session(engine) as s, s.begin():
        gl = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "350102")).one()
        gl.supervisor_email, gl.supervisor_webhook, gl.supervisor_mobile = None, None, "13800591101"
    with Session(engine) as s, s.begin():
        update_escalation_routes(s)
    with Session(engine) as s:
        gl = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "350102")).one()
        town = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "350102001")).one()
        assert town.escalate_to_id == gl.id and gl.escalate_to_id == gl.id


def test_sms_by_default_for_red_escalations_and_returned_items_only():
    from notifications.routing import Apps, Person, plan_route

    apps = Apps(adapters={"sms": object()})
    person = Person(email=None, webhook=None, im_account=None, mobile="13800591009", channels="sms", quiet_hours=None)
    assert plan_route(person, {"return"}, apps) == [["sms", "13800591009"]]
    assert plan_route(person, {"escalate", "remind"}, apps) == [["sms", "13800591009"]]
    assert plan_route(person, {"remind", "overdue", "urge"}, apps) == []
