"""Every cell of every table, in every format, read back with the tools a reader would use and
compared with the report's one structure (reports.document): HTML through an HTML parser, PDF
through poppler's pdftotext, XLSX through openpyxl (typed values), DOCX through python-docx,
JSON through json. Two reports: a whole year of the three plans, everywhere (hundreds of
overdue items, so the printed list stops where the workbook does not), and one city's quarter.

Also: the 公文 layout of the Word file (page, margins, East Asian fonts, the red masthead, the
PAGE field, the 版记), the PDF's fonts (pdffonts), the workbook's print setup."""
import dataclasses
import datetime as dt
import json
import re
import subprocess
import zipfile
from html.parser import HTMLParser

import pytest
from docx import Document as WordDocument
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from reports import render
from reports.data import build
from reports.document import Table, tight

D = dt.date


class _Tables(HTMLParser):
    """Every <table class="t-KEY"> of the page: {key: [[cell text, …], …]} (header row first)."""

    def __init__(self):
        super().__init__()
        self.tables, self.key, self.cell = {}, None, None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "table" and cls.startswith("t-"):
            self.key = cls[2:]
            self.tables[self.key] = []
        elif tag == "tr" and self.key:
            self.tables[self.key].append([])
        elif tag in ("td", "th") and self.key:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.key and self.cell is not None:
            self.tables[self.key][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.key = None

    def handle_data(self, d):
        if self.cell is not None:
            self.cell.append(d)


def expected(table: Table, rows=None) -> list[list[str]]:
    return [[c.label for c in table.columns]] + [[table.text(r, c) for c in table.columns]
                                                 for r in (table.printed if rows is None else rows)]


def printed_tables(doc, charts: set[str] = frozenset({"heat"})) -> list[Table]:
    """The tables the printed formats show as tables (the summary is a paragraph; the heat table
    a chart)."""
    return [t for t in doc.tables() if t.key != "summary" and t.key not in charts]


def _write(data, folder, **options):
    opts = render.ReportOptions(issue_no=12, cc=("市委督查室", "市政府督查室"), number="平民督〔2025〕3号", **options)
    doc = render.document(data, opts)
    paths = {fmt: render.write(data, fmt, folder / f"r.{fmt}", opts) for fmt in render.FORMATS}
    paths["json"] = render.write_json(data, folder / "r.json")
    return doc, paths


SCOPES = {   # the year of the three plans everywhere, as of its last day; one city's first quarter
    "year": dict(start=D(2025, 1, 1), end=D(2025, 12, 31), today=D(2025, 12, 31)),
    "city-quarter": dict(start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), plan="pingdingshan-2025",
                         jurisdiction="平顶山市"),
}


def _returned_and_extended(engine, visits, folder) -> None:
    """Through the doors: one village's last two visits submitted on 8 April and returned (退回,
    the item overdue again); an item of the county due in the second half of the year extended
    by a month on request, approved (延期)."""
    from storage import workflow
    from storage.tables import Jurisdiction, Occurrence

    op = workflow.Actor("督查室", "cli")
    with Session(engine) as s, s.begin():
        workflow.complete(s, visits[2].id, by=op, count=2, done_on=D(2025, 4, 8),
                          setting=workflow.Setting(None, folder, D(2025, 4, 8)))
        workflow.return_(s, visits[2].id, by=op, reason="佐证材料不全")
        county = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "410402"))
        later = s.scalar(select(Occurrence).join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .where(Jurisdiction.path.like(county.path + "%"), Occurrence.due >= D(2025, 7, 1),
                                Occurrence.due <= D(2025, 11, 30), Occurrence.done_count == 0)
                         .order_by(Occurrence.due, Occurrence.id).limit(1))
        r = workflow.request(s, later.id, by=op, kind="extension", reason="需协调多部门", today=D(2025, 6, 1),
                             new_due=later.due + dt.timedelta(days=30))
        workflow.decide(s, r.id, by=op, approve=True)


def _report(report_slice, tmp_path, which):
    engine, visits = report_slice
    _returned_and_extended(engine, visits, tmp_path)
    with Session(engine) as s:
        data = build(s, top=None, **SCOPES[which])
    return (data, *_write(data, tmp_path))


@pytest.fixture(params=list(SCOPES))
def report(request, report_slice, tmp_path):
    return _report(report_slice, tmp_path, request.param)


@pytest.fixture
def year_report(report_slice, tmp_path):
    return _report(report_slice, tmp_path, "year")


@pytest.fixture
def city_quarter(report_slice, tmp_path):
    return _report(report_slice, tmp_path, "city-quarter")


def test_every_html_cell(report):
    data, doc, paths = report
    page = _Tables()
    page.feed(paths["html"].read_text(encoding="utf-8"))
    for table in printed_tables(doc):
        assert page.tables[table.key] == expected(table), table.key
    assert set(page.tables) == {t.key for t in printed_tables(doc)}


def _pdf_text(path) -> str:
    raw = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", "", raw)


def test_every_pdf_cell(report):
    """pdftotext -raw gives the text in drawing order: a table row is its cells one after the
    other (a wrapped cell's lines together), so each row's cells, joined, are found in order."""
    data, doc, paths = report
    text = _pdf_text(paths["pdf"])
    for table in printed_tables(doc):
        at = 0
        for row in expected(table)[1:]:
            cells = re.sub(r"\s+", "", "".join(row))
            found = text.find(cells, at)
            assert found >= 0, f"{table.key}: {row} not found after position {at}"
            at = found + len(cells)
        if table.more_note:
            assert re.sub(r"\s+", "", table.more_note) in text


def _xlsx_value(table, row, col):
    v = row.get(col.key)
    if col.kind == "text":
        return None if v is None or v == "" else str(v)      # an empty cell reads back as None
    if col.kind == "date":
        if v is None:
            return None                                        # an empty date (a long item not yet reported on)
        return dt.datetime.combine(v if isinstance(v, dt.date) else D.fromisoformat(v), dt.time())
    return v


def test_every_xlsx_cell_typed(report):
    from reports.xlsx import SHEET_NAMES

    data, doc, paths = report
    wb = load_workbook(paths["xlsx"])
    for table in doc.tables() + doc.detail_tables:
        if table.key == "summary":
            continue
        ws = wb[SHEET_NAMES[table.key]]
        rows = list(ws.iter_rows(min_row=1, max_row=1 + len(table.rows), values_only=True))
        assert list(rows[0][:len(table.columns)]) == [c.label for c in table.columns]
        assert len(rows) - 1 == len(table.rows)          # every row, not the printed ones only
        for got, row in zip(rows[1:], table.rows, strict=True):
            want = [_xlsx_value(table, row, c) for c in table.columns]
            for g, w, c in zip(got, want, table.columns, strict=False):
                if c.kind in ("rate", "delta") and w is not None:
                    assert g == pytest.approx(w), (table.key, c.key)
                else:
                    assert g == w, (table.key, c.key, row)
        assert ws.print_title_rows == "$1:$1" and ws.page_setup.fitToWidth == 1 and ws.freeze_panes == "A2"
    overdue = wb[SHEET_NAMES["overdue"]]
    assert overdue.max_row - 1 == data.overdue_total
    if data.overdue_total:
        assert overdue["G2"].number_format == "yyyy-mm-dd" and isinstance(overdue["G2"].value, dt.datetime)
        assert overdue.page_setup.orientation == "landscape"
    summary = {r[0]: r[1] for r in wb["概要"].iter_rows(values_only=True) if r[0]}
    assert summary["期号"] == "督查通报〔2025〕第12期" and summary["抄送"] == "市委督查室，市政府督查室"


def _word_tables(word) -> list[list[list[str]]]:
    return [[[c.text for c in r.cells] for r in t.rows] for t in word.tables]


def test_every_docx_cell(report):
    data, doc, paths = report
    word = WordDocument(str(paths["docx"]))
    got = _word_tables(word)
    want = [expected(t) for t in printed_tables(doc)]
    assert got == want
    assert not any("built-in method" in c for t in got for r in t for c in r)


def test_json_is_the_structure(report):
    data, doc, paths = report
    back = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert back == json.loads(json.dumps(dataclasses.asdict(data), default=str))
    assert len(back["overdue_items"]) == back["overdue_total"] == data.overdue_total


def test_the_year_report_prints_fifty_and_the_workbook_every_overdue_item(year_report):
    data, doc, paths = year_report
    table = next(t for t in doc.tables() if t.key == "overdue")
    assert data.overdue_total > 50 and len(table.rows) == data.overdue_total and len(table.printed) == 50
    left = data.overdue_total - 50
    assert table.more_note == f"另有 {left:,} 项未列出，见 Excel 台账（“逾期事项”工作表）。"
    word = "\n".join(p.text for p in WordDocument(str(paths["docx"])).paragraphs)
    for text in (paths["html"].read_text(encoding="utf-8"), word):
        assert f"另有{left:,}项未列出，见Excel台账" in text
    clauses = {r[3] for r in expected(table)[1:]}
    assert all(re.fullmatch(r"第[\d.]+条|基础清单第\d+项|工作要求第\d+段", c) for c in clauses), clauses


def test_word_is_laid_out_as_a_gongwen(city_quarter):
    data, doc, paths = city_quarter
    word = WordDocument(str(paths["docx"]))
    sec = word.sections[0]
    assert [round(v.mm) for v in (sec.page_width, sec.page_height)] == [210, 297]
    assert [round(v.mm) for v in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == [37, 35, 28, 26]
    grid = sec._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "lines" and grid.get(qn("w:linePitch")) == "579"

    def east_asia(p):
        return {r.element.rPr.rFonts.get(qn("w:eastAsia")) for r in p.runs if r.text.strip()}

    paras = word.paragraphs
    masthead = paras[0]
    assert masthead.text == doc.issuer and east_asia(masthead) == {"方正小标宋简体"}
    assert str(masthead.runs[0].font.color.rgb) == "C00000"
    assert paras[1].text == "督查通报〔2025〕第12期" and paras[2].text == "平民督〔2025〕3号"
    assert 'w:color="C00000"' in paras[3]._p.xml and "w:bottom" in paras[3]._p.xml       # the red rule
    title = next(p for p in paras if p.text == doc.title)
    assert paras[1].runs[0].font.size.pt == 16 and masthead.runs[0].font.size.pt == 30
    assert east_asia(title) == {"方正小标宋简体"}
    assert east_asia(next(p for p in paras if p.text == "一、总体情况")) == {"黑体"}
    assert east_asia(next(p for p in paras if p.text.startswith("（一）"))) == {"楷体_GB2312"}
    assert east_asia(next(p for p in paras if p.text == tight(doc.summary))) == {"仿宋_GB2312"}
    texts = [p.text for p in paras]
    assert texts[-2:] == ["抄送：市委督查室，市政府督查室。", f"{doc.issuer}\t{doc.issued_text}印发"]
    sign = texts.index(doc.issuer, 5)
    assert texts[sign + 1] == doc.issued_text and paras[sign - 3].paragraph_format.keep_with_next
    with zipfile.ZipFile(paths["docx"]) as z:
        footers = [z.read(n).decode() for n in z.namelist() if n.startswith("word/footer")]
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        settings = z.read("word/settings.xml").decode()
    assert sum("PAGE" in f and 'w:fldCharType="begin"' in f and "— " in f for f in footers) == 2   # odd and even
    assert "w:evenAndOddHeaders" in settings
    assert len(media) == 2                              # the department bars and the heat map


def test_pdf_fonts_title_heading_and_body(report):
    data, doc, paths = report
    from reports.pdf import role_fonts

    fonts = subprocess.run(["pdffonts", str(paths["pdf"])], capture_output=True, text=True, check=True).stdout
    roles = role_fonts()
    for role in ("title", "heading", "subheading", "body"):
        assert re.sub(r"[ -]", "", roles[role]) in re.sub(r"[ -]", "", fonts), (role, fonts)
    assert "Type 3" not in fonts
    text = subprocess.run(["pdftotext", "-layout", str(paths["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")[:-1]
    for n, page in enumerate(pages, 1):
        assert f"— {n} —" in page.splitlines()[-1] or f"— {n} —" in page[-200:], n
    flat = [re.sub(r"\s+", "", p) for p in pages]
    assert "抄送：市委督查室，市政府督查室。" in flat[-1] and f"{doc.issued_text}印发" in flat[-1]
    # the signature never stands alone: the last requirement is on its page
    signed = [p for p in flat if re.search(doc.issuer + doc.issued_text + "(?!印发)", p)]
    assert len(signed) == 1 and re.sub(r"\s+", "", doc.requirements[-1])[-10:] in signed[0]


# -- 考核评分 (scores): the section's tables are the data's scores, cell by cell, in every format

def _score_tables(doc):
    return {t.key: t for t in doc.tables() if t.key in ("scores", "scores_units")}


def test_the_score_tables_are_the_data_scores(report):
    data, doc, paths = report
    tables = _score_tables(doc)
    assert "scores" in tables
    for key, what, label in (("scores", "departments", "name"), ("scores_units", "units", "unit")):
        if key not in tables:
            assert len(data.scores[what]) <= 1
            continue
        table = tables[key]
        assert [c.label for c in table.columns] == ["名次", "责任部门" if key == "scores" else "地区", "得分", "按期办结",
                                                   "逾期办结", "逾期未办", "退回（次）", "延期（次）"]
        want = [[str(r["rank"]) if r["rank"] else "—", r[label], "—" if r["score"] is None else f"{r['score']:.1f}",
                 *(f"{r[k]:,}" for k in ("on_time", "late", "overdue", "returned", "extended"))]
                for r in data.scores[what]]
        assert expected(table)[1:] == want
        # the counts behind the scores are the report's own counts
        rows = data.by_department if what == "departments" else data.by_unit
        for k, status in (("on_time", "done"), ("late", "done_late"), ("overdue", "overdue")):
            assert sum(r[k] for r in data.scores[what]) == sum(r[status] for r in rows) == data.totals[status]
        assert sum(r["returned"] for r in data.scores[what]) == data.returns
    assert sum(r["extended"] for r in data.scores["departments"]) == (1 if data.end.month == 12 else 0)
    assert data.returns == 1
    ranks = [r["rank"] for r in data.scores["departments"] if r["rank"]]
    assert ranks == sorted(ranks) and ranks[0] == 1


def test_scores_in_every_format(report):
    """The score tables, read back from HTML, PDF, XLSX (typed: ranks and counts numbers, scores
    numbers to one decimal), DOCX and JSON, against the structure."""
    data, doc, paths = report
    tables = _score_tables(doc)
    page = _Tables()
    page.feed(paths["html"].read_text(encoding="utf-8"))
    words = [_word_tables(WordDocument(str(paths["docx"])))[i] for i, t in enumerate(printed_tables(doc))
             if t.key in tables]
    assert words == [expected(t) for t in tables.values()]
    text = _pdf_text(paths["pdf"])
    wb = load_workbook(paths["xlsx"])
    sheets = {"scores": "考核", "scores_units": "考核（地区）"}
    for key, table in tables.items():
        assert page.tables[key] == expected(table)
        at = 0
        for row in expected(table)[1:]:
            at = text.find(re.sub(r"\s+", "", "".join(row)), at)
            assert at >= 0, (key, row)
        ws = wb[sheets[key]]
        got = list(ws.iter_rows(min_row=2, max_row=1 + len(table.rows), values_only=True))
        assert [list(g[:8]) for g in got] == [[r["rank"], r["name" if key == "scores" else "unit"], r["score"],
                                               r["on_time"], r["late"], r["overdue"], r["returned"], r["extended"]]
                                              for r in table.rows]
        scored = [i for i, r in enumerate(table.rows, 2) if r["score"] is not None]
        if scored:
            assert ws.cell(scored[0], 3).number_format == "0.0" and isinstance(ws.cell(scored[0], 3).value, (int, float))
            assert isinstance(ws.cell(scored[0], 1).value, int)
    back = json.loads(paths["json"].read_text(encoding="utf-8"))["scores"]
    assert back["departments"] == json.loads(json.dumps(data.scores["departments"]))
    assert back["rules"] == data.scores["rules"] and back["settings"]["full"] == 100.0


def test_the_method_note_prints_the_scoring_rules(year_report):
    data, doc, paths = year_report
    assert "考核评分规则：（1）" in doc.method_text
    html = re.sub(r"\s+", "", paths["html"].read_text(encoding="utf-8"))
    word = "".join(p.text for p in WordDocument(str(paths["docx"])).paragraphs)
    for rule in data.scores["rules"]:
        assert re.sub(r"\s+", "", rule) in html
        assert rule in word
    assert any("逾期未办的每项得0分" in r for r in data.scores["rules"])
