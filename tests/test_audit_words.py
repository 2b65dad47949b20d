"""The audit trail in words (storage.audit.audit_sentence): every action kind of audit.ACTIONS
as a Chinese sentence with before → after, never raw JSON, English keys, codes or server paths."""
import re

import pytest

from storage import audit

NAMES = {"people": {"mz": "新华区民政局", "zs": "新华区 张三"},
         "items": {"24": "新华区 教育部门「平顶山市实施方案」第3条 2025年第2季度"},
         "accounts": {"7": "新华区教育局（jy）", "1": "新华区民政局（mz）"}, "logins": {"7": "jy", "1": "mz"},
         "departments": {"education": "教育部门"}, "plans": {"pds-2025": "平顶山市加强流动儿童关爱保护工作实施方案"}}
ITEM = "新华区 教育部门「平顶山市实施方案」第3条 2025年第2季度"
STATE = {"done": 0, "required": 1, "completed_on": None, "due": "2025-06-30", "original_due": None, "waived": False,
         "submitted": False}
DONE = {**STATE, "done": 1, "completed_on": "2025-06-10"}


def item(action, actor="mz", before=None, after=None):
    return {"action": action, "actor": actor, "object_type": "occurrence", "object_id": "24",
            "before": before, "after": after}


def user(action, actor="mz", before=None, after=None, oid="7"):
    return {"action": action, "actor": actor, "object_type": "user", "object_id": oid, "before": before, "after": after}


# one entry per action kind, as the code that writes it records it, and the sentence expected
CASES = {
    "complete": (item("complete", "zs", STATE, {**DONE, "count": 1, "done_on": "2025-06-10", "judged_on": "2025-06-10",
                                                "flagged": False, "note": "已走访", "evidence": "2025/06/x.jpg",
                                                "channel": "web"}),
                 f"新华区 张三（网页）将 {ITEM} 登记为已办结（办理日期 2025-06-10；进度 0/1 → 1/1；附证明材料；备注：已走访）"),
    "link.use": (item("link.use", "通知链接：李四", STATE, {**DONE, "submitted": True, "count": 1, "done_on": "2025-06-01",
                                                          "judged_on": "2025-06-09", "flagged": True, "note": "",
                                                          "evidence": None, "channel": "email"}),
                 f"李四（通知链接）将 {ITEM} 登记为已办结，待审核（办理日期 2025-06-01；按登记日期 2025-06-09 判定；补登待核；进度 0/1 → 1/1）"),
    "waive": (item("waive", before=STATE, after={**STATE, "waived": True, "reason": "对象已迁出"}),
              f"新华区民政局豁免了 {ITEM}（理由：对象已迁出）"),
    "extend": (item("extend", before=STATE, after={**STATE, "due": "2025-07-15", "reason": "汛期"}),
               f"新华区民政局将 {ITEM} 的截止日期由 2025-06-30 延至 2025-07-15（理由：汛期）"),
    "request": (item("request", "zs", after={"request": 3, "kind": "extend", "reason": "人手不足", "new_due": "2025-07-31"}),
                f"新华区 张三就 {ITEM} 申请延期至 2025-07-31（理由：人手不足）"),
    "approve": (item("approve", before=STATE, after={**STATE, "due": "2025-07-31", "original_due": "2025-06-30",
                                                      "request": 3, "kind": "extend", "note": "同意"}),
                f"新华区民政局批准了 {ITEM} 的延期申请（截止日期 2025-06-30 → 2025-07-31）（意见：同意）"),
    "reject": (item("reject", before=STATE, after={**STATE, "request": 4, "kind": "waive", "note": "理由不足"}),
               f"新华区民政局驳回了 {ITEM} 的豁免申请（意见：理由不足）"),
    "accept": (item("accept", before={**DONE, "submitted": True}, after={**DONE, "submitted": False, "note": "",
                                                                          "channel": "web"}),
               f"新华区民政局（网页）审核通过了 {ITEM} 的办结登记（待审核 → 已办结，办结日期 2025-06-10）"),
    "return": (item("return", before={**DONE, "submitted": True}, after={**STATE, "completion": 9, "reason": "照片不清",
                                                                          "channel": "web"}),
               f"新华区民政局（网页）将 {ITEM} 退回重办（进度 1/1 → 0/1）（理由：照片不清）"),
    "urge": (item("urge", after={"stage": "urge-2", "note": "请本周内办结", "outbox": 5, "send_at": "2025-06-11T09:00",
                                 "channel": "web"}),
             f"新华区民政局（网页）催办了 {ITEM}（协调员催办，第2次）（说明：请本周内办结）"),
    "task.assign": ({"action": "task.assign", "actor": "mz", "object_type": "plan", "object_id": "task-2025-3",
                     "before": None, "after": {"title": "排查防溺水隐患", "source": "x", "unit": "新华区", "level": "village",
                                               "departments": ["education", "civil_affairs"], "due": "2025-06-20",
                                               "count": 1, "evidence": True, "units": 12, "items": 24,
                                               "channel": "web"}},
                    "新华区民政局（网页）交办任务「排查防溺水隐患」给 新华区 及所辖地区的 2 个部门，截止日期 2025-06-20，共 24 项，须附证明材料"),
    "user.add": (user("user.add", "cli", after={"username": "jy", "role": "department", "jurisdiction": "新华区",
                                                 "department": "education", "director": None}),
                 "管理员（命令行）新增账号 jy（责任部门，新华区、教育部门）"),
    "user.update": (user("user.update", before={"display_name": "教育局", "phone": None},
                         after={"display_name": "新华区教育局", "phone": "0375-1234567"}),
                    "新华区民政局修改了账号 新华区教育局（jy）（姓名 教育局 → 新华区教育局；电话 无 → 0375-1234567）"),
    "user.disable": (user("user.disable", before={"active": True},
                          after={"active": False, "sessions_ended": 2, "tokens_revoked": 1}),
                     "新华区民政局停用了账号 新华区教育局（jy）（结束会话 2 个，吊销接口令牌 1 个）"),
    "user.enable": (user("user.enable", before={"active": False}, after={"active": True, "failures_cleared": 3}),
                    "新华区民政局启用了账号 新华区教育局（jy）（并清除了登录失败记录）"),
    "user.password": (user("user.password", "mz", after={"sessions_ended": 1}, oid="1"),
                      "新华区民政局修改了自己的密码（结束会话 1 个）"),
    "user.sign_in": (user("user.sign_in", "mz", after={"client": "10.0.0.8", "session": 4}, oid="1"),
                     "新华区民政局在网页登录（来自 10.0.0.8）"),
    "user.sign_in_failed": (user("user.sign_in_failed", "jy", after={"username": "jy", "client": "10.0.0.9",
                                                                     "reason": "password"}),
                            "账号 新华区教育局（jy） 登录失败：密码错误（来自 10.0.0.9）"),
    "user.sign_out": (user("user.sign_out", "mz", after={"session": 4}, oid="1"), "新华区民政局在网页退出登录"),
    "user.ics": (user("user.ics", after={"ics": "rotated"}), "新华区民政局更换了账号 新华区教育局（jy） 的日历订阅地址（旧地址失效）"),
    "token.add": (user("token.add", "cli", after={"token": 2, "label": "数据对接", "expires": "2027-03-03T12:00:00+00:00"}),
                  "管理员（命令行）为账号 新华区教育局（jy） 新增接口令牌，有效期至 2027-03-03（用途：数据对接）"),
    "token.revoke": (user("token.revoke", after={"token": "all", "revoked": 2}),
                     "新华区民政局吊销了账号 新华区教育局（jy） 的全部接口令牌（2 个）"),
    "catalog.load": ({"action": "catalog.load", "actor": "cli", "object_type": "plan", "object_id": "pds-2025",
                      "before": None, "after": {"plan_id": "pds-2025", "clauses_changed": ["3", "5"],
                                                "obligations_added": ["3.1"]}},
                     "管理员（命令行）加载计划「平顶山市加强流动儿童关爱保护工作实施方案」（修改条款 2 项，新增任务 1 项）"),
    "directory.import": ({"action": "directory.import", "actor": "cli", "object_type": "jurisdiction",
                          "object_id": "410402", "before": None,
                          "after": {"unit": "新华区", "depth": 2, "added": 31, "source": "/srv/duban/data/x.csv"}},
                         "管理员（命令行）导入行政区划：新华区，新增 31 个地区"),
    "contacts.import": ({"action": "contacts.import", "actor": "cli", "object_type": "contacts",
                         "object_id": "contacts.xlsx", "before": None,
                         "after": {"rows": 40, "added": 3, "changed": 2, "removed": 1, "supervisors": 4}},
                        "管理员（命令行）导入通讯录（共 40 行，新增 3，修改 2，删除 1）"),
    "progress": (item("progress", "zs", {"percent": 30, "reported_on": "2025-05-01"},
                      {"report": 2, "percent": 60, "reported_on": "2025-06-01", "done": "完成摸排",
                       "difficulties": "", "next_steps": "建档", "channel": "web"}),
                 f"新华区 张三（网页）反馈了 {ITEM} 的进度：30% → 60%（截至 2025-06-01）（已完成：完成摸排）（下一步：建档）"),
    "confirm": (item("confirm", "zs", after={"department": "education", "note": "已配合", "channel": "web"}),
                f"新华区 张三（网页）确认了 {ITEM} 中教育部门的协办部分（说明：已配合）"),
    "contact.update": ({"action": "contact.update", "actor": "mz", "object_type": "contact.department", "object_id": "12",
                        "before": {"office": "新华区教育局", "mobile": "13800000000"},
                        "after": {"mobile": "13900000000"}},
                       "新华区民政局修改了 新华区教育局 的联系方式（手机 13800000000 → 13900000000）"),
    "contact.add": ({"action": "contact.add", "actor": "mz", "object_type": "contact.department", "object_id": "40",
                     "before": None, "after": {"office": "新华区卫健委", "person": "王五", "mobile": "13900000001"}},
                    "新华区民政局添加了 新华区卫健委 的联系人：联系人 王五，手机 13900000001"),
    "report.issue": ({"action": "report.issue", "actor": "mz", "object_type": "report", "object_id": "3",
                      "before": None, "after": {"text": "督查通报〔2025〕第3期", "scope": "2025-Q2|*|410402|children",
                                                "issued_on": "2025-07-05", "cc": ["市委办", "市政府办"]}},
                     "新华区民政局印发通报 督查通报〔2025〕第3期，印发日期 2025-07-05，抄送 市委办、市政府办"),
}
INTERNAL = re.compile(r"[{}\[\]\"]|\b(done|required|due|submitted|waived|web|email|cli|education|civil_affairs|"
                      r"pds-2025|task-2025|urge-2|2025-Q\d|village|department|password|rotated)\b|/srv|\.csv")


def test_every_action_has_a_case():
    assert set(CASES) >= set(audit.ACTIONS), sorted(set(audit.ACTIONS) - set(CASES))


@pytest.mark.parametrize("action", sorted(CASES))
def test_sentence(action):
    entry, expected = CASES[action]
    text = audit.audit_sentence(entry, NAMES)
    assert text == expected
    assert not INTERNAL.search(text), text


@pytest.mark.parametrize("action", sorted(audit.ACTIONS))
def test_without_names_still_no_codes(action):
    entry = CASES[action][0] if action in CASES else user(action)
    text = audit.audit_sentence(entry, {})
    assert text and not INTERNAL.search(text.replace("mz", "").replace("zs", "")), text


def test_unknown_action_says_what_it_can_and_no_data():
    text = audit.audit_sentence(user("contact.remove", after={"phone": "123", "path": "/srv/x"}), NAMES)
    assert text == "新华区民政局进行了一项操作：新华区教育局（jy）"


def test_time_in_front_and_an_entry_object():
    from storage.tables import AuditEntry
    e = AuditEntry(actor="mz", action="waive", object_type="occurrence", object_id="24", before=STATE,
                   after={**STATE, "waived": True, "reason": "迁出"})
    assert audit.audit_sentence(e, NAMES, at="2025-06-10 14:03") == f"2025-06-10 14:03 新华区民政局豁免了 {ITEM}（理由：迁出）"


def nested(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch in "（("
        if depth > 1:
            return True
        depth -= depth > 0 and ch in "）)"
    return False


def test_no_bracket_inside_a_bracket():
    assert audit.unnest("甲（乙（丙）丁）戊（己）") == "甲（乙，丙，丁）戊（己）"
    assert audit.unnest("（待审核 → 已办结（办结日期 2025-06-10））") == "（待审核 → 已办结，办结日期 2025-06-10）"
    assert audit.unnest("（备注：见(附件)，（（重要）））") == "（备注：见，附件，重要）"
    assert audit.unnest("（备注：未闭合（的括号）") == "（备注：未闭合，的括号）"
    assert audit.unnest("无括号；右括号）多余") == "无括号；右括号）多余"
    typed = item("complete", "zs", STATE, {**DONE, "done_on": "2025-06-10", "note": "已走访（含 3 户（留守））",
                                          "channel": "web"})
    text = audit.audit_sentence(typed, NAMES)
    assert not nested(text) and text.endswith("备注：已走访，含 3 户，留守）"), text
    for action, (entry, _) in CASES.items():
        assert not nested(audit.audit_sentence(entry, NAMES)), action


def test_the_demo_is_named_as_the_demo():
    made = user("user.add", "demo", after={"username": "minzheng", "role": "coordinator", "jurisdiction": "福建省"})
    assert audit.audit_sentence(made, NAMES) == "演示数据新增账号 minzheng（协调员，福建省）"
    done = item("complete", "演示部门", STATE, {**DONE, "done_on": "2025-06-10", "channel": "demo"})
    assert audit.audit_sentence(done, NAMES).startswith(f"演示部门将 {ITEM} 登记为已办结")
    odd = item("complete", "zs", STATE, {**DONE, "done_on": "2025-06-10", "channel": "demo"})
    assert audit.audit_sentence(odd, NAMES).startswith("新华区 张三（演示数据）将 ")
