"""Inspection reports: the same hand-counted numbers in HTML, PDF, XLSX and DOCX, read back with
the tools a reader would use (HTML text, pdftotext, openpyxl, python-docx); the PDF's first page
drawn (pdftoppm) and checked for ink; font errors; the Word template; the command."""
import dataclasses
import datetime as dt
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import Session

from flows.cli import main
from reports import render
from reports.data import build
from reports.pdf import ReportFontError, check_glyphs

D = dt.date
# the hand count of the report_slice fixture (see conftest): 5 items, 3 on time, 1 late, 1 overdue
HAND = {"total": 5, "done": 3, "done_late": 1, "overdue": 1, "on_time_rate": "60.0%", "completion_rate": "80.0%"}
SUMMARY = re.compile(r"应办事项(\d[\d,]*)项.*?其中按期办结(\d[\d,]*)项、逾期办结(\d[\d,]*)项、逾期未办(\d[\d,]*)项.*?"
                     r"按期办结率(\d+\.\d%)，办结率(\d+\.\d%)")


def totals_in(text: str) -> dict:
    """The totals as the summary paragraph states them (whitespace and line breaks removed)."""
    m = SUMMARY.search(re.sub(r"\s+", "", text))
    assert m, "summary paragraph not found"
    return {"total": int(m[1].replace(",", "")), "done": int(m[2].replace(",", "")),
            "done_late": int(m[3].replace(",", "")), "overdue": int(m[4].replace(",", "")),
            "on_time_rate": m[5], "completion_rate": m[6]}


@pytest.fixture
def data(report_slice):
    engine, _ = report_slice
    with Session(engine) as s:
        return build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), plan="pingdingshan-2025",
                     jurisdiction="新华区")


class _Cells(HTMLParser):
    """Text of the page, and the rows of the table with a given class."""

    def __init__(self, table_class: str):
        super().__init__()
        self.table_class, self.inside, self.rows, self.text = table_class, False, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", f"t-{self.table_class}") in attrs:
            self.inside = True
        elif tag == "tr" and self.inside:
            self.rows.append([])
        elif tag in ("td", "th") and self.inside:
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False

    def handle_data(self, d):
        self.text.append(d)
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += d


def test_the_same_totals_in_every_format(data, tmp_path):
    assert data.totals["total"] == HAND["total"]
    paths = {fmt: render.write(data, fmt, tmp_path / f"r.{fmt}") for fmt in render.FORMATS}

    page = _Cells("departments")
    page.feed(paths["html"].read_text(encoding="utf-8"))
    assert totals_in("".join(page.text)) == HAND
    html_rows = {r[0]: r for r in page.rows[1:]}
    # 应办 按期办结 逾期办结 逾期未办 未到期 已豁免 待审核 按期率
    assert html_rows["儿童主任"][1:5] == ["4", "2", "1", "1"] and html_rows["儿童主任"][8] == "50.0%"
    assert html_rows["民政部门"][1:3] == ["1", "1"] and html_rows["民政部门"][8] == "100.0%"

    pdf_text = subprocess.run(["pdftotext", "-layout", str(paths["pdf"]), "-"], capture_output=True, text=True,
                              check=True).stdout
    assert totals_in(pdf_text) == HAND
    row = next(line.split() for line in pdf_text.splitlines()    # the table row, not the chart's label
               if line.strip().startswith("儿童主任") and len(line.split()) > 8)
    assert row[1:5] == ["4", "2", "1", "1"] and "50.0%" in row

    wb = load_workbook(paths["xlsx"])
    summary = {r[0]: r[1:] for r in wb["概要"].iter_rows(values_only=True) if r[0]}
    assert (summary["应办事项"][0], summary["按期办结"][0], summary["逾期办结"][0], summary["逾期未办"][0]) == (5, 3, 1, 1)
    assert summary["按期办结"][1] == pytest.approx(0.6)
    assert totals_in(next(v for v in summary if v.startswith("2025年第1季度"))) == HAND
    sheet = wb["各部门"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert (rows["儿童主任"]["应办"], rows["儿童主任"]["按期办结"], rows["儿童主任"]["逾期未办"]) == (4, 2, 1)
    assert rows["儿童主任"]["按期率"] == pytest.approx(0.5)
    assert sum(r["应办"] for r in rows.values()) == 5
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert wb["逾期事项"]["H2"].value == 10        # 逾期天数 of the one overdue item

    word = WordDocument(str(paths["docx"]))
    assert totals_in("\n".join(p.text for p in word.paragraphs)) == HAND
    dept_table = next(t for t in word.tables if t.rows[0].cells[0].text == "责任部门")
    cells = {r.cells[0].text: [c.text for c in r.cells] for r in dept_table.rows[1:]}
    header = [c.text for c in dept_table.rows[0].cells]
    assert cells["儿童主任"][1:5] == ["4", "2", "1", "1"] and cells["儿童主任"][header.index("按期率")] == "50.0%"
    assert word.paragraphs[0].text == "流动儿童关爱保护工作督查室"
    assert any(p.text == "五、逾期未办事项" for p in word.paragraphs)     # numbered as in every format


def test_pdf_first_page_is_drawn(data, tmp_path, caplog):
    pdf = render.write(data, "pdf", tmp_path / "r.pdf")
    assert not [r for r in caplog.records if r.name == "weasyprint" and r.levelname in ("WARNING", "ERROR")]
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    [png] = tmp_path.glob("p*.png")
    img = Image.open(png).convert("RGB")
    pixels = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    red = sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)     # the red masthead and rule
    assert 0.01 < ink < 0.5 and red > 200
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts and "Type 3" not in fonts


def test_a_missing_font_is_named_not_rendered_as_boxes(data, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReportFontError, match="report.font"):
        render.write(data, "pdf", out / "r.pdf", render.ReportOptions(font="不存在的字体"))
    assert not list(out.iterdir())               # nothing half written
    rare = "\U0002B81D"                          # a CJK Extension D character no installed font has
    assert not subprocess.run(["fc-list", f":charset={ord(rare):x}"], capture_output=True, text=True).stdout.strip()
    with pytest.raises(ReportFontError, match=r"U\+2B81D"):
        check_glyphs(f"<p>李{rare}</p>")
    check_glyphs("<p>督查通报 按期办结率 60.0%</p>")


def test_the_word_template_can_be_edited(data, project, tmp_path, capsys):
    template = tmp_path / "模板.docx"
    assert main(["report-template", "-o", str(template)]) == 0
    word = WordDocument(str(template))
    addressee = next(p for p in word.paragraphs if p.text == "{{ addressee }}：")
    addressee.runs[0].text = "各县（市、区）民政局："
    word.save(str(template))
    out = render.write(data, "docx", tmp_path / "r.docx", render.ReportOptions(docx_template=template,
                                                                             issuer="新华区民政局"))
    text = [p.text for p in WordDocument(str(out)).paragraphs]
    assert "各县（市、区）民政局：" in text and "新华区民政局" in text and "各有关单位：" not in text
    assert totals_in("\n".join(text)) == HAND


def test_an_older_template_with_table_tags_still_fills(data, tmp_path):
    """A template made from the earlier default: per-table loops; r.items is the column (it used
    to print the dict's method)."""
    word = WordDocument()
    for line in ("{{ issuer }}", "{%p for r in coverage %}", "{{ r.place }}：{{ r.what }} 应办{{ r.items }}",
                 "{%p endfor %}", "{%p for r in departments %}", "{{ r.name }} {{ r.total }} {{ r.on_time_rate }}",
                 "{%p endfor %}"):
        word.add_paragraph(line)
    template = tmp_path / "旧模板.docx"
    word.save(str(template))
    row = {"what": "入户走访重点关爱服务对象", "items": 3, "complete_items": 2, "coverage": 0.6667, "done": 5, "required": 6}
    data = dataclasses.replace(data, case_coverage=[{"township": "中兴路街道", **row}],    # the shape reports.data gives
                               case_coverage_units=[{"unit": "中兴路街道", **row}])
    out = render.write(data, "docx", tmp_path / "r.docx", render.ReportOptions(docx_template=template))
    text = [p.text for p in WordDocument(str(out)).paragraphs]
    doc = render.document(data)
    coverage = next(t for t in doc.tables() if t.key in ("coverage", "coverage_units"))
    assert [t for t in text if "应办" in t] == [
        f"{r.get('township') or r.get('unit')}：{r['what']} 应办{r['items']}" for r in coverage.rows]
    assert "儿童主任 4 50.0%" in text and not any("built-in" in t for t in text)


def test_report_command(report_slice, project, tmp_path, capsys):
    out = tmp_path / "通报.xlsx"
    rc = main(["report", "--plan", "pingdingshan-2025", "--period", "2025Q1", "--jurisdiction", "新华区",
               "--today", "2025-04-10", "-o", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "应办 5 项" in printed.out and "按期办结率 60.0%" in printed.out and out.is_file()
    rc = main(["report", "--period", "2025Q1", "--jurisdiction", "新华区", "--today", "2025-04-10",
               "--format", "json", "-o", str(tmp_path / "r.json")])
    assert rc == 0 and json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["totals"]["total"] == 5
    assert main(["report", "--period", "2025Z1"]) == 1
    assert "无法识别的期间" in capsys.readouterr().err
    assert main(["report", "--period", "2025Q1", "--format", "odt"]) == 2
    assert main(["report", "--period", "2025Q1", "--jurisdiction", "火星市"]) == 1
    assert "没有名为 火星市" in capsys.readouterr().err


def test_pdf_command_without_the_font_fails_clearly(report_slice, project, tmp_path, capsys):
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("font: WenQuanYi Zen Hei", "font: 不存在的字体"),
                      encoding="utf-8")
    out = tmp_path / "r.pdf"
    rc = main(["report", "--period", "2025Q1", "--today", "2025-04-10", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "不存在的字体" in err and "fonts-wqy-zenhei" in err and not out.exists()


def test_poppler_and_fontconfig_are_installed():
    """The README's set-up installs them; the tests above need them to read the PDF back."""
    assert shutil.which("pdftotext") and shutil.which("pdftoppm") and shutil.which("fc-list")
