"""考核评分 end to end: the report command's JSON under config.yaml's rules (hand-counted on the
report slice), the issue's command as typed, the dashboard card and the web's report under the
configured rules, and the document rescored when the rules differ from the data's."""
import dataclasses
import datetime as dt
import json
import re

from sqlmodel import Session

from flows.cli import main
from obligations.config import ScoringConfig
from obligations.scoring import ScoringRules, score_of
from reports import render
from reports.data import build
from tests.test_web import TODAY
from tests.test_web import world as web_world

D = dt.date
world = web_world

# the report slice (tests/conftest.py): 新华区, 2025 Q1, as of 2025-04-10: the villages' visits
# (one party: 2 on time, 1 late, 1 overdue) and the county's quarterly report (another: on time)


def _configure(project, **rules) -> None:
    config = project / "config.yaml"
    text = config.read_text(encoding="utf-8")
    for key, value in rules.items():
        text, n = re.subn(rf"(\n    {key}: )\S+", rf"\g<1>{value}", text)
        assert n == 1, key
    config.write_text(text, encoding="utf-8")


def test_the_report_command_scores_under_the_configured_rules(report_slice, project, tmp_path, capsys):
    _configure(project, late="0.5", overdue="-0.5")
    out = tmp_path / "r.json"
    rc = main(["report", "--period", "2025Q1", "--jurisdiction", "新华区", "--today", "2025-04-10",
               "--format", "json", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    scores = json.loads(out.read_text(encoding="utf-8"))["scores"]
    assert scores["settings"]["late"] == 0.5 and scores["settings"]["overdue"] == -0.5
    assert any("逾期办结的每项得0.5分，逾期未办的每项扣0.5分" in r for r in scores["rules"])
    depts = scores["departments"]
    assert [(r["owed"], r["on_time"], r["late"], r["overdue"], r["score"], r["rank"]) for r in depts] == [
        (1, 1, 0, 0, 100.0, 1),
        (4, 2, 1, 1, 50.0, 2),           # (2 + 0.5 − 0.5) ÷ 4 × 100
    ]
    units = scores["units"]
    assert sum(u["owed"] for u in units) == 5
    for u in units:
        assert u["score"] == score_of([_part(p) for p in u["parts"]], ScoringRules(late=0.5, overdue=-0.5))["score"]
    assert [u["rank"] for u in units if u["rank"]] == sorted(u["rank"] for u in units if u["rank"])


def _part(p):
    from obligations.scoring import Part

    return Part(p["plan"], p["origin"], p["on_time"], p["late"], p["overdue"], p["returned"], p["extended"])


def test_the_issue_command_as_typed_has_scores(year_2025, project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--period", "2025H1", "--today", "2025-07-10", "--format", "json", "-o", "r.json"]) == 0
    back = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    scores = back["scores"]
    assert set(scores) == {"rules", "settings", "departments", "units"}
    assert scores["departments"] and scores["departments"][0]["rank"] == 1
    assert sum(r["overdue"] for r in scores["departments"]) == back["totals"]["overdue"]
    assert sum(r["on_time"] for r in scores["units"]) == back["totals"]["done"]
    ranked = [r["score"] for r in scores["departments"] if r["score"] is not None]
    assert ranked == sorted(ranked, reverse=True)


def test_the_document_is_rescored_when_the_rules_differ(report_slice):
    engine, _ = report_slice
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), jurisdiction="新华区")
    assert render.scored(data, None) is data and render.scored(data, ScoringRules()) is data
    other = ScoringRules(late=0.2)
    doc = render.document(data, render.ReportOptions(scoring=other))
    table = next(t for t in doc.tables() if t.key == "scores")
    assert [r["score"] for r in table.rows] == [100.0, 55.0]            # (2 + 0.2) ÷ 4
    assert "逾期办结的每项得0.2分" in doc.method_text
    assert [r["score"] for r in data.scores["departments"]] == [100.0, 65.0]    # the shared data unchanged


def test_the_dashboard_card_and_the_web_report_use_the_configured_rules(world, personas):
    from web.app import create_app

    app, engine, settings, _ = world
    configured = dataclasses.replace(settings, report=settings.report.model_copy(
        update={"scoring": ScoringConfig(late=0.2, per_return=1)}))
    app = create_app(configured, engine, today=lambda: TODAY)
    mz = personas.coordinator.client(app)
    page = mz.get("/dashboard", params={"period": "2025Q1"})
    assert page.status_code == 200
    card = page.text[page.text.index('id="scores"'):]
    card = card[:card.index("</div>")]
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=TODAY, jurisdiction="新华区", top=100,
                     scoring=configured.report.scoring.rules())
    scored = [r for r in data.scores["departments"] if r["score"] is not None]
    assert scored, "the world has owed items in 2025 Q1"
    shown = scored if len(scored) <= 6 else scored[:3] + scored[-3:]
    rows = re.findall(r'<td class="n">(?:并列)?(\d+)</td><td>([^<]+)</td><td class="n score">([\d.]+)</td>', card)
    assert rows == [(str(r["rank"]), r["name"], f"{r['score']:.1f}") for r in shown]
    assert "/reports/download?period=2025Q1&amp;format=html" in card
    report = mz.get("/reports/download", params={"period": "2025Q1", "format": "html"}).text
    assert "逾期办结的每项得0.2分" in report and "每被退回一次扣1分" in report


def test_the_dashboard_scores_once_per_change_of_the_data(world, personas, monkeypatch):
    """The card's scores come with the figures (under the configured rules): a request scores the
    departments and the units once, and a second one, the figures cached, scores nothing."""
    import obligations.scoring
    from web.app import create_app

    app, engine, settings, _ = world
    configured = dataclasses.replace(settings, report=settings.report.model_copy(
        update={"scoring": ScoringConfig(late=0.2)}))
    app = create_app(configured, engine, today=lambda: TODAY)
    mz = personas.coordinator.client(app)
    boards = []
    board = obligations.scoring.board
    monkeypatch.setattr(obligations.scoring, "board", lambda *a, **kw: boards.append(1) or board(*a, **kw))
    first = mz.get("/dashboard", params={"period": "2025Q1"}).text
    assert len(boards) == 2                                  # the departments' board and the units'
    second = mz.get("/dashboard", params={"period": "2025Q1"}).text
    assert len(boards) == 2                                  # nothing scored again
    card = lambda page: page[page.index('id="scores"'):page.index("</div>", page.index('id="scores"'))]  # noqa: E731
    ranks = re.findall(r'<td class="n">(?:并列)?(\d+)</td><td>([^<]+)</td><td class="n score">([\d.]+)</td>', card(first))
    assert ranks and card(second) == card(first)
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=TODAY, jurisdiction="新华区", top=0,
                     scoring=configured.report.scoring.rules())
    scored = [r for r in data.scores["departments"] if r["score"] is not None]
    shown = scored if len(scored) <= 6 else scored[:3] + scored[-3:]
    assert ranks == [(str(r["rank"]), r["name"], f"{r['score']:.1f}") for r in shown]


def test_the_demo_prints_the_top_of_the_ranking():
    from types import SimpleNamespace

    from flows.demo import ranking_text

    rows = [{"name": n, "score": s, "rank": r, "tied": t} for n, s, r, t in (
        ("教育局", 98.0, 1, True), ("民政局", 98.0, 1, True), ("公安局", 90.5, 3, False), ("卫健委", 80.0, 4, False),
        ("团委", 70.0, 5, False), ("妇联", 60.0, 6, False), ("司法局", 50.0, 7, False))] + [
        {"name": "残联", "score": None, "rank": None, "tied": False}]
    text = ranking_text(SimpleNamespace(scores={"departments": rows}), n=3)
    assert text == ("考核评分（2025 年，满分 100 分，规则见通报文末）：并列第1名 教育局 98.0分；并列第1名 民政局 98.0分；"
                    "第3名 公安局 90.5分……第7名 司法局 50.0分（共 7 个部门）。")
    assert ranking_text(SimpleNamespace(scores={"departments": rows[:2]})).count("并列第1名") == 2
    assert ranking_text(SimpleNamespace(scores={})) == "考核评分：本年度尚无到期事项，未评分。"
