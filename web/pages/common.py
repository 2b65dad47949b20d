"""What every page module shares: the id bound, redirects, dates, refusals and uploads."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import Path as PathParam
from fastapi import Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from obligations.errors import DubanError
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


