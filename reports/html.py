"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no links out):
printable from a browser, and the source WeasyPrint turns into the PDF."""
from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from obligations.templating import environment
from reports import charts
from reports.document import Document, column_widths, tight

TEMPLATES = Path(__file__).parent / "templates"
FONT_STACK = "'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"

_env = environment(TEMPLATES)
_env.filters["tight"] = tight


def role_stacks(font: str | None = None) -> dict[str, Markup]:
    """A CSS font stack per role (title 小标宋, heading 黑, subheading 楷, body 仿宋): the installed
    family fontconfig finds for the role first (what WeasyPrint uses), then the faces a reader's
    own machine may have, then the configured font and the sans-serif stack."""
    from reports.pdf import ROLE_FONTS, ReportFontError, role_fonts

    try:
        chosen = role_fonts(font or "WenQuanYi Zen Hei")
    except ReportFontError:       # no fontconfig: a browser picks from the faces named
        chosen = {}
    out = {}
    for role, faces in ROLE_FONTS.items():
        fallback = [n.strip().strip("'") for n in FONT_STACK.split(",")[:-1]]
        names = dict.fromkeys([*([chosen[role]] if role in chosen else []), *faces, *([font] if font else []), *fallback])
        generic = "serif" if role in ("title", "body") else "sans-serif"
        out[role] = Markup(", ".join(f"'{n}'" for n in names) + f", {generic}")
    return out


def render_html(doc: Document, *, font: str | None = None) -> str:
    if font and not re.fullmatch(r"[\w .-]+", font):
        raise ValueError(f"字体名称 {font!r} 含有不允许的字符")
    stack = Markup(f"'{font}', {FONT_STACK}" if font else FONT_STACK)
    chart_svgs = {"departments": charts.department_bars(doc.data.by_department),
                  "heat": charts.heat_map(doc.data.heat, doc.data.months)}
    return _env.get_template("report.html.j2").render(doc=doc, charts=chart_svgs, font_stack=stack,
                                                      fonts=role_stacks(font), column_widths=column_widths)
