"""The web's templates and its clock: one Jinja environment (``obligations.templating``, with
autoescape and StrictUndefined) plus what only pages need (the CSRF token, local times)."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from obligations import words
from obligations.templating import environment
from web.deps import csrf_token

TEMPLATES = Path(__file__).parent / "templates"


def make_templates(timezone: str) -> Jinja2Templates:
    env = environment(TEMPLATES)
    zone = ZoneInfo(timezone)
    env.globals.update(csrf_token=csrf_token, status_names=words.STATUS_NAMES,
                       request_status_names=words.REQUEST_STATUS_NAMES, review_names=words.REVIEW_NAMES,
                       outbox_status_names=words.OUTBOX_STATUS_NAMES)
    from web.nav import pending_counts, todo_count
    env.globals["todo_count"] = todo_count       # the navigation's to-do badge (web/nav.py)
    env.globals["pending_counts"] = pending_counts   # and the review and request badges
    env.filters["cjson"] = lambda v: json.dumps(v, ensure_ascii=False)

    def localtime(t: dt.datetime | str) -> str:
        t = dt.datetime.fromisoformat(t) if isinstance(t, str) else t
        return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    env.filters["localtime"] = localtime
    env.globals["co_departments"] = co_departments
    env.globals["item_url"] = item_url
    return Jinja2Templates(env=env)


def item_url(request: Request, occurrence_id: int) -> str:
    """An item page's address from a list, carrying the list's own address (its filters, search,
    sort and page) so that the item page's 返回 goes back to exactly that list."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/items/{int(occurrence_id)}?" + urlencode({"back": here})


def co_departments(request: Request, occurrence_id: int) -> list:
    """The co-departments of an item and their confirmations (协办确认), for the item page's
    _codepartments.html (the page's own route need not know about them)."""
    from storage.views import confirmations_of
    from web.nav import page_session

    with page_session(request) as session:
        return confirmations_of(session, occurrence_id)


# a hint for a terminal inside a message: （可用 duban jurisdictions list 查看）, 请先运行：duban db upgrade
_HINT = re.compile(r"[（(][^（）()]*duban [^（）()]*[）)]")
_RUN = re.compile(r"[，；。]?\s*(?:请先|可先)?(?:运行|使用|用)?[：:]?\s*`?duban [a-z][^，。；）)\n]*`?")


def for_people(text: str) -> str:
    """A service's message as a page shows it: without the command a terminal user would run."""
    return _RUN.sub("", _HINT.sub("", str(text))).strip() or "操作未完成"


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    """A page; its ``error`` (a refusal shown on the page, often a service's words shared with the
    CLI) without command-line hints."""
    if isinstance(context.get("error"), str) and context["error"]:
        context = {**context, "error": for_people(context["error"])}
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def today(request: Request) -> dt.date:
    return request.app.state.today()
