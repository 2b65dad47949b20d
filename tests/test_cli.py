"""The `duban` command: Chinese output, --format json for scripts, errors on stderr with exit codes."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from flows.cli import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_good_and_bad(project, capsys):
    code, out, err = run(capsys, "plans", "validate", str(project / "plans" / "fujian-2025"))
    assert code == 0 and "校验通过" in out and "34 个条款" in out and err == ""
    bad = project / "bad.yaml"
    text = (project / "plans" / "fujian-2025" / "catalog.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("{name: 省教育厅, key: education, role: co}", "{name: 省魔法部, role: co}", 1)
                       .replace("months: [4, 10]", "months: [4, 14]"), encoding="utf-8")
    code, out, err = run(capsys, "plans", "validate", str(bad))
    assert code == 1 and out == ""
    assert "计划目录校验失败，未加载任何内容（2 处错误）" in err
    assert f"{bad}:26: clauses[0].departments[1].name: 部门名称 '省魔法部' 不在部门目录中" in err
    assert f"{bad}:40: clauses[0].obligations[0].cadence.months: 月份必须在 1–12 之间，发现 [14]" in err
    assert "Traceback" not in err


def test_load_list_show_export(project, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    code, out, _ = run(capsys, "plans", "load", "--all")
    assert code == 0 and "fujian-2025：新加载" in out and "行政区划 新增 191" in out
    code, out, _ = run(capsys, "plans", "load", "--all")
    assert code == 0 and out.count("无变化") == 4
    code, out, _ = run(capsys, "plans", "list", "--format", "json")
    plans = json.loads(out)
    assert [p["id"] for p in plans] == ["fujian-2025", "guangdong-2024", "pingdingshan-2025"]
    assert plans[0]["clauses"] == 34 and plans[0]["obligations_stated"] == 8
    code, out, _ = run(capsys, "plans", "show", "guangdong-2024")
    assert code == 0 and "广东省加强流动儿童关爱保护实施方案" in out and "2024-11-30" in out
    code, out, _ = run(capsys, "plans", "export", "fujian-2025", "--format", "json")
    doc = json.loads(out)
    assert doc["plan"]["id"] == "fujian-2025" and doc["plan"]["issued"] == "2025-01-09"
    first = doc["clauses"][0]
    assert first["section"] == "一、开展监测摸排建立信息台账" and first["lines"] == [35, 35]
    assert first["departments"][0] == {"name": "省民政厅", "key": "civil_affairs", "role": "lead"}
    assert first["obligations"][0]["cadence"]["months"] == [4, 10]
    code, out, _ = run(capsys, "plans", "export", "fujian-2025", "--format", "yaml")
    assert code == 0 and out.startswith("plan:\n  id: fujian-2025")


def test_listings_and_filters(project, capsys):
    run(capsys, "plans", "load", "--all")
    code, out, _ = run(capsys, "obligations", "list", "--origin", "stated", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 13 and {r["origin"] for r in rows} == {"stated"}
    assert {"plan", "clause", "obligation", "what", "who", "scope", "kind", "origin", "text"} <= set(rows[0])
    code, out, _ = run(capsys, "obligations", "list", "--plan", "pingdingshan-2025", "--department", "children_director")
    assert code == 0 and "list-20.1" in out and "每季度 6 次" in out and "儿童主任" in out
    code, out, _ = run(capsys, "departments", "list", "--format", "json")
    assert {d["key"] for d in json.loads(out)} >= {"civil_affairs", "education", "children_director"}
    code, out, _ = run(capsys, "departments", "list")
    assert code == 0 and "卫生健康部门" in out
    code, out, _ = run(capsys, "jurisdictions", "list", "--level", "city", "--format", "json")
    assert len([j for j in json.loads(out) if j["path"].startswith("350000/")]) == 10


def test_error_exit_codes(project, capsys):
    code, out, err = run(capsys, "plans", "export", "nope")
    assert code == 1 and "没有编号为 nope 的已加载计划" in err and out == ""
    code, _, err = run(capsys, "plans", "load", "nope")
    assert code == 1 and "没有名为 nope 的计划" in err
    code, _, err = run(capsys, "plans", "load")
    assert code == 2 and "--all" in err
    code, _, err = run(capsys, "obligations", "list", "--origin", "sometimes")
    assert code == 2
    code, _, err = run(capsys, "obligations", "list", "--department", "magic")
    assert code == 2 and "没有名为 magic 的部门" in err
    code, _, err = run(capsys, "plans", "validate", str(project / "missing.yaml"))
    assert code == 1 and "missing.yaml:1: (file): 目录文件不存在" in err
    (project / "config.yaml").write_text("database: [unclosed\n", encoding="utf-8")
    code, _, err = run(capsys, "plans", "list")
    assert code == 1 and "config.yaml:2: (YAML): YAML 语法错误" in err


@pytest.mark.slow         # three interpreter starts
def test_console_script_runs_without_traceback(project):
    exe = shutil.which("duban", path=os.path.dirname(sys.executable)) or shutil.which("duban")
    assert exe, "the duban console script is installed with the package"
    ok = subprocess.run([exe, "plans", "load", "fujian-2025"], capture_output=True, text=True, env=os.environ)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([exe, "plans", "show", "nope"], capture_output=True, text=True, env=os.environ)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "nope" in bad.stderr
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, env=os.environ)
    assert helptext.returncode == 0 and "plans" in helptext.stdout and "督办" in helptext.stdout


def test_db_upgrade_fresh_current_and_old(project, capsys):
    """Commands check the schema and stop on an old one, naming `duban db upgrade`; only
    `db upgrade` (and `up`, `demo`) migrate."""
    from storage.db import current_revision, head_revision, make_engine, migrate

    head = head_revision()
    code, out, err = run(capsys, "db", "upgrade")
    assert code == 0 and out.strip() == f"数据库已升级：空数据库 → {head}", err
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and out.strip() == f"数据库已是最新版本（{head}）"

    engine = make_engine(os.environ["DUBAN_DATABASE_URL"])   # as if made by the duban of migration 0007
    migrate(engine, "base", down=True)
    migrate(engine, "0007")
    code, out, err = run(capsys, "plans", "list")
    assert code == 1 and out == ""
    assert f"数据库结构版本为 0007，本版本的 duban 需要 {head}" in err and "duban db upgrade" in err
    assert current_revision(engine) == "0007"          # the refused command changed nothing
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and out.strip() == f"数据库已升级：0007 → {head}"
    assert current_revision(engine) == head
    engine.dispose()
    code, out, _ = run(capsys, "plans", "list")
    assert code == 0 and "尚未加载任何计划" in out


def test_a_new_empty_database_gets_the_schema_without_upgrade(project, capsys):
    code, out, err = run(capsys, "plans", "load", "fujian-2025")
    assert code == 0 and "fujian-2025：新加载" in out, err


def test_listing_helper_table_json_empty_and_groups(capsys):
    from rich.console import Console

    from flows.cli.output import ListFormat, col, print_listing

    rows = [{"plan": "a", "n": 1, "x": None}, {"plan": "b", "n": 2, "x": "y"}, {"plan": "a", "n": 3, "x": "z"}]
    columns = [col("编号", "n"), col("说明", lambda r: r["x"] or "—")]
    console = Console(record=True, width=80, file=open(os.devnull, "w"))
    print_listing(console, ListFormat.json, rows, columns, title="t")
    assert json.loads(capsys.readouterr().out) == rows
    print_listing(console, "json", rows, columns, json_value={"ok": True})
    assert json.loads(capsys.readouterr().out) == {"ok": True}
    print_listing(console, ListFormat.table, [], columns, header="头", empty="空的", footer="尾")
    assert console.export_text() == "头\n空的\n"
    print_listing(console, ListFormat.table, rows, columns, group_by=lambda r: r["plan"],
                  title=lambda key, items: f"计划 {key}：{len(items)} 项", footer="共 3 项")
    text = console.export_text()
    assert text.index("计划 a：2 项") < text.index("计划 b：1 项") < text.index("共 3 项")
    assert "编号" in text and "—" in text and "z" in text
