"""The report as a 督查通报 in Word, laid out as a 公文 (GB/T 9704-2012): A4 with a 156 × 225 mm
text block (margins 37/35 mm top/bottom, 28/26 mm binding side/outer), 22 lines of 28
characters; the issuing office in red (小标宋) over a red rule, the issue number (期号) and the
document number (文号); the title in 小标宋, level-1 headings in 黑体, level-2 in 楷体, the body in
仿宋 (the fonts named as Word's East Asian fonts: 方正小标宋简体, 黑体, 楷体_GB2312, 仿宋_GB2312); the
tables and charts of the report; the signature and date; the 版记 (抄送, 印发机关 and 印发日期); the
page number "— 1 —" as a PAGE field, right on odd pages and left on even ones.

It is filled from a template an office can edit in Word (docxtpl: Jinja2 tags inside the .docx).
`duban report-template -o 通报模板.docx` writes the default one; after editing, point
config.yaml's `report.docx_template` at it. The default template puts the whole body (sections,
tables, charts) in one tag, ``{{ body }}`` (a paragraph of its own); the older per-table tags (TEMPLATE_FIELDS) are still
filled, so a template made from an earlier default keeps working."""
from __future__ import annotations

import functools
import io
from pathlib import Path
from types import SimpleNamespace

from docx import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docxtpl import DocxTemplate

from obligations.words import numeral
from reports import charts
from reports.document import Document, Table, column_widths, tight

TITLE_FONT, HEAD_FONT, SUBHEAD_FONT, BODY_FONT = "方正小标宋简体", "黑体", "楷体_GB2312", "仿宋_GB2312"
LATIN_FONT = "Times New Roman"
RED = "C00000"
LINE = Pt(28.95)          # 22 lines in the 225 mm text block
TEXT_WIDTH_MM = 156
TEMPLATE_FIELDS = """issuer issue_text number title addressee period scope intro body summary department_words
departments units overdue_words overdue coverage_words coverage notice_words requirements issued_text cc_text
printer printed_date"""

# (context key, document table key, [(column key, header)]): the per-table tags of the earlier
# default template
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


def _fonts(rpr_owner, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Word picks a run's Chinese face from w:eastAsia, its Latin one from w:ascii/w:hAnsi."""
    rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr, name in (("w:eastAsia", east_asia), ("w:ascii", latin), ("w:hAnsi", latin), ("w:cs", latin)):
        fonts.set(qn(attr), name)


def _font(run_or_style, name: str, size: float | None = None, bold: bool | None = None, colour: str | None = None,
          latin: str = LATIN_FONT):
    _fonts(run_or_style.element, name, latin)
    font = run_or_style.font
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if colour:
        font.color.rgb = RGBColor.from_string(colour)


def _para(doc, text: str = "", *, font=BODY_FONT, size=16, bold=False, colour=None, align=None, indent=True,
          space_before=0, space_after=0, line=LINE, keep_next=False, latin=LATIN_FONT):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    fmt = p.paragraph_format
    fmt.space_after, fmt.space_before = Pt(space_after), Pt(space_before)
    fmt.line_spacing = line
    fmt.keep_with_next = keep_next
    fmt.widow_control = True
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if line != LINE:
        _off_grid(p)
    if text:
        _font(p.add_run(text), font, size, bold, colour, latin)
    return p


def _border(paragraph, side: str, *, size: int = 8, colour: str = "000000") -> None:
    """A rule above or below a paragraph (``size`` in eighths of a point)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.insert_element_before(borders, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
                                  "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
                                  "w:adjustRightInd", "w:snapToGrid", *_AFTER_SNAP)
    edge = OxmlElement(f"w:{side}")
    for k, v in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "1"), ("w:color", colour)):
        edge.set(qn(k), v)
    borders.append(edge)


def _page_field(paragraph, size: float = 14) -> None:
    """"— 1 —": the page number as a PAGE field, 四号 宋体 (Latin digits)."""
    def run(text: str | None = None):
        r = paragraph.add_run(text or "")
        _font(r, "宋体", size, latin="宋体")
        return r

    run("— ")
    for kind, instr in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        r = run()
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            r._r.append(fld)
        elif instr == "1":
            r.text = "1"
        else:
            it = OxmlElement("w:instrText")
            it.set(qn("xml:space"), "preserve")
            it.text = instr
            r._r.append(it)
    run(" —")


def _page(doc) -> None:
    for section in doc.sections:
        section.page_height, section.page_width = Mm(297), Mm(210)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.header_distance, section.footer_distance = Mm(15), Mm(22)
        grid = section._sectPr.find(qn("w:docGrid"))
        if grid is None:
            grid = OxmlElement("w:docGrid")
            section._sectPr.append(grid)
        grid.set(qn("w:type"), "lines")           # 22 lines of 28.95 pt; 三号 fills a 156 mm line with 28 characters
        grid.set(qn("w:linePitch"), "579")
        doc.settings.odd_and_even_pages_header_footer = True
        for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
            p = footer.paragraphs[0]
            p.alignment = align
            indent = p.paragraph_format
            indent.right_indent = Pt(14) if align == WD_ALIGN_PARAGRAPH.RIGHT else None
            indent.left_indent = Pt(14) if align == WD_ALIGN_PARAGRAPH.LEFT else None
            _page_field(p)


@functools.lru_cache(maxsize=1)
def default_template() -> bytes:
    """The default 督查通报 template as .docx bytes."""
    doc = WordDocument()
    _page(doc)
    normal = doc.styles["Normal"]
    _font(normal, BODY_FONT, 16)
    normal.paragraph_format.line_spacing = LINE
    centre, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT
    _para(doc, "{{ issuer }}", font=TITLE_FONT, size=30, colour=RED, align=centre, indent=False, space_before=12,
          space_after=12, line=Pt(44))
    _para(doc, "{%p if issue_text %}", indent=False)
    _para(doc, "{{ issue_text }}", align=centre, indent=False)
    _para(doc, "{%p endif %}", indent=False)
    _para(doc, "{%p if number %}", indent=False)
    _para(doc, "{{ number }}", align=centre, indent=False)
    _para(doc, "{%p endif %}", indent=False)
    _border(_para(doc, "", indent=False, line=Pt(6)), "bottom", size=18, colour=RED)
    _para(doc, "", indent=False)
    _para(doc, "{{ title }}", font=TITLE_FONT, size=22, align=centre, indent=False, line=Pt(35), space_after=14)
    _para(doc, "{{ addressee }}：", indent=False)
    _para(doc, "{{ intro }}")
    _para(doc, "{{ body }}", indent=False)
    _para(doc, "", indent=False, keep_next=True)
    _para(doc, "", indent=False, keep_next=True)
    sign = _para(doc, "{{ issuer }}", align=right, indent=False, keep_next=True)
    sign.paragraph_format.right_indent = Pt(16 * 4)
    date = _para(doc, "{{ issued_text }}", align=right, indent=False)
    date.paragraph_format.right_indent = Pt(16 * 4)
    _para(doc, "{{ method }}", size=10, indent=False)     # how on time is judged (obligations.timeliness)
    _para(doc, "", indent=False)
    # 版记: 抄送 and 印发 between thick rules, a thin one between them
    _para(doc, "{%p if cc_text %}", indent=False)
    cc = _para(doc, "抄送：{{ cc_text }}。", size=14, indent=False, keep_next=True)
    cc.paragraph_format.left_indent = cc.paragraph_format.right_indent = Pt(14)
    _border(cc, "top", size=8)
    _printed(doc, top=4)
    _para(doc, "{%p else %}", indent=False)
    _printed(doc, top=8)
    _para(doc, "{%p endif %}", indent=False)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _printed(doc, *, top: int) -> None:
    """The 版记's last line: 印发机关 left, 印发日期 right."""
    p = _para(doc, "{{ printer }}\t{{ printed_date }}印发", size=14, indent=False)
    fmt = p.paragraph_format
    fmt.left_indent = fmt.right_indent = Pt(14)
    fmt.tab_stops.add_tab_stop(Mm(TEXT_WIDTH_MM) - Pt(28), WD_TAB_ALIGNMENT.RIGHT)
    _border(p, "top", size=top)
    _border(p, "bottom", size=8)


def _table_borders(table) -> None:
    tblpr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        e = OxmlElement(f"w:{side}")
        e.set(qn("w:w"), "57")          # 1 mm
        e.set(qn("w:type"), "dxa")
        margins.append(e)
    tblpr.append(margins)
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        e = OxmlElement(f"w:{side}")
        for k, v in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", "000000")):
            e.set(qn(k), v)
        borders.append(e)
    tblpr.append(borders)


def _cell_text(cell, text: str, *, header: bool, numeric: bool, size: float) -> None:
    p = cell.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER if header or not numeric else WD_ALIGN_PARAGRAPH.RIGHT
    if not header and not numeric:
        p.alignment = WD_ALIGN_PARAGRAPH.LEFT
    fmt = p.paragraph_format
    fmt.space_after = fmt.space_before = Pt(0)
    fmt.line_spacing = 1.0
    fmt.first_line_indent = Pt(0)
    _off_grid(p)
    _font(p.add_run(text), HEAD_FONT if header else BODY_FONT, size)


_AFTER_SNAP = ("w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
               "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
               "w:rPr", "w:sectPr", "w:pPrChange")     # what follows w:snapToGrid in a w:pPr (the schema's order)


def _off_grid(paragraph) -> None:
    """Small print (tables, notes, pictures) keeps its own line height, not the page's 28.95 pt grid."""
    ppr = paragraph._p.get_or_add_pPr()
    if ppr.find(qn("w:snapToGrid")) is not None:
        return
    snap = OxmlElement("w:snapToGrid")
    snap.set(qn("w:val"), "0")
    ppr.insert_element_before(snap, *_AFTER_SNAP)


def _word_table(sd, table: Table) -> None:
    """One of the report's tables, as it prints: header row repeated on each page, the printed rows."""
    cols = table.columns
    size = 10.5 if len(cols) <= 7 else 9 if len(cols) <= 10 else 8
    t = sd.add_table(rows=1 + len(table.printed), cols=len(cols))
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    _table_borders(t)
    units = column_widths(table, TEXT_WIDTH_MM / 25.4 * 72 / (size / 2), padding=4)   # half-ems across the block
    widths = [Mm(TEXT_WIDTH_MM * u / sum(units)) for u in units]
    for j in range(len(cols)):
        t.columns[j].width = widths[j]
    rows = t.rows
    for j, c in enumerate(cols):
        rows[0].cells[j].width = widths[j]
        _cell_text(rows[0].cells[j], c.label, header=True, numeric=False, size=size)
    trpr = rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    trpr.append(repeat)
    for i, row in enumerate(table.printed, 1):
        cells = rows[i].cells
        cant_split = OxmlElement("w:cantSplit")
        rows[i]._tr.get_or_add_trPr().append(cant_split)
        for j, c in enumerate(cols):
            cells[j].width = widths[j]
            _cell_text(cells[j], table.text(row, c), header=False, numeric=c.kind in ("int", "rate", "delta", "score"), size=size)


def _picture(sd, png: bytes, width_mm: float) -> None:
    p = sd.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.first_line_indent = Pt(0)
    p.paragraph_format.line_spacing = 1.0
    _off_grid(p)
    p.add_run().add_picture(io.BytesIO(png), width=Mm(width_mm))


BODY_MARKER = "\u27e6正文\u27e7"     # what {{ body }} renders to; the sections replace that paragraph


class _Before:
    """Adds paragraphs and tables to a Word document just before a given paragraph."""

    def __init__(self, word, marker):
        self.word, self.marker = word, marker

    def add_paragraph(self):
        return self.marker.insert_paragraph_before()

    def add_table(self, rows: int, cols: int):
        t = self.word.add_table(rows=rows, cols=cols)
        self.marker._p.addprevious(t._tbl)
        return t


def insert_body(word, doc: Document) -> bool:
    """The sections (headings, paragraphs, tables, chart pictures) in place of the paragraph
    that reads BODY_MARKER; False when the template has no {{ body }}."""
    marker = next((p for p in word.paragraphs if p.text.strip() == BODY_MARKER), None)
    if marker is None:
        return False
    sd = _Before(word, marker)
    pictures = charts.png_charts(doc.data)
    last = None
    for section in doc.sections:
        _para(sd, f"{section.number}、{section.title}", font=HEAD_FONT, keep_next=True)
        for text in section.paragraphs:
            last = _para(sd, tight(text))
        sub = 0
        for table in section.tables:
            if table.key == "summary":
                continue
            if table.key == "heat" and pictures.get("heat"):
                sub += 1
                _para(sd, f"（{numeral(sub)}）{table.title}", font=SUBHEAD_FONT, keep_next=True)
                _picture(sd, pictures["heat"], min(TEXT_WIDTH_MM, 8 + 13 * len(doc.data.months)))
                _para(sd, f"注：{table.note}", size=12, line=Pt(20))
                continue
            if len(section.tables) > 1:
                sub += 1
                _para(sd, f"（{numeral(sub)}）{table.title}", font=SUBHEAD_FONT, keep_next=True)
            _word_table(sd, table)
            if table.more_note:
                _para(sd, tight(table.more_note), size=14)
            if table.note:
                _para(sd, f"注：{table.note}", size=12, line=Pt(20))
            if table.key == "departments" and pictures.get("departments"):
                sub += 1
                _para(sd, f"（{numeral(sub)}）各部门按期办结率", font=SUBHEAD_FONT, keep_next=True)
                _picture(sd, pictures["departments"], TEXT_WIDTH_MM)
    if last is not None:
        last.paragraph_format.keep_with_next = True      # the last requirement stays with the signature
    marker._p.getparent().remove(marker._p)
    return True


def context(doc: Document) -> dict:
    tables = {t.key: t for t in doc.tables()}
    sec = {s.title: s for s in doc.sections}

    def first_paragraph(title: str, default: str = "") -> str:
        s = sec.get(title)
        return s.paragraphs[0] if s and s.paragraphs else default

    ctx = {
        "issuer": doc.issuer, "number": doc.number, "issue_text": doc.issue_text, "title": doc.title,
        "addressee": doc.addressee, "period": doc.period, "scope": doc.scope, "summary": doc.summary,
        "issued_text": doc.issued_text, "intro": tight(doc.intro),
        "department_words": first_paragraph("各部门落实情况"),
        "overdue_words": first_paragraph("逾期未办事项"),
        "coverage_words": _coverage_words(doc, tables),
        "notice_words": first_paragraph("提醒催办情况"),
        "requirements": [f"（{numeral(i + 1)}）{t}" for i, t in enumerate(doc.requirements)],
        "method": doc.method_text,
        "cc_text": doc.cc_text, "printer": doc.printer or doc.issuer, "printed_date": doc.issued_text,
    }
    ctx["body"] = BODY_MARKER
    for name, key, _columns in TABLES:
        table = tables.get(key) or (tables.get("coverage_units") if key == "coverage" else None)
        # rows as attribute bags: in a template, r.items is the column, not the dict method
        ctx[name] = [] if table is None else [
            SimpleNamespace(**{c.key: table.text(row, c) for c in table.columns},
                            place=row.get("township") or row.get("unit"))
            for row in table.printed]
    return ctx


def _coverage_words(doc: Document, tables: dict) -> str:
    section = next((s for s in doc.sections if s.title == "重点关爱对象服务覆盖情况"), None)
    if section is None:
        return "本期无针对重点关爱对象的服务事项。"
    if "coverage" in tables:
        return "下表为各乡镇（街道）重点关爱对象走访、联系事项的完成情况。"
    return "下表为各地重点关爱对象走访、联系事项的完成情况。" + "".join(section.paragraphs)


def write_docx(doc: Document, path: Path, template: Path | None = None) -> None:
    source = str(template) if template else io.BytesIO(default_template())
    tpl = DocxTemplate(source)
    tpl.render(context(doc), autoescape=True)
    insert_body(tpl.docx, doc)
    props = tpl.docx.core_properties
    props.title, props.author = doc.title, doc.issuer
    tpl.save(str(path))


def write_template(path: Path) -> None:
    Path(path).write_bytes(default_template())
