"""Issuing a 督查通报: the one door that allots its number (期号), counted per issuer and year
(督查通报〔2025〕第12期), and records who issued which report when, with an audit row.

The same report (issuer, year, period, plan, jurisdiction, with or without the units below)
written again — in another format, or corrected — keeps the number it was given. A number can
be given instead of allotted (an office continuing its paper series); one already used for
another report of the issuer that year is refused."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from obligations.errors import DubanError
from obligations.periods import period_key
from obligations.words import date_words, period_words
from storage import audit
from storage.tables import IssuedReport

MAX_NUMBER = 9999
MAX_CC = 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f<>]")


class ReportIssueError(DubanError, ValueError):
    prefix = "无法印发通报"


def issue_text(series: str, year: int, number: int) -> str:
    return f"{series}〔{year}〕第{number}期"


def scope_key(start: dt.date, end: dt.date, plan: str | None, jurisdiction: str | None, children: bool) -> str:
    return "|".join((period_key(start, end), plan or "*", jurisdiction or "*", "children" if children else "own"))


def parse_cc(text: str | None) -> list[str]:
    """抄送 as typed: names separated by 、，, ; or new lines."""
    names = [n.strip() for n in re.split(r"[、，,;；\n]+", text or "") if n.strip()]
    for n in names:
        if len(n) > 100 or _CONTROL.search(n):
            raise ReportIssueError(f"抄送单位“{n[:20]}”过长或含有不允许的字符")
    if len(names) > MAX_CC:
        raise ReportIssueError(f"抄送单位最多 {MAX_CC} 个（现有 {len(names)} 个）")
    return names


def check_number(number: int | str | None) -> int | None:
    """A 期号 as typed (web form, CLI): empty for the next one, else 1 … 9999."""
    if number is None or (isinstance(number, str) and not number.strip()):
        return None
    try:
        n = int(str(number).strip())
    except ValueError:
        raise ReportIssueError(f"期号“{str(number)[:20]}”不是整数（如 12，表示第12期）") from None
    if not 1 <= n <= MAX_NUMBER:
        raise ReportIssueError(f"期号须在 1 至 {MAX_NUMBER} 之间（收到 {n}）")
    return n


def issue(session: Session, *, issuer: str, series: str, issued_on: dt.date, start: dt.date, end: dt.date,
          plan: str | None, jurisdiction: str | None, children: bool, actor: str, number: int | str | None = None,
          cc: list[str] | None = None, at: dt.datetime | None = None) -> IssuedReport:
    """Allot (or confirm) the report's number and record the issue; the caller commits."""
    issuer, series = (issuer or "").strip(), (series or "").strip()
    if not issuer or len(issuer) > 200 or _CONTROL.search(issuer):
        raise ReportIssueError("发文单位不能为空，不超过 200 字，且不含控制字符")
    if not series or len(series) > 32 or _CONTROL.search(series):
        raise ReportIssueError("通报名称（如 督查通报）不能为空，不超过 32 字")
    wanted = check_number(number)
    cc = parse_cc("、".join(cc or []))
    year, key = issued_on.year, scope_key(start, end, plan, jurisdiction, children)
    now = at or dt.datetime.now(dt.timezone.utc)
    mine = session.scalar(select(IssuedReport).where(IssuedReport.issuer == issuer, IssuedReport.year == year,
                                                     IssuedReport.scope_key == key))
    if wanted is not None:
        other = session.scalar(select(IssuedReport).where(IssuedReport.issuer == issuer, IssuedReport.year == year,
                                                          IssuedReport.number == wanted, IssuedReport.scope_key != key))
        if other is not None:
            raise ReportIssueError(
                f"{issue_text(series, year, wanted)}已用于{period_words(other.period_start, other.period_end)}"
                f"{other.jurisdiction or '全部地区'}的通报（{other.issued_by}，{date_words(other.issued_on)}），"
                f"请另选期号或留空自动编号")
    if mine is not None:
        before = {"number": mine.number, "issued_on": mine.issued_on, "cc": list(mine.cc)}
        changed = (wanted is not None and wanted != mine.number) or mine.issued_on != issued_on or (cc and cc != mine.cc)
        if changed:
            mine.number = wanted or mine.number
            mine.issued_on, mine.series = issued_on, series
            mine.cc = cc or list(mine.cc)
            mine.issued_by, mine.issued_at = actor, now
            audit.record(session, actor=actor, action="report.issue", object_type="report", object_id=mine.id,
                         before=before, after={"number": mine.number, "issued_on": issued_on, "cc": mine.cc,
                                               "text": issue_text(series, year, mine.number)}, at=now)
            session.flush()
        return mine
    for _attempt in range(5):     # two issuers racing for the same next number: the loser takes the one after
        n = wanted or (session.scalar(select(func.max(IssuedReport.number)).where(
            IssuedReport.issuer == issuer, IssuedReport.year == year)) or 0) + 1
        row = IssuedReport(issuer=issuer, year=year, number=n, series=series, scope_key=key, period_start=start,
                           period_end=end, plan_id=plan, jurisdiction=jurisdiction, issued_on=issued_on, issued_at=now,
                           issued_by=actor, cc=cc)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            mine = session.scalar(select(IssuedReport).where(IssuedReport.issuer == issuer, IssuedReport.year == year,
                                                             IssuedReport.scope_key == key))
            if mine is not None:      # the same report, issued a moment ago by another request
                return mine
            if wanted is not None:
                raise ReportIssueError(f"{issue_text(series, year, wanted)}刚被另一份通报占用，请另选期号") from None
            continue
        audit.record(session, actor=actor, action="report.issue", object_type="report", object_id=row.id,
                     after={"text": issue_text(series, year, n), "scope": key, "issued_on": issued_on, "cc": cc},
                     at=now)
        return row
    raise ReportIssueError("期号分配冲突，请重试")


def issued(session: Session, *, issuer: str | None = None, year: int | None = None, limit: int = 100) -> list[IssuedReport]:
    q = select(IssuedReport).order_by(IssuedReport.year.desc(), IssuedReport.number.desc()).limit(limit)
    if issuer:
        q = q.where(IssuedReport.issuer == issuer)
    if year:
        q = q.where(IssuedReport.year == year)
    return list(session.scalars(q))
