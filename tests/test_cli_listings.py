"""Listings at real size on the command line: complete unless a limit is asked for, a cut said
so (on stderr for JSON), departments by name or key, plans and clauses as people name them,
今日到期 on the due day."""
import json

from flows.cli import main


def run(capsys, *args):
    code = main(list(args))
    c = capsys.readouterr()
    return code, c.out, c.err


def test_listings_are_complete_unless_limited(year_2025, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(capsys, "overdue", "--today", "2025-05-10", "--format", "json")
    every = json.loads(out)
    assert code == 0 and len(every) > 200 and err == ""   # the old default cut at 200 without a word in JSON
    code, out, err = run(capsys, "overdue", "--today", "2025-05-10", "--format", "json", "--limit", "5")
    assert [r["id"] for r in json.loads(out)] == [r["id"] for r in every[:5]]
    assert f"仅显示前 5 项，共 {len(every)} 项" in err
    code, out, _ = run(capsys, "overdue", "--today", "2025-05-10", "--limit", "5")
    assert f"共 {len(every)} 项" in out and f"仅显示前 5 项，共 {len(every)} 项" in out
    code, out, _ = run(capsys, "overdue", "--today", "2025-05-10", "--limit", str(len(every)))
    assert "仅显示前" not in out


def test_departments_by_name_and_people_s_names_in_the_table(year_2025, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "due", "--department", "health", "--today", "2025-03-25", "--format", "json")
    by_key = json.loads(out)
    code, out, _ = run(capsys, "due", "--department", "卫健委", "--today", "2025-03-25", "--format", "json")
    assert by_key and json.loads(out) == by_key
    code, _, err = run(capsys, "due", "--department", "火星局", "--today", "2025-03-25")
    assert code != 0 and "没有名为 火星局 的部门" in err

    day = by_key[0]["due"]
    code, out, _ = run(capsys, "due", "--department", "卫生健康局", "--today", day)
    assert code == 0 and "今日到期" in out and "剩 0 天" not in out
    assert "fujian-2025" not in out and "guangdong-2024" not in out
    assert "实施方案" in out and ("第" in out)
    code, out, _ = run(capsys, "obligations", "list", "--department", "教育局", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and rows and all("education" in str(r["who"]) for r in rows)


def test_a_department_account_by_the_department_s_name(plans_loaded, capsys):
    code, out, err = run(capsys, "users", "add", "weijian", "--role", "department", "--jurisdiction", "福建省",
                         "--department", "卫健委", "--password", "a-long-Pass-42")
    assert code == 0, err
    code, out, _ = run(capsys, "users", "list", "--format", "json")
    assert {u["username"]: u["department"] for u in json.loads(out)}["weijian"] == "health"
