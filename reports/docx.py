"""The report as a formal 督查通报 in Word: masthead (the issuing office in red), document number,
red rule, title, addressee, numbered sections with tables, signature and date.

It is filled from a template an office can edit in Word (docxtpl: Jinja2 tags inside the .docx).
`duban report-template -o 通报模板.docx` writes the default one; after editing, point
config.yaml's `report.docx_template` at it. The default template is built here with python-docx,
so it follows the code; the tags it uses are listed in TEMPLATE_FIELDS."""
from __future__ import annotations

import functools
import io
from pathlib import Path

from docx import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docxtpl import DocxTemplate

from obligations.words import numeral
from reports.document import Document

BODY_FONT, HEAD_FONT, TITLE_FONT = "仿宋", "黑体", "宋体"
TEMPLATE_FIELDS = """issuer number title addressee period scope intro summary department_words departments units
overdue_words overdue coverage_words coverage notice_words requirements issued_text"""

# (context key, document table key, [(column key, header)])
TABLES = [
    ("departments", "departments", [("name", "责任部门"), ("total", "应办"), ("done", "按期办结"), ("done_late", "逾期办结"),
                                    ("overdue", "逾期未办"), ("on_time_rate", "按期率"), ("trend", "较上期")]),
    ("units", "units", [("unit", "地区"), ("total", "应办"), ("done", "按期办结"), ("done_late", "逾期办结"),
                        ("overdue", "逾期未办"), ("on_time_rate", "按期率"), ("completion_rate", "办结率")]),
    ("overdue", "overdue", [("rank", "序号"), ("unit", "地区"), ("department", "责任部门"), ("what", "事项"),
                            ("due", "应办日期"), ("days_late", "逾期天数"), ("escalation", "督办级别")]),
    ("coverage", "coverage", [("place", "乡镇（街道）或地区"), ("what", "关爱服务事项"), ("items", "应办"),
                              ("complete_items", "已完成"), ("coverage", "完成率")]),
]


def _font(run_or_style, name: str, size: float | None = None, bold: bool | None = None, colour: str | None = None):
    font = run_or_style.font
    font.name = name
    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), name)
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if colour:
        font.color.rgb = RGBColor.from_string(colour)


def _para(doc, text: str = "", *, font=BODY_FONT, size=16, bold=False, colour=None, align=None, indent=True,
          space_after=0):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    fmt = p.paragraph_format
    fmt.space_after, fmt.space_before = Pt(space_after), Pt(0)
    fmt.line_spacing = Pt(28)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if text:
        _font(p.add_run(text), font, size, bold, colour)
    return p


def _rule(paragraph, colour: str = "C00000") -> None:
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "1"), ("w:color", colour)):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)


def _cell(cell, text: str, *, bold=False, align=WD_ALIGN_PARAGRAPH.CENTER, shade: str | None = None) -> None:
    p = cell.paragraphs[0]
    p.alignment = align
    p.paragraph_format.space_after = Pt(0)
    _font(p.add_run(text), BODY_FONT if not bold else HEAD_FONT, 10.5, bold)
    if shade:
        tcpr = cell._tc.get_or_add_tcPr()
        shd = OxmlElement("w:shd")
        for k, v in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", shade)):
            shd.set(qn(k), v)
        tcpr.append(shd)


def _loop_table(doc, name: str, columns: list[tuple[str, str]]) -> None:
    """A table whose middle row repeats once per item (docxtpl's {%tr %} rows)."""
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, (key, header) in enumerate(columns):
        _cell(table.cell(0, j), header, bold=True, shade="E7ECF2")
        _cell(table.cell(2, j), f"{{{{ r.{key} }}}}",
              align=WD_ALIGN_PARAGRAPH.LEFT if key in ("name", "unit", "what", "department", "place") else
              WD_ALIGN_PARAGRAPH.CENTER)
    first, last = table.cell(1, 0), table.cell(3, 0)
    first.merge(table.cell(1, len(columns) - 1))
    last.merge(table.cell(3, len(columns) - 1))
    _cell(first, f"{{%tr for r in {name} %}}")
    _cell(last, "{%tr endfor %}")
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)


@functools.lru_cache(maxsize=1)
def default_template() -> bytes:
    """The default 督查通报 template as .docx bytes."""
    doc = WordDocument()
    for section in doc.sections:
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    _font(doc.styles["Normal"], BODY_FONT, 16)
    _para(doc, "{{ issuer }}", font=TITLE_FONT, size=26, bold=True, colour="C00000", align=WD_ALIGN_PARAGRAPH.CENTER,
          indent=False, space_after=6)
    _para(doc, "{{ number }}", size=16, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _rule(_para(doc, "", indent=False, space_after=18))
    _para(doc, "{{ title }}", font=TITLE_FONT, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False,
          space_after=14)
    _para(doc, "{{ addressee }}：", indent=False)
    _para(doc, "{{ intro }}")
    sections = [
        ("一、总体情况", ["{{ summary }}"], None),
        ("二、各部门落实情况", ["{{ department_words }}"], "departments"),
        ("三、各地落实情况", [], "units"),
        ("四、逾期未办事项", ["{{ overdue_words }}"], "overdue"),
        ("五、重点关爱对象服务覆盖情况", ["{{ coverage_words }}"], "coverage"),
        ("六、提醒催办情况", ["{{ notice_words }}"], None),
    ]
    for heading, paragraphs, table in sections:
        _para(doc, heading, font=HEAD_FONT, size=16)
        for text in paragraphs:
            _para(doc, text)
        if table:
            name, _, columns = next(t for t in TABLES if t[0] == table)
            _para(doc, f"{{%p if {name} %}}", indent=False)      # no empty table when there is nothing to list
            _loop_table(doc, name, columns)
            _para(doc, "{%p endif %}", indent=False)
    _para(doc, "七、下一步工作要求", font=HEAD_FONT, size=16)
    _para(doc, "{%p for text in requirements %}")
    _para(doc, "{{ text }}")
    _para(doc, "{%p endfor %}")
    _para(doc, "", indent=False, space_after=24)
    _para(doc, "{{ issuer }}", align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, "{{ issued_text }}", align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, "{{ method }}", size=10, indent=False)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def context(doc: Document) -> dict:
    tables = {t.key: t for t in doc.tables()}
    sec = {s.title: s for s in doc.sections}

    def first_paragraph(title: str, default: str = "") -> str:
        s = sec.get(title)
        return s.paragraphs[0] if s and s.paragraphs else default

    ctx = {
        "issuer": doc.issuer, "number": doc.number, "title": doc.title, "addressee": doc.addressee,
        "period": doc.period, "scope": doc.scope, "summary": doc.summary, "issued_text": doc.issued_text,
        "intro": f"为推动{doc.data.plan_title if doc.data.plan else '流动儿童关爱保护各项任务'}落到实处，"
                 f"现将{doc.period}{doc.scope}任务落实情况通报如下。",
        "department_words": first_paragraph("各部门落实情况"),
        "overdue_words": first_paragraph("逾期未办事项"),
        "coverage_words": _coverage_words(doc, tables),
        "notice_words": _notice_words(doc),
        "requirements": [f"（{numeral(i + 1)}）{t}" for i, t in enumerate(doc.requirements)],
        "method": doc.method_text,
    }
    for name, key, _columns in TABLES:
        table = tables.get(key) or (tables.get("coverage_units") if key == "coverage" else None)
        ctx[name] = [] if table is None else [
            {**{c.key: table.text(row, c) for c in table.columns}, "place": row.get("township") or row.get("unit")}
            for row in table.rows]
    return ctx


def _coverage_words(doc: Document, tables: dict) -> str:
    section = next((s for s in doc.sections if s.title == "重点关爱对象服务覆盖情况"), None)
    if section is None:
        return "本期无针对重点关爱对象的服务事项。"
    if "coverage" in tables:
        return "下表为各乡镇（街道）重点关爱对象走访、联系事项的完成情况。"
    return "下表为各地重点关爱对象走访、联系事项的完成情况。" + "".join(section.paragraphs)


def _notice_words(doc: Document) -> str:
    n = doc.data.notices
    if not n["total"]:
        return "本期未发出提醒、催办或督办通知。"
    return (f"本期督办系统共发出到期提醒 {n['remind'] + n['due']:,} 项次、逾期催办 {n['overdue']:,} 项次、"
            f"逾期督办 {n['escalate']:,} 项次，已送达 {n['sent']:,} 项次。")


def write_docx(doc: Document, path: Path, template: Path | None = None) -> None:
    source = str(template) if template else io.BytesIO(default_template())
    tpl = DocxTemplate(source)
    tpl.render(context(doc), autoescape=True)
    tpl.save(str(path))


def write_template(path: Path) -> None:
    Path(path).write_bytes(default_template())
