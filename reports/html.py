"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no links out):
printable from a browser, and the source WeasyPrint turns into the PDF."""
from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from obligations.templating import environment
from reports import charts
from reports.document import Document

TEMPLATES = Path(__file__).parent / "templates"
FONT_STACK = "'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"

_env = environment(TEMPLATES)


def render_html(doc: Document, *, font: str | None = None) -> str:
    if font and not re.fullmatch(r"[\w .-]+", font):
        raise ValueError(f"字体名称 {font!r} 含有不允许的字符")
    stack = Markup(f"'{font}', {FONT_STACK}" if font else FONT_STACK)
    chart_svgs = {"departments": charts.department_bars(doc.data.by_department),
                  "heat": charts.heat_map(doc.data.heat, doc.data.months)}
    return _env.get_template("report.html.j2").render(doc=doc, charts=chart_svgs, font_stack=stack)
