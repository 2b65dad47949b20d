"""The newcomer's journey for a locality the repository has no plan for, in an empty folder, as
typed: init → contacts → extract --add → load → materialize → sweep → deliver → report. The plan
is Pingdingshan's text rewritten for 洛阳市 (other unit names), clean and as a damaged OCR-like
copy."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from flows.cli import main
from storage.contacts import SHEET
from tests.test_extract_draft import damage
from tests.test_extract_shapes import PLAN, table_variant

ROOT = Path(__file__).resolve().parents[1]


def rewritten() -> str:
    """Pingdingshan's plan as 洛阳市 would issue it: its name, its counties, a body it names its own
    way, and its checklist laid out differently (the responsibility column among the others,
    the header repeated after a page break)."""
    text = table_variant()
    for a, b in (("平顶山市", "洛阳市"), ("平顶山", "洛阳"), ("新华区", "西工区"), ("卫东区", "老城区"), ("湛河区", "涧西区"),
                 ("市统计局", "市数据和统计中心")):       # a body this city names its own way
        text = text.replace(a, b)
    return text


assert PLAN == "pingdingshan-2025"


@pytest.mark.parametrize("copy", ["clean", "damaged"])
def test_a_new_city_from_an_empty_folder_to_its_report(copy, tmp_path, database_url, monkeypatch, capsys):
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)      # a database of its own (SQLite or PostgreSQL)
    text = rewritten() if copy == "clean" else damage(rewritten(), 3)
    plan_text = tmp_path / "方案.txt"
    plan_text.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert main(["init", "洛阳市", "--locality", "洛阳市"]) == 0
    folder = tmp_path / "洛阳市"
    monkeypatch.chdir(folder)
    # contacts: the city's and the counties' 民政局 and 教育局, the city's supervisor
    book = load_workbook("通讯录.xlsx")
    ws = book[SHEET]
    filled = 0
    for row in ws.iter_rows(min_row=2):
        code, dept, flag = row[0].value, row[2].value, row[8].value
        if dept in ("民政局", "教育局") or (flag == "是" and code == "410300"):
            row[3].value, row[6].value = "联系人", f"c{filled}@luoyang.example.org"
            filled += 1
    book.save("通讯录.xlsx")
    capsys.readouterr()
    assert main(["contacts", "import", "通讯录.xlsx"]) == 0, capsys.readouterr().err

    assert main(["plans", "extract", str(plan_text), "--add"]) == 0, capsys.readouterr().err   # as typed: no --id
    out = capsys.readouterr().out
    pid = re.search(r"plans/(luoyang-\d{4})/catalog.yaml", out)[1]     # the locality's pinyin and the year
    assert (folder / f"plans/{pid}/source.txt").read_bytes() == plan_text.read_bytes()
    assert yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))["plans"] == [f"plans/{pid}"]
    draft = yaml.safe_load((folder / f"plans/{pid}/catalog.yaml").read_text(encoding="utf-8"))
    assert draft["plan"]["locality"] == "洛阳市" and len(draft["clauses"]) >= 40
    # the body the directory does not know is proposed as a department and added to the directory
    assert "数据和统计中心" in out and "已作为新部门加入" in out
    directory = yaml.safe_load((folder / "plans/directory.yaml").read_text(encoding="utf-8"))
    added = [d for d in directory["departments"] if "数据和统计中心" in d["name"]]
    assert len(added) == 1 and added[0].get("review")
    assert any(d["key"] == added[0]["key"] for c in draft["clauses"] for d in c["departments"])

    assert main(["plans", "load", "--all"]) == 0, capsys.readouterr().err
    assert main(["materialize", "--until", "2025-12-31", "--today", "2025-01-01"]) == 0
    out = capsys.readouterr().out
    done = re.search(pid + r"：(\d+)/(\d+) 项义务已有事项", out)
    assert done, out
    with_items, total = int(done[1]), int(done[2])
    assert total >= 40 and with_items / total >= 0.9, out
    assert "洛阳市下没有村（社区）单位：行政区划数据只到乡镇（街道）" in out      # the one that owes nothing, and why

    assert main(["sweep", "--today", "2025-04-28"]) == 0
    assert main(["deliver", "--force"]) == 0
    sent = list((folder / "var/outbox").glob("*.eml"))
    assert sent, capsys.readouterr().out
    assert main(["report", "--period", "2025H1", "--today", "2025-07-10", "--format", "json", "-o", "r.json"]) == 0
    report = json.loads((folder / "r.json").read_text(encoding="utf-8"))
    assert report["totals"]["total"] > 0 and report["jurisdiction"] in (None, "洛阳市")
