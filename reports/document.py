"""The report as a document: its title, the issuing office, a summary in words and the numbered
sections with their tables. Every format (HTML, PDF, XLSX, DOCX) renders this one structure, so
a number reads the same in all of them; cells keep the raw value and its text side by side."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from obligations.timeliness import GRACE_DAYS, rules_text
from obligations.words import (
    NOTICE_KIND_NAMES,
    UNIT_LEVEL_NAMES,
    clause_label,
    date_words,
    numeral,
    period_label,
    period_words,
)
from reports.data import ReportData

ORIGIN_NAMES = {"stated": "原文规定周期的任务", "policy": "原文未定周期、按统一要求报送的任务",
                "assigned": "交办任务（批示、会议、来文等）"}


def rate_text(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def delta_text(v: float | None) -> str:
    if v is None:
        return "—"
    pts = v * 100
    if abs(pts) < 0.05:
        return "持平"
    return f"{'上升' if pts > 0 else '下降'} {abs(pts):.1f} 个百分点"


def int_text(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def date_text(v: dt.date | str | None) -> str:
    return "—" if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v))


def score_text(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "text": lambda v: "" if v is None else str(v), "int": int_text, "rate": rate_text, "delta": delta_text,
    "date": date_text, "score": score_text,
}


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"           # text | int | rate | delta | date | score (one decimal)
    width: int = 10              # a spreadsheet column width in characters (CJK count double)


@dataclass
class Table:
    key: str                      # a stable id: sheet and anchor names
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""
    printed_rows: int | None = None   # the printed formats (HTML, PDF, Word) show this many; the workbook all
    more_note: str = ""               # what the printed formats say about the rows they leave out

    def text(self, row: dict[str, Any], col: Column) -> str:
        return FORMATTERS[col.kind](row.get(col.key))

    @property
    def printed(self) -> list[dict[str, Any]]:
        return self.rows if self.printed_rows is None else self.rows[:self.printed_rows]


@dataclass
class Section:
    number: str                   # 一、二、…
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Document:
    title: str
    issuer: str
    number: str
    issued_on: dt.date
    period: str
    scope: str
    summary: str
    sections: list[Section]
    data: ReportData
    addressee: str = "各有关单位"
    requirements: list[str] = field(default_factory=list)
    detail_tables: list[Table] = field(default_factory=list)   # too long to print: the workbook only
    series: str = "督查通报"             # the name of the series the issue number counts in
    issue_no: int | None = None         # 期号: counted per year and issuer (storage/report_issues.py)
    cc: list[str] = field(default_factory=list)       # 抄送
    printer: str = ""                   # 印发机关 (default: the issuer)
    method: list[str] = field(default_factory=list)            # how on time is judged (obligations.timeliness)
    scoring: list[str] = field(default_factory=list)           # how scores are given (obligations.scoring)

    @property
    def method_text(self) -> str:
        text = "按期判定规则：" + "".join(f"（{i + 1}）{rule}" for i, rule in enumerate(self.method)) if self.method else ""
        if self.scoring:
            text += "考核评分规则：" + "".join(f"（{i + 1}）{rule}" for i, rule in enumerate(self.scoring))
        return text

    @property
    def issued_text(self) -> str:
        return date_words(self.issued_on)

    @property
    def issue_text(self) -> str:
        """督查通报〔2025〕第12期, or nothing for a report not issued (a draft)."""
        return f"{self.series}〔{self.issued_on.year}〕第{self.issue_no}期" if self.issue_no else ""

    @property
    def intro(self) -> str:
        return (f"为推动{self.data.plan_title if self.data.plan else '流动儿童关爱保护各项任务'}落到实处，"
                f"现将{self.period}{self.scope}任务落实情况通报如下。")

    @property
    def cc_text(self) -> str:
        return "，".join(self.cc)

    @property
    def printed_text(self) -> str:
        """The 版记's last line: 印发机关 and 印发日期."""
        return f"{self.printer or self.issuer}　　{date_words(self.issued_on)}印发"

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]


COUNT_COLUMNS = [
    Column("total", "应办", "int", 9), Column("done", "按期办结", "int", 9),
    Column("done_late", "逾期办结", "int", 9), Column("overdue", "逾期未办", "int", 9),
    Column("pending", "未到期", "int", 8), Column("waived", "已豁免", "int", 8),
    Column("submitted", "待审核", "int", 8),
    Column("on_time_rate", "按期率", "rate", 9), Column("completion_rate", "办结率", "rate", 9),
]

DEFAULT_REQUIREMENTS = [
    "对逾期未办事项，各责任单位要在收到本通报后5个工作日内办结，并在督办系统中登记办理情况。",
    "按期办结率低于80%的单位，要分析原因、明确整改措施，书面报送督查室。",
    "各地各部门要对照实施方案的任务分工，落实专人负责，确保各项关爱保护措施按期落到实处。",
]


def _count_row(row: dict[str, Any], **labels: Any) -> dict[str, Any]:
    return {**labels, **{c.key: row.get(c.key) for c in COUNT_COLUMNS}, "pending": row["open"] + row["due_soon"]}


def scope_text(data: ReportData) -> str:
    if data.jurisdiction is None:
        return "全部地区"
    return f"{data.jurisdiction}{'及所辖地区' if data.children else '（本级）'}"


def summary_text(data: ReportData) -> str:
    t, n = data.totals, data.notices
    parts = [f"{period_words(data.start, data.end)}，{scope_text(data)}纳入督办的{data.plan_title}任务"
             f"应办事项 {t['total']:,} 项（截至{date_words(data.as_of)}）"]
    if t["total"]:
        parts.append(f"其中按期办结 {t['done']:,} 项、逾期办结 {t['done_late']:,} 项、逾期未办 {t['overdue']:,} 项、"
                     f"未到期 {t['open'] + t['due_soon']:,} 项、已豁免 {t['waived']:,} 项"
                     + (f"、待审核 {t['submitted']:,} 项" if t.get("submitted") else "")
                     + (f"；办结情况被退回 {data.returns:,} 次" if data.returns else "")
                     + (f"；{data.confirmations_missing:,} 项事项的协办部门到期未确认" if data.confirmations_missing else ""))
        rate = f"按期办结率 {rate_text(t['on_time_rate'])}，办结率 {rate_text(t['completion_rate'])}"
        if data.previous is not None and data.trend.get("on_time_rate") is not None:
            rate += (f"，按期办结率较上期（{period_words(data.previous_start, data.previous_end)}，"
                     f"{rate_text(data.previous['on_time_rate'])}）{delta_text(data.trend['on_time_rate'])}")
        parts.append(rate)
    if n["total"]:
        parts.append(f"期间发出到期提醒 {n['remind'] + n['due']:,} 项次、逾期催办 {n['overdue']:,} 项次、"
                     f"逾期督办 {n['escalate']:,} 项次")
    return "；".join(parts) + "。"


def build_document(data: ReportData, *, issuer: str, issued_on: dt.date, number: str = "",
                   requirements: list[str] | None = None, overdue_rows: int = 50,
                   detail_rows: int = 60, issue_no: int | None = None, series: str = "督查通报",
                   cc: list[str] | None = None, printer: str = "", grace_days: int = GRACE_DAYS) -> Document:
    """``detail_rows``: a township table longer than this is left to the workbook (a province
    has a thousand townships); the other formats show it rolled up by unit. ``overdue_rows``:
    the printed formats list this many overdue items, the workbook every one the data holds."""
    period = period_words(data.start, data.end)
    sections: list[Section] = []
    detail: list[Table] = []

    def add(title: str, **kw) -> Section:
        s = Section(numeral(len(sections) + 1), title, **kw)
        sections.append(s)
        return s

    add("总体情况", paragraphs=[summary_text(data)], tables=[Table(
        "summary", "总体情况", [Column("item", "项目", "text", 16), Column("value", "数量", "int", 12),
                            Column("rate", "比率", "rate", 10)],
        [{"item": "应办事项", "value": data.totals["total"], "rate": None},
         {"item": "按期办结", "value": data.totals["done"], "rate": data.totals["on_time_rate"]},
         {"item": "逾期办结", "value": data.totals["done_late"], "rate": None},
         {"item": "逾期未办", "value": data.totals["overdue"], "rate": None},
         {"item": "未到期", "value": data.totals["open"] + data.totals["due_soon"], "rate": None},
         {"item": "已豁免", "value": data.totals["waived"], "rate": None},
         {"item": "待审核", "value": data.totals["submitted"], "rate": None},
         {"item": "退回次数", "value": data.returns, "rate": None},
         *([{"item": "协办部门到期未确认", "value": data.confirmations_missing, "rate": None}]
           if data.confirmations_missing else []),      # items whose co-departments had not all confirmed (协办确认)
         {"item": "办结（按期与逾期）", "value": data.totals["done"] + data.totals["done_late"],
          "rate": data.totals["completion_rate"]}],
        note="按期率（按期办结率）= 按期办结 ÷（按期办结 + 逾期办结 + 逾期未办）；办结率 =（按期办结 + 逾期办结）÷ 同一分母；"
             "未到期、已豁免与待审核（已登记办结、等待协调员审核）事项不计入。按期与否的判定规则：" + "".join(
                 f"（{i + 1}）{rule}" for i, rule in enumerate(rules_text(grace_days))))])     # the workbook's note

    dept_cols = [Column("name", "责任部门", "text", 22), *COUNT_COLUMNS,
                 Column("previous_on_time_rate", "上期按期率", "rate", 10), Column("trend", "变化", "delta", 16)]
    add("各部门落实情况", paragraphs=[_department_words(data)], tables=[Table(
        "departments", "各部门落实情况（按期办结率由低到高排列）", dept_cols,
        [_count_row(r, name=r["name"], previous_on_time_rate=r.get("previous_on_time_rate"), trend=r.get("trend"))
         for r in data.by_department])])
    heat_cols = [Column("name", "责任部门", "text", 22)] + [
        Column(m, f"{int(m[5:])}月" if data.start.year == data.end.year else f"{m[:4]}年{int(m[5:])}月", "rate", 8)
        for m in data.months]
    sections[-1].tables.append(Table(
        "heat", "各部门分月按期办结率", heat_cols,
        [{"name": h["name"], **{m: r["on_time_rate"] for m, r in h["months"].items()}} for h in data.heat],
        note="按应办日期所在月份统计；“—”表示该月无到期事项。"))

    unit_cols = [Column("unit", "地区", "text", 18), Column("level_name", "层级", "text", 10), *COUNT_COLUMNS]
    add("各地落实情况", tables=[Table("units", "各地落实情况", unit_cols,
                                 [_count_row(r, unit=r["unit"], level_name=UNIT_LEVEL_NAMES.get(r["level"], r["level"]))
                                  for r in data.by_unit])])

    clause_cols = [Column("clause", "条款", "text", 10), Column("title", "任务", "text", 36), *COUNT_COLUMNS]
    multi_plan = data.plan is None and len({r["plan"] for r in data.by_clause}) > 1
    if multi_plan:
        clause_cols.insert(0, Column("plan_place", "计划（地方）", "text", 12))
    origin_rows = [_count_row(r, origin=ORIGIN_NAMES.get(r["origin"], r["origin"])) for r in data.by_origin]
    add("各项任务落实情况", tables=[
        Table("clauses", "分条款落实情况", clause_cols,
              [_count_row(r, plan_title=r["plan_title"], plan_place=r["plan_place"],
                          clause="交办" if r["clause"] == "assigned" else clause_label(r["clause"]),
                          title=r["title"] or "")
               for r in data.by_clause]),
        Table("origins", "原文规定周期与统一要求报送的任务", [Column("origin", "任务类别", "text", 34), *COUNT_COLUMNS],
              origin_rows)])

    overdue_cols = [Column("rank", "序号", "int", 6), Column("unit", "地区", "text", 14),
                    Column("department", "责任部门", "text", 18), Column("clause", "条款", "text", 14),
                    Column("what", "事项", "text", 30), Column("period", "期间", "text", 12),
                    Column("due", "应办日期", "date", 12), Column("days_late", "逾期天数", "int", 9),
                    Column("progress", "进度", "text", 8), Column("escalation", "督办级别", "text", 10),
                    Column("case", "关爱对象", "text", 12)]
    rows = [{**r, "rank": i + 1, "clause": clause_label(r["clause"]), "due": dt.date.fromisoformat(r["due"]),
             "progress": f"{r['done']}/{r['required']}",
             "period": period_label(r["period"]) + (f"（已延期，原应办日期 {r['original_due']}）"
                                                    if r.get("original_due") else ""),
             "escalation": "—" if not r["escalation"] else f"{numeral(r['escalation'])}级督办",
             "case": r["case"] or ""} for i, r in enumerate(data.overdue_items)]
    printed = min(len(rows), overdue_rows)
    left_out = data.overdue_total - printed
    more = f"另有 {left_out:,} 项未列出，见 Excel 台账（“逾期事项”工作表）。" if left_out > 0 else ""
    if not data.overdue_total:
        words = f"截至{date_words(data.as_of)}，无逾期未办事项。"
    elif left_out > 0:
        words = f"截至{date_words(data.as_of)}，逾期未办事项共 {data.overdue_total:,} 项，下表按逾期时间由长到短列出前 {printed:,} 项，{more}"
    else:
        words = f"截至{date_words(data.as_of)}，逾期未办事项共 {data.overdue_total:,} 项，逐项列出如下。"
    add("逾期未办事项", paragraphs=[words], tables=[Table(
        "overdue", "逾期未办事项", overdue_cols, rows, printed_rows=printed, more_note=more)] if rows else [])

    if data.case_coverage:
        def cov_cols(first: Column) -> list[Column]:
            return [first, Column("what", "关爱服务事项", "text", 26), Column("items", "应办事项", "int", 9),
                    Column("complete_items", "已完成事项", "int", 10), Column("coverage", "完成率", "rate", 9),
                    Column("done", "完成次数", "int", 10), Column("required", "应完成次数", "int", 10)]
        towns = Table("coverage", "重点关爱对象走访联系情况（按乡镇）", cov_cols(Column("township", "乡镇（街道）", "text", 16)),
                      data.case_coverage)
        by_unit = Table("coverage_units", "重点关爱对象走访联系情况（按地区）", cov_cols(Column("unit", "地区", "text", 16)),
                        data.case_coverage_units)
        shown = [by_unit] if len(data.case_coverage_units) > 1 or len(towns.rows) > detail_rows else []
        words = []
        if len(towns.rows) <= detail_rows:
            shown.append(towns)
        else:
            words.append(f"各乡镇（街道）明细共 {len(towns.rows):,} 行，见本通报的 Excel 版（“关爱覆盖”工作表）。")
            detail.append(towns)
        add("重点关爱对象服务覆盖情况", paragraphs=words, tables=shown)

    if data.progress.get("long_open") or data.progress.get("reports") or data.notices.get("feedback"):
        add("长期事项进度反馈", **progress_section(data))
    add("提醒催办情况", **notice_section(data))

    if data.scores:
        add("考核评分", **score_section(data))

    add("下一步工作要求", paragraphs=[f"（{numeral(i + 1)}）{t}" for i, t in enumerate(requirements or DEFAULT_REQUIREMENTS)])
    plan_part = data.plan_title if data.plan else "流动儿童关爱保护工作"
    return Document(title=f"关于{period}{plan_part}落实情况的督查通报", issuer=issuer, number=number,
                    issued_on=issued_on, period=period, scope=scope_text(data), summary=summary_text(data),
                    sections=sections, data=data, requirements=requirements or DEFAULT_REQUIREMENTS,
                    detail_tables=detail, series=series, issue_no=issue_no, cc=list(cc or []), printer=printer,
                    method=rules_text(grace_days), scoring=list(data.scores.get("rules", [])))


def notice_section(data: ReportData) -> dict[str, list]:
    """The notice section's paragraphs and tables. Each figure about notices is one more
    paragraph or table appended here; every format renders the section whatever it holds."""
    n = data.notices
    rows = [{"kind": NOTICE_KIND_NAMES[k], "count": n.get(k, 0), "sent": n.get(f"{k}_sent", 0)}
            for k in ("remind", "due", "overdue", "escalate", "urge") + (("feedback",) if n.get("feedback") else ())]
    tables = [Table("notices", "提醒、催办与督办通知", [
        Column("kind", "通知类别", "text", 14), Column("count", "涉及事项（项次）", "int", 14),
        Column("sent", "已送达（项次）", "int", 14)], rows)]
    if data.deliveries:
        tables.append(Table("deliveries", "各渠道送达情况", [
            Column("name", "通知渠道", "text", 12), Column("digests", "汇总通知（份）", "int", 12),
            Column("notices", "涉及事项（项次）", "int", 14), Column("sent", "已送达（项次）", "int", 12),
            Column("dead", "发送失败（项次）", "int", 12), Column("waiting", "待发送（项次）", "int", 12)],
            list(data.deliveries)))
    return {"paragraphs": [notice_words(data)], "tables": tables}


# -- 考核评分 (scores) ------------------------------------------------------------------------

def score_columns(first: Column) -> list[Column]:
    return [Column("rank", "名次", "int", 6), first, Column("score", "得分", "score", 8),
            Column("on_time", "按期办结", "int", 9), Column("late", "逾期办结", "int", 9),
            Column("overdue", "逾期未办", "int", 9), Column("returned", "退回（次）", "int", 9),
            Column("extended", "延期（次）", "int", 9)]


SCORE_NOTE = ("得分 = 实得分 ÷ 应得分 × 满分（评分规则见文末说明）；名次相同的为并列；"
              "本期无到期事项的不评分，名次、得分记为“—”，列于表末。")


def score_section(data: ReportData) -> dict[str, list]:
    """The scoring section: a sentence on the highest and lowest, the departments' and the
    units' tables (data.scores)."""
    sc = data.scores
    depts = Table("scores", "各部门考核得分（按得分由高到低排列）", score_columns(Column("name", "责任部门", "text", 22)),
                  [dict(r) for r in sc["departments"]], note=SCORE_NOTE)
    units = Table("scores_units", "各地考核得分（按得分由高到低排列）", score_columns(Column("unit", "地区", "text", 18)),
                  [dict(r) for r in sc["units"]], note=SCORE_NOTE)
    return {"paragraphs": [score_words(sc)], "tables": [depts, units] if len(units.rows) > 1 else [depts]}


def score_words(sc: dict[str, Any]) -> str:
    parts = []
    for what, rows, label in (("部门", sc["departments"], "name"), ("地区", sc["units"], "unit")):
        scored = [r for r in rows if r["score"] is not None]
        if not scored:
            continue
        first = [r[label] for r in scored if r["rank"] == 1]
        last_rank = scored[-1]["rank"]
        last = [r[label] for r in scored if r["rank"] == last_rank]
        text = f"参评{what} {len(scored)} 个，得分最高的是{'、'.join(first)}（{score_text(scored[0]['score'])}分"
        text += "，并列）" if len(first) > 1 else "）"
        if last_rank != 1:
            text += f"，最低的是{'、'.join(last)}（{score_text(scored[-1]['score'])}分" + ("，并列）" if len(last) > 1 else "）")
        parts.append(text)
    if not parts:
        return "本期尚无到期事项，未进行考核评分。"
    return "按考核评分规则，本期" + "；".join(parts) + "。"


def notice_words(data: ReportData) -> str:
    n = data.notices
    if not n["total"]:
        return "本期未发出提醒、催办或督办通知。"
    urged = f"协调员催办 {n['urge']:,} 项次、" if n.get("urge") else ""
    urged += f"进度反馈提醒 {n['feedback']:,} 项次、" if n.get("feedback") else ""
    return (f"本期督办系统共发出到期提醒 {n['remind'] + n['due']:,} 项次、逾期催办 {n['overdue']:,} 项次、"
            f"逾期督办 {n['escalate']:,} 项次，{urged}已送达 {n['sent']:,} 项次。")


def _department_words(data: ReportData) -> str:
    rated = [r for r in data.by_department if r["on_time_rate"] is not None]
    if not rated:
        return "本期各部门尚无到期事项。"
    best = max(rated, key=lambda r: (r["on_time_rate"], r["owed"]))
    worst = rated[0]
    if best["on_time_rate"] == worst["on_time_rate"]:
        return f"本期有到期事项的部门 {len(rated)} 个，按期办结率均为 {rate_text(best['on_time_rate'])}。"
    text = (f"本期有到期事项的部门 {len(rated)} 个。按期办结率最高的是{best['name']}（{rate_text(best['on_time_rate'])}），"
            f"最低的是{worst['name']}（{rate_text(worst['on_time_rate'])}")
    text += f"，逾期未办 {worst['overdue']:,} 项）。" if worst["overdue"] else "）。"
    return text


def display_width(text: str) -> int:
    """Width in half-em units: a CJK character counts 2, a Latin letter or digit 1."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def column_widths(table: Table, total: float, *, padding: int = 2) -> list[float]:
    """Column widths for a printed table ``total`` half-ems wide: numbers, rates and dates get
    what their longest cell needs (they never wrap); a header may wrap onto two lines; the text
    columns share the rest in proportion to what they would need on one line."""
    rows = table.printed
    need, fixed = [], []
    for c in table.columns:
        cells = max((display_width(table.text(r, c)) for r in rows), default=0)
        head = -(-display_width(c.label) // 2)                    # the header on two lines
        if c.kind == "text":
            need.append(max(cells, head, 4) + padding)
            fixed.append(False)
        else:
            need.append(max(cells, head) + padding)
            fixed.append(True)
    numbers = sum(n for n, f in zip(need, fixed, strict=True) if f)
    text = sum(n for n, f in zip(need, fixed, strict=True) if not f)
    if numbers + text <= total:
        spare = total - numbers - text            # to the text columns, or to all when there are none
        share = [n if not f else 0 for n, f in zip(need, fixed, strict=True)] if text else need
        return [n + spare * s / sum(share) for n, s in zip(need, share, strict=True)]
    if numbers >= total * 0.8 or not text:         # too many numbers: scale everything
        return [n * total / (numbers + text) for n in need]
    room = total - numbers          # the text columns share what is left: the short ones whole, the long ones wrap
    out = list(need)
    waiting = sorted((n, j) for j, (n, f) in enumerate(zip(need, fixed, strict=True)) if not f)
    while waiting:
        fair = room / len(waiting)
        n, j = waiting[0]
        if n <= fair:
            out[j], room = n, room - n
            waiting.pop(0)
        else:                       # the long ones in proportion to their length
            rest = sum(m for m, _ in waiting)
            for m, k in waiting:
                out[k] = room * m / rest
            break
    return out


_LOOSE = re.compile(r"(?<=[\u2e80-\uffef]) (?=\S)|(?<=\S) (?=[\u2e80-\uffef])")


def tight(text: str) -> str:
    """Printed Chinese takes no space between a character and a number (“应办事项 2,168 项” reads
    “应办事项2,168项” in a 公文); a justified line would stretch those spaces."""
    return _LOOSE.sub("", text)


def progress_section(data: ReportData) -> dict[str, list]:
    """长期事项进度反馈 (reports/progress.py): a paragraph and the table of the least advanced open long
    items (none reported first)."""
    p = data.progress
    reminded = data.notices.get("feedback", 0)
    words = (f"本期各单位报送进度反馈 {p['reports']:,} 条"
             + (f"，督办系统发出进度反馈提醒 {reminded:,} 项次" if reminded else "") + "。截至{date_words(data.as_of)}，期限在 {p['min_period_days']} 天及以上、"
             f"尚未办结的长期事项 {p['long_open']:,} 项，其中已反馈进度 {p['with_progress']:,} 项")
    words += (f"，平均最新进度 {p['average_percent']:.1f}%。" if p["average_percent"] is not None else "。")
    rows = [{"rank": i + 1, "unit": x["unit"], "department": x["department"],
             "clause": "交办" if x["clause"] == "assigned" else clause_label(x["clause"]), "what": x["what"],
             "due": dt.date.fromisoformat(x["due"]), "percent": "未反馈" if x["percent"] is None else f"{x['percent']}%",
             "reported_on": dt.date.fromisoformat(x["reported_on"]) if x["reported_on"] else None}
            for i, x in enumerate(p["items"])]
    cols = [Column("rank", "序号", "int", 6), Column("unit", "地区", "text", 14), Column("department", "责任部门", "text", 18),
            Column("clause", "条款", "text", 12), Column("what", "事项", "text", 30), Column("due", "应办日期", "date", 12),
            Column("percent", "最新进度", "text", 10), Column("reported_on", "反馈日期", "date", 12)]
    if rows:
        words += f"下表列出进度最慢的 {len(rows)} 项（未反馈的在前）。"
    return {"paragraphs": [words],
            "tables": [Table("progress", "长期事项最新进度", cols, rows)] if rows else []}
