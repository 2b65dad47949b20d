"""What every page module shares: the id bound, redirects, dates, refusals and uploads."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import Path as PathParam
from fastapi import Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from obligations.errors import DubanError
from obligations.periods import parse_period
from obligations.words import period_words
from storage import evidence as evidence_files
from storage import workflow
from storage.evidence import Evidence
from web.templating import today

ItemId = PathParam(..., ge=1, le=2**62)
OPEN = ("overdue", "due_soon", "open")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def setting_of(request: Request) -> workflow.Setting:
    settings = request.app.state.settings
    return workflow.Setting.of(settings, today(request))


def form_date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise workflow.InvalidInput(f"{field}应为日期（如 2025-06-30）") from None


def refused(session: Session, exc: DubanError, occurrence_id: int) -> RedirectResponse:
    """A refusal shown on the item's page (nothing was written); an item the person may not see
    or act on gets its error page instead."""
    session.rollback()
    if exc.http_status in (403, 404):
        raise exc
    return redirect(f"/items/{occurrence_id}?error={quote(str(exc))}")


async def evidence_upload(upload: UploadFile | None) -> Evidence | None:
    if upload is None or not upload.filename:
        return None
    return Evidence(upload.filename, await upload.read(evidence_files.MAX_BYTES + 1))


def period_choices(day: dt.date) -> list[tuple[str, list[tuple[str, str]]]]:
    """The periods a report is usually for, named as people name them, by year (this year and
    the last two): 全年, 上/下半年, the quarters and the months; the value is the period's code."""
    out = []
    for year in (day.year, day.year - 1, day.year - 2):
        codes = [str(year), f"{year}H1", f"{year}H2", *(f"{year}Q{q}" for q in range(1, 5)),
                 *(f"{year}-{m:02d}" for m in range(1, 13))]
        out.append((f"{year}年", [(c, period_words(*parse_period(c))) for c in codes]))
    return out


def last_quarter(day: dt.date) -> str:
    """The latest quarter that has ended by ``day`` (what a quarterly bulletin reports on)."""
    q = (day.month - 1) // 3          # quarters of this year already over
    return f"{day.year}Q{q}" if q else f"{day.year - 1}Q4"


def period_options(day: dt.date, current: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``period_choices`` with ``current`` among them (a range typed by hand is added first)."""
    groups = period_choices(day)
    if current and not any(current == code for _, options in groups for code, _ in options):
        try:
            groups.insert(0, ("当前", [(current, period_words(*parse_period(current)))]))
        except ValueError:
            pass
    return groups
