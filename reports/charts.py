"""SVG charts for the HTML and PDF reports: pure functions from the report's rows to an SVG
string (inline, no scripts, no external files), so the HTML stays self-contained and WeasyPrint
draws the same picture."""
from __future__ import annotations

from html import escape
from typing import Any

from reports.document import rate_text

FONT = "'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"


def rate_colour(rate: float | None) -> str:
    """Red below 60 %, amber to 80 %, then shades of green; grey when nothing was owed."""
    if rate is None:
        return "#eeeeee"
    if rate < 0.6:
        return "#d9534f"
    if rate < 0.8:
        return "#f0ad4e"
    if rate < 0.9:
        return "#9ccc65"
    return "#43a047"


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E7F else size * 0.55 for ch in text)


def department_bars(rows: list[dict[str, Any]], *, width: int = 640, bar_height: int | None = None,
                    gap: int = 5) -> str:
    """Horizontal bars: the on-time rate of each department with items owed, lowest first."""
    rows = [r for r in rows if r.get("on_time_rate") is not None]
    if not rows:
        return ""
    bar_height = bar_height or (16 if len(rows) <= 12 else 12)
    size = 11
    label_w = min(max(_text_width(r["name"], size) for r in rows) + 8, 190)
    value_w = 48
    plot_w = width - label_w - value_w
    top, axis_h = 6, 18
    height = top + len(rows) * (bar_height + gap) + axis_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{size}" role="img" '
           f'aria-label="各部门按期办结率">']
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x = label_w + plot_w * tick
        out.append(f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{height - axis_h}" stroke="#dddddd" '
                   f'stroke-width="0.6"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 5}" text-anchor="middle" fill="#666666">{int(tick * 100)}%</text>')
    for i, r in enumerate(rows):
        y = top + i * (bar_height + gap)
        w = plot_w * r["on_time_rate"]
        out.append(f'<text x="{label_w - 6:.1f}" y="{y + bar_height - 4}" text-anchor="end">{escape(r["name"])}</text>')
        out.append(f'<rect x="{label_w:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                   f'fill="{rate_colour(r["on_time_rate"])}"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 4}">{rate_text(r["on_time_rate"])}</text>')
    out.append("</svg>")
    return "".join(out)


def heat_map(heat: list[dict[str, Any]], months: list[str], *, width: int = 640) -> str:
    """Departments × months: each cell coloured by that month's on-time rate, with the rate."""
    rows = [h for h in heat if h["months"]]
    if not rows or not months:
        return ""
    size = 10
    label_w = min(max(_text_width(h["name"], size) for h in rows) + 8, 190)
    cell_w = min((width - label_w) / len(months), 64)
    cell_h, head = 18, 18
    width = int(label_w + cell_w * len(months)) + 2
    height = head + cell_h * len(rows) + 2
    same_year = len({m[:4] for m in months}) == 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{size}" role="img" '
           f'aria-label="各部门分月按期办结率">']
    for j, m in enumerate(months):
        label = f"{int(m[5:])}月" if same_year else f"{m[2:4]}年{int(m[5:])}月"
        x = label_w + j * cell_w + cell_w / 2
        out.append(f'<text x="{x:.1f}" y="{head - 5}" text-anchor="middle" fill="#444444">{label}</text>')
    for i, h in enumerate(rows):
        y = head + i * cell_h
        out.append(f'<text x="{label_w - 6:.1f}" y="{y + cell_h - 5}" text-anchor="end">{escape(h["name"])}</text>')
        for j, m in enumerate(months):
            cell = h["months"].get(m)
            rate = cell["on_time_rate"] if cell else None
            x = label_w + j * cell_w
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                       f'fill="{rate_colour(rate)}"/>')
            if rate is not None and cell_w >= 30:
                colour = "#ffffff" if rate < 0.6 or rate >= 0.9 else "#222222"
                out.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h - 5}" text-anchor="middle" '
                           f'fill="{colour}">{round(rate * 100)}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- the same charts as pictures (Word)

def _pil_font(size: int):
    """A CJK font for Pillow (the installed 黑体-like face), or None where none is installed."""
    from PIL import ImageFont

    from reports.pdf import ReportFontError, font_file, role_fonts

    try:
        return ImageFont.truetype(str(font_file(role_fonts()["heading"])), size)
    except (ReportFontError, OSError):
        return None


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def department_bars_png(rows: list[dict[str, Any]], *, scale: int = 3) -> bytes | None:
    """The department bars as a PNG (Word cannot show inline SVG everywhere); None without a font."""
    from PIL import Image, ImageDraw

    rows = [r for r in rows if r.get("on_time_rate") is not None]
    font = _pil_font(11 * scale)
    if not rows or font is None:
        return None
    s = scale
    bar, gap, width = 16 * s, 6 * s, 640 * s
    label_w = min(max(font.getlength(r["name"]) for r in rows) + 10 * s, 200 * s)
    value_w, top, axis_h = 52 * s, 6 * s, 20 * s
    plot_w = width - label_w - value_w
    height = top + len(rows) * (bar + gap) + axis_h
    img = Image.new("RGB", (int(width), int(height)), "white")
    d = ImageDraw.Draw(img)
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x = label_w + plot_w * tick
        d.line([(x, top - 2 * s), (x, height - axis_h)], fill=(221, 221, 221), width=max(1, s // 2))
        d.text((x, height - 3 * s), f"{int(tick * 100)}%", font=font, fill=(102, 102, 102), anchor="ms")
    for i, r in enumerate(rows):
        y = top + i * (bar + gap)
        w = plot_w * r["on_time_rate"]
        d.text((label_w - 6 * s, y + bar / 2), r["name"], font=font, fill="black", anchor="rm")
        d.rectangle([label_w, y, label_w + max(w, 1), y + bar], fill=_rgb(rate_colour(r["on_time_rate"])))
        d.text((label_w + w + 4 * s, y + bar / 2), rate_text(r["on_time_rate"]), font=font, fill="black", anchor="lm")
    return _png(img)


def heat_map_png(heat: list[dict[str, Any]], months: list[str], *, scale: int = 3) -> bytes | None:
    """The department × month heat map as a PNG; None without a font."""
    from PIL import Image, ImageDraw

    rows = [h for h in heat if h["months"]]
    font = _pil_font(10 * scale)
    if not rows or not months or font is None:
        return None
    s = scale
    label_w = min(max(font.getlength(h["name"]) for h in rows) + 10 * s, 200 * s)
    cell_w, cell_h, head = 40 * s, 20 * s, 20 * s
    width, height = int(label_w + cell_w * len(months) + 2 * s), int(head + cell_h * len(rows) + 2 * s)
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    same_year = len({m[:4] for m in months}) == 1
    for j, m in enumerate(months):
        label = f"{int(m[5:])}月" if same_year else f"{m[2:4]}年{int(m[5:])}月"
        d.text((label_w + j * cell_w + cell_w / 2, head / 2), label, font=font, fill=(68, 68, 68), anchor="mm")
    for i, h in enumerate(rows):
        y = head + i * cell_h
        d.text((label_w - 6 * s, y + cell_h / 2), h["name"], font=font, fill="black", anchor="rm")
        for j, m in enumerate(months):
            cell = h["months"].get(m)
            rate = cell["on_time_rate"] if cell else None
            x = label_w + j * cell_w
            d.rectangle([x, y, x + cell_w - s, y + cell_h - s], fill=_rgb(rate_colour(rate)))
            if rate is not None:
                colour = "white" if rate < 0.6 or rate >= 0.9 else (34, 34, 34)
                d.text((x + cell_w / 2, y + cell_h / 2), str(round(rate * 100)), font=font, fill=colour, anchor="mm")
    return _png(img)


def _png(img) -> bytes:
    import io

    out = io.BytesIO()
    img.save(out, "PNG", optimize=True, dpi=(288, 288))
    return out.getvalue()


def png_charts(data) -> dict[str, bytes]:
    """The report's charts as PNGs by table key (those that can be drawn)."""
    out = {"departments": department_bars_png(data.by_department), "heat": heat_map_png(data.heat, data.months)}
    return {k: v for k, v in out.items() if v}
