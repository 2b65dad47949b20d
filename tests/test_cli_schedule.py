"""The scheduling commands end to end through the CLI: a coordinator's day."""
import datetime as dt
import json

import yaml

from flows.cli import main
from tests.test_schedule import write_ledger


def run(capsys, *args):
    code = main(list(args))
    c = capsys.readouterr()
    return code, c.out, c.err


FIELDS = {"id", "plan", "clause", "obligation", "assignee", "jurisdiction", "period_start", "period_end", "due",
          "required", "done", "status"}


def test_coordinator_journey(project, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    assert run(capsys, "plans", "load", "--all")[0] == 0
    ledger = write_ledger(tmp_path / "ledger.xlsx", [
        ["FJ-0101", "鼓东街道", "鼓东街道第一社区", "监护缺失", "王主任", dt.date(2025, 2, 10), None, None]])
    code, out, _ = run(capsys, "cases", "import", str(ledger))
    assert code == 0 and "新增 1 人" in out
    code, out, _ = run(capsys, "materialize", "--until", "2025-12-31", "--today", "2025-01-01")
    assert code == 0 and "新增" in out
    code, out, _ = run(capsys, "materialize", "--until", "2025-12-31", "--today", "2025-01-01", "--format", "json")
    assert json.loads(out)["occurrences_added"] == 0

    # the 教育局 co-responsible department looks at what is due within a week of 2025-04-25
    code, out, _ = run(capsys, "due", "--department", "education", "--within", "7d", "--today", "2025-04-25",
                       "--format", "json", "--limit", "0")
    rows = json.loads(out)
    assert rows and FIELDS <= set(rows[0]) and {r["assignee"] for r in rows} == {"education"}
    assert all("2025-04-25" <= r["due"] <= "2025-05-02" for r in rows)
    target = rows[0]
    # recorded on the day of the work (a completion recorded long after would be flagged 补登待核)
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {})["as_of"] = "2025-04-28"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    code, out, _ = run(capsys, "complete", str(target["id"]), "--count", "1", "--note", "已更新信息",
                       "--by", "鼓楼区教育局", "--on", "2025-04-28")
    assert code == 0 and "状态：待审核" in out and f"duban review accept {target['id']}" in out
    # the 民政局 coordinator reviews it: in the queue, accepted, 按期办结 by the day it was recorded
    code, out, _ = run(capsys, "review", "list", "--jurisdiction", "福州市", "--format", "json")
    assert [r["id"] for r in json.loads(out)] == [target["id"]]
    code, out, _ = run(capsys, "review", "accept", str(target["id"]), "--by", "福州市民政局")
    assert code == 0 and "状态：按期办结" in out
    code, out, _ = run(capsys, "occurrences", "show", str(target["id"]), "--format", "json")
    detail = json.loads(out)
    assert detail["completions"][0]["note"] == "已更新信息" and detail["completions"][0]["channel"] == "cli"

    # the 民政局 lead checks overdue items in 福州市 and below
    code, out, _ = run(capsys, "overdue", "--jurisdiction", "福州市", "--today", "2025-05-10", "--format", "json",
                       "--limit", "0")
    overdue = json.loads(out)
    assert overdue and {r["status"] for r in overdue} == {"overdue"}
    assert target["id"] not in {r["id"] for r in overdue}
    code, out, _ = run(capsys, "occurrences", "list", "--case", "FJ-0101", "--format", "json", "--limit", "0")
    case_rows = json.loads(out)
    assert case_rows and {r["assignee"] for r in case_rows} == {"children_director"}
    assert min(r["period_start"] for r in case_rows) > "2025-02-10"

    code, out, _ = run(capsys, "status", "--plan", "fujian-2025", "--period", "2025H1", "--today", "2025-07-15",
                       "--format", "json")
    summary = {r["department"]: r for r in json.loads(out)}
    assert summary["education"]["done"] >= 1 and summary["education"]["on_time_rate"] > 0
    code, out, _ = run(capsys, "status", "--plan", "fujian-2025", "--period", "2025H1", "--today", "2025-07-15")
    assert code == 0 and "按期率" in out and "教育部门" in out

    code, out, _ = run(capsys, "overdue", "--today", "2025-05-10", "--limit", "3")
    assert code == 0 and "逾期未办" in out and "仅显示前 3 项" in out
    code, out, _ = run(capsys, "cases", "export", str(tmp_path / "out.xlsx"))
    assert code == 0 and "已导出 1 人" in out


def test_scheduling_errors(project, capsys, tmp_path):
    run(capsys, "plans", "load", "--all")
    code, _, err = run(capsys, "complete", "999999", "--count", "1")
    assert code == 1 and "没有编号为 999999 的督办事项" in err
    code, _, err = run(capsys, "status", "--period", "2025H3")
    assert code == 1 and "无法识别的期间" in err
    code, _, err = run(capsys, "overdue", "--jurisdiction", "火星市")
    assert code == 1 and "没有名为 火星市 的行政区划" in err
    code, _, err = run(capsys, "materialize", "--until", "someday")
    assert code == 2 and "不是日期" in err
    bad = write_ledger(tmp_path / "bad.xlsx", [["X", "鼓东街道", None, "流浪", None, "2025-01-01", None, None]])
    code, _, err = run(capsys, "cases", "import", str(bad))
    assert code == 1 and "台账有误，未导入任何内容（1 处错误）" in err and "台账!2: 编号:" in err
    code, _, err = run(capsys, "cases", "import", str(tmp_path / "none.xlsx"))
    assert code == 1 and "文件不存在" in err


def test_db_check_finds_a_dangling_reference(project, capsys):
    """occurrence and notice carry no foreign keys; `duban db check` finds what a hand edit broke."""
    import os

    import sqlalchemy as sa

    from storage.db import make_engine

    assert run(capsys, "plans", "load", "--all")[0] == 0
    assert run(capsys, "materialize", "--until", "2025-03-31", "--today", "2025-01-01")[0] == 0
    code, out, _ = run(capsys, "db", "check")
    assert code == 0 and "数据完整" in out
    eng = make_engine(os.environ["DUBAN_DATABASE_URL"])
    with eng.begin() as c:
        victim = c.execute(sa.text("SELECT min(id) FROM occurrence")).scalar()
        c.execute(sa.text("UPDATE occurrence SET jurisdiction_id = 987654 WHERE id = :id"), {"id": victim})
    eng.dispose()
    code, out, _ = run(capsys, "db", "check", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert doc["dangling"] == [{"table": "occurrence", "column": "jurisdiction_id", "target": "jurisdiction",
                                "rows": 1, "examples": [victim]}]
    code, out, _ = run(capsys, "db", "check")
    assert code == 1 and "督办事项 → 单位" in out


def test_evidence_files_of_the_same_name_are_all_kept_and_a_refused_one_is_not(project, capsys, tmp_path):
    """Two visits to one item, each with its own photo.jpg: both photos stay (each completion
    points at its own copy); a completion refused because the item is done keeps no copy."""
    from storage.files import load_settings

    run(capsys, "plans", "load", "--all")
    run(capsys, "materialize", "--until", "2025-03-31", "--today", "2025-01-01")
    code, out, _ = run(capsys, "occurrences", "list", "--plan", "pingdingshan-2025", "--format", "json", "--limit", "0")
    item = next(r for r in json.loads(out) if r["required"] == 6)
    photos = []
    for i, count in enumerate((5, 1, 1)):
        photo = tmp_path / f"visit{i}" / "photo.jpg"
        photo.parent.mkdir()
        photo.write_bytes(b"\xff\xd8\xff" + f"visit {i}".encode())
        photos.append(photo)
        code, _, err = run(capsys, "complete", str(item["id"]), "--count", str(count), "--evidence", str(photo),
                           "--on", "2025-03-20")
        assert code == (0 if i < 2 else 1), err
    assert "未重复登记" in err
    evidence = load_settings().evidence_dir / str(item["id"])
    kept = sorted(p.read_bytes() for p in evidence.iterdir())
    assert kept == sorted(p.read_bytes() for p in photos[:2])
    code, out, _ = run(capsys, "occurrences", "show", str(item["id"]), "--format", "json")
    paths = [c["evidence"] for c in json.loads(out)["completions"]]
    assert len(paths) == 2 and len(set(paths)) == 2 and all(p.endswith("-photo.jpg") for p in paths)
