"""Issue numbers (期号): counted per issuer and year, kept when the same report is written again,
a typed number refused when another report has it; the CLI and the web form issue through the
one service, with an audit row; a draft gets no number."""
import datetime as dt

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from flows.cli import main
from storage import report_issues
from storage.report_issues import ReportIssueError, issue
from storage.tables import AuditEntry, IssuedReport

D = dt.date


def _issue(s, **kw):
    base = dict(issuer="督查室", series="督查通报", issued_on=D(2025, 4, 10), start=D(2025, 1, 1), end=D(2025, 3, 31),
                plan=None, jurisdiction="新华区", children=True, actor="mz")
    return issue(s, **{**base, **kw})


def test_numbers_count_per_issuer_and_year(engine):
    with Session(engine) as s, s.begin():
        a = _issue(s)
        b = _issue(s, start=D(2025, 4, 1), end=D(2025, 6, 30), issued_on=D(2025, 7, 5))
        again = _issue(s)                                   # the same report in another format
        other = _issue(s, issuer="市民政局")
        next_year = _issue(s, start=D(2025, 10, 1), end=D(2025, 12, 31), issued_on=D(2026, 1, 8))
        typed = _issue(s, jurisdiction="卫东区", number="12")
        after = _issue(s, jurisdiction="石龙区")
        assert (a.number, b.number, again.number, other.number, next_year.number, typed.number, after.number) == \
            (1, 2, 1, 1, 1, 12, 13)
        assert report_issues.issue_text(a.series, a.year, a.number) == "督查通报〔2025〕第1期"
        with pytest.raises(ReportIssueError, match="督查通报〔2025〕第12期已用于2025年第1季度卫东区的通报"):
            _issue(s, jurisdiction="湛河区", number=12)
        for bad, message in (("0", "1 至 9999"), ("十二", "不是整数"), ("10000", "1 至 9999")):
            with pytest.raises(ReportIssueError, match=message):
                _issue(s, jurisdiction="湛河区", number=bad)
        with pytest.raises(ReportIssueError, match="发文单位"):
            _issue(s, issuer="  ")
        with pytest.raises(ReportIssueError, match="抄送"):
            _issue(s, cc=["<script>"])
        renumbered = _issue(s, number=3, cc=["市委督查室"])
        assert renumbered.id == a.id and renumbered.number == 3 and renumbered.cc == ["市委督查室"]
    with Session(engine) as s:
        rows = s.scalars(select(IssuedReport)).all()
        assert len(rows) == 6
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "report.issue")).all()
        assert len(audits) == 7 and audits[-1].before["number"] == 1 and audits[-1].after["number"] == 3


def test_parse_cc():
    assert report_issues.parse_cc("市委督查室、市政府督查室，市民政局\n") == ["市委督查室", "市政府督查室", "市民政局"]
    with pytest.raises(ReportIssueError, match="最多"):
        report_issues.parse_cc("、".join(f"单位{i}" for i in range(40)))


def test_the_command_issues_and_a_draft_does_not(report_slice, project, tmp_path, capsys):
    args = ["report", "--plan", "pingdingshan-2025", "--period", "2025Q1", "--jurisdiction", "新华区",
            "--today", "2025-04-10"]
    assert main([*args, "-o", str(tmp_path / "a.xlsx"), "--cc", "市委督查室、市政府督查室", "--by", "张三"]) == 0
    assert "督查通报〔2025〕第1期" in capsys.readouterr().out
    summary = {r[0]: r[1] for r in load_workbook(tmp_path / "a.xlsx")["概要"].iter_rows(values_only=True) if r[0]}
    assert summary["期号"] == "督查通报〔2025〕第1期" and summary["抄送"] == "市委督查室，市政府督查室"
    assert main([*args, "-o", str(tmp_path / "a.docx")]) == 0          # the same report: the same number
    assert "第1期" in capsys.readouterr().out
    assert main([*args[:-4], "--today", "2025-04-10", "-o", str(tmp_path / "b.html"), "--issued-on", "2025-04-12"]) == 0
    assert "第2期" in capsys.readouterr().out and "督查通报〔2025〕第2期" in (tmp_path / "b.html").read_text(encoding="utf-8")
    assert main([*args, "-o", str(tmp_path / "c.html"), "--jurisdiction", "卫东区", "--draft"]) == 0
    assert "期号" not in capsys.readouterr().out and "〔2025〕" not in (tmp_path / "c.html").read_text(encoding="utf-8")
    assert main([*args, "-o", str(tmp_path / "d.html"), "--jurisdiction", "卫东区", "--issue", "2"]) == 1
    assert "第2期已用于" in capsys.readouterr().err and not (tmp_path / "d.html").exists()
