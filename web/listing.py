"""Lists at real size: paging, search, sort, filters kept in the URL, and Excel export of exactly
what is filtered. One small API shared by every list page.

A page reads its listing from the query string, counts its rows in SQL, pages them in SQL, and
hands the listing to the template's macros (``web/templates/_pager.html``)::

    from web import listing

    SORTS = {"due": "截止日期", "title": "事项"}           # key → Chinese label (the whitelist)

    @router.get("/things")
    def things(request: Request, ...):
        lst = listing.read(request, sorts=SORTS, default_sort="due")
        q = select(...)                                    # the page's own filters
        found = listing.search(lst.q, Thing.title, Unit.name)   # None when nothing is searched
        if found is not None:
            q = q.where(found)
        order = listing.order(lst, {"due": Thing.due, "title": Thing.title}, Thing.id)
        total = session.scalar(select(func.count()).select_from(q.subquery()))
        if lst.export:                                       # ?export=xlsx: every filtered row
            listing.check_export(total)                    # refuses past EXPORT_MAX, in Chinese
            rows = session.execute(q.order_by(*order)).all()
            return listing.xlsx_response("事项清单", COLUMNS, rows)
        lst.count(total)                                     # clamps the page to the last one
        rows = session.execute(q.order_by(*order).limit(lst.limit).offset(lst.offset)).all()
        return render(request, "things.html", {"lst": lst, "rows": rows, ...})

and in the template::

    {% import "_pager.html" as pager %}
    {{ pager.search(lst, "搜索事项、条款、单位") }}
    <th aria-sort="{{ pager.aria(lst, 'due') }}">{{ pager.sort(lst, "due") }}</th>
    {{ pager.pager(lst) }}

Query parameters (names carry ``prefix`` when a page shows two lists): ``page`` (≥1), ``size``
(one of ``SIZES``), ``q`` (search text, at most ``MAX_QUERY`` characters), ``sort`` (a key of
the page's whitelist) and ``dir`` (``asc``/``desc``), ``export=xlsx``. Hostile values are
clamped to a sane value, never an error page: a page of ``-3`` or ``abc`` is page 1, a page past
the end is the last page, a size of 100000 is the default size, an unknown sort key the default
sort. Every other parameter of the query string (the page's own filters) is kept, in order, in
every URL the listing builds (``url``), so paging, sorting, 返回 and bookmarks keep the filters.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import sqlalchemy as sa
from fastapi import HTTPException
from fastapi.responses import Response

SIZES = (20, 50, 100, 200)
DEFAULT_SIZE = 50
MAX_PAGE = 1_000_000          # a page number past this is treated as "the last page"
MAX_QUERY = 100               # characters of search text kept
EXPORT_MAX = 50_000           # rows in one Excel export
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Listing:
    """One list's state, read from the query string (``read``). ``total``, ``pages`` and the
    clamped ``page`` are known after ``count(total)``."""
    path: str
    params: list[tuple[str, str]]          # the whole query string, as given (filters included)
    page: int = 1
    size: int = DEFAULT_SIZE
    q: str = ""
    sort: str = ""
    desc: bool = False
    sorts: Mapping[str, str] = field(default_factory=dict)
    default_sort: str = ""
    default_desc: bool = False
    default_size: int = DEFAULT_SIZE
    export: bool = False
    prefix: str = ""
    total: int | None = None

    # ---- names of this list's own parameters
    def name(self, key: str) -> str:
        return self.prefix + key

    @property
    def own(self) -> tuple[str, ...]:
        return tuple(self.name(k) for k in ("page", "size", "q", "sort", "dir", "export"))

    # ---- paging
    def count(self, total: int) -> Listing:
        """Record the number of filtered rows and clamp the page to the last one."""
        self.total = max(0, int(total))
        self.page = min(self.page, self.pages)
        return self

    @property
    def pages(self) -> int:
        return max(1, -(-(self.total or 0) // self.size))

    @property
    def sizes(self) -> tuple[int, ...]:
        return SIZES

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size

    @property
    def first(self) -> int:
        """The number of the first row shown (1-based; 0 when there is none)."""
        return min(self.offset + 1, self.total or 0)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total or 0)

    def window(self, width: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and ``width`` on each side of this one;
        None where pages are skipped (shown as …)."""
        keep = {1, self.pages, *range(self.page - width, self.page + width + 1)}
        out: list[int | None] = []
        for n in sorted(k for k in keep if 1 <= k <= self.pages):
            if out and out[-1] is not None and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out

    # ---- URLs
    def value(self, key: str, default: str = "") -> str:
        """A parameter of the query string (a page's filter), as given ('' if absent)."""
        for k, v in self.params:
            if k == key:
                return v
        return default

    def url(self, **changes: Any) -> str:
        """This page's URL with every parameter kept except the ones changed (``page=3``,
        ``sort="due"``, ``dir="desc"``, a filter ``show="done"``; a value of None or '' removes
        the parameter). The list's own names (page, size, q, sort, dir, export) take this
        listing's prefix; the page goes back to the first whenever anything else changes, unless
        given. Defaults are left out (page 1, the default size, the default sort)."""
        own = {"page", "size", "q", "sort", "dir", "export"}
        state: dict[str, Any] = {"page": self.page, "size": self.size, "q": self.q, "sort": self.sort,
                                 "desc": self.desc, "export": None}
        if any(k != "page" for k in changes) and "page" not in changes:
            state["page"] = 1
        for k in ("page", "size", "q", "export"):
            if k in changes:
                state[k] = changes[k]
        if "sort" in changes:
            state["sort"] = changes["sort"] if changes["sort"] in self.sorts else self.default_sort
            state["desc"] = self.default_desc if state["sort"] == self.default_sort else False
        if "dir" in changes:
            state["desc"] = changes["dir"] == "desc"
        pairs = [(k, v) for k, v in self.params if k not in self.own and k not in changes]
        pairs += [(k, str(v)) for k, v in changes.items() if k not in own and v not in (None, "")]
        if state["q"]:
            pairs.append((self.name("q"), state["q"]))
        if state["sort"] != self.default_sort or state["desc"] != self.default_desc:
            pairs += [(self.name("sort"), state["sort"]), (self.name("dir"), "desc" if state["desc"] else "asc")]
        if state["size"] not in (None, self.default_size):
            pairs.append((self.name("size"), str(state["size"])))
        if state["page"] not in (None, 1):
            pairs.append((self.name("page"), str(state["page"])))
        if state["export"]:
            pairs.append((self.name("export"), state["export"]))
        return self.path + ("?" + urlencode(pairs) if pairs else "")

    def here(self) -> str:
        """This page's URL as it stands (for a 返回 link elsewhere)."""
        return self.url()

    def sort_url(self, key: str) -> str:
        """The URL sorting by ``key``; the column sorted already flips its direction."""
        if key == self.sort:
            return self.url(sort=key, dir="asc" if self.desc else "desc")
        return self.url(sort=key)

    def export_url(self) -> str:
        return self.url(export="xlsx", page=None, size=None)

    def hidden(self, *drop: str) -> list[tuple[str, str]]:
        """The query string's pairs to carry as hidden inputs in a GET form, so that a search box
        keeps the filters and the sort (or a filter form the search and the sort): every pair of
        the current URL but the page, the export and the names in ``drop`` (unprefixed own names
        such as "q" are prefixed)."""
        skip = {self.name(d) if d in ("page", "size", "q", "sort", "dir", "export") else d for d in drop}
        skip |= {self.name("page"), self.name("export")}
        query = self.url().partition("?")[2]
        return [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in skip]


def read(request_or_params: Any, *, sorts: Mapping[str, str], default_sort: str, default_desc: bool = False,
         default_size: int = DEFAULT_SIZE, prefix: str = "", path: str | None = None) -> Listing:
    """The listing of a request (or of a mapping of query parameters and a ``path``). ``sorts``
    is the whitelist of sort keys (key → Chinese column name); ``default_sort`` one of them."""
    if default_sort not in sorts:
        raise ValueError(f"default sort {default_sort!r} not in the whitelist")
    if hasattr(request_or_params, "query_params"):
        params = list(request_or_params.query_params.multi_items())
        path = path or request_or_params.url.path
    else:
        source = request_or_params
        params = list(source.items()) if hasattr(source, "items") else list(source)
        path = path or ""
    params = [(str(k)[:100], _clean(str(v))[:500]) for k, v in params[:100]]
    get = dict(reversed(params)).get       # the first value of a repeated parameter wins

    page = _integer(get(prefix + "page"), 1)
    page = min(max(page, 1), MAX_PAGE)
    size = _integer(get(prefix + "size"), default_size)
    if size not in SIZES:
        size = default_size
    q = " ".join(_clean(get(prefix + "q") or "").split())[:MAX_QUERY]
    sort = get(prefix + "sort") or default_sort
    direction = get(prefix + "dir")
    if sort not in sorts:
        sort, direction = default_sort, None
    if direction not in ("asc", "desc"):
        desc = default_desc if sort == default_sort else False
    else:
        desc = direction == "desc"
    return Listing(path=path, params=params, page=page, size=size, q=q, sort=sort, desc=desc, sorts=dict(sorts),
                   default_sort=default_sort, default_desc=default_desc, default_size=default_size,
                   export=get(prefix + "export") == "xlsx", prefix=prefix)


def _integer(text: str | None, default: int) -> int:
    if text is None:
        return default
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return MAX_PAGE if text.isascii() and text.isdigit() else default
    return int(text)


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


# ---------------------------------------------------------------- SQL helpers

def search(q: str, *columns: Any):
    """A WHERE condition for a search box: every word of ``q`` must appear (case-insensitive,
    as text, ``%`` and ``_`` taken literally) in at least one of ``columns``. None when ``q`` is
    empty (``select.where(None)`` is not allowed: use ``if cond is not None``)."""
    words = q.split()[:8]
    if not words or not columns:
        return None
    parts = []
    for w in words:
        pattern = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        parts.append(sa.or_(*(sa.func.coalesce(sa.cast(c, sa.String), "").ilike(pattern, escape="\\")
                              for c in columns)))
    return sa.and_(*parts)


def order(listing: Listing, columns: Mapping[str, Any | Sequence[Any]], *tiebreak: Any) -> list:
    """ORDER BY terms for the listing's sort: ``columns`` maps each sort key to a column (or a
    tuple of columns) ; ``tiebreak`` (an id) last so that pages never overlap."""
    chosen = columns[listing.sort]
    chosen = chosen if isinstance(chosen, (tuple, list)) else (chosen,)
    terms = [c.desc() if listing.desc else c.asc() for c in chosen]
    return [*terms, *(t.desc() if listing.desc else t.asc() for t in tiebreak)]


# ---------------------------------------------------------------- Excel export

@dataclass(frozen=True)
class Column:
    """One column of an export: its Chinese header, how to get the value from a row (a key of
    a mapping row, an attribute name, or a function of the row), and its kind: ``text``,
    ``int``, ``number``, ``date`` (a date or an ISO date string becomes an Excel date),
    ``datetime`` (shown in local time when ``zone`` is given to ``xlsx_response``),
    ``percent`` (a fraction 0–1)."""
    header: str
    get: str | Callable[[Any], Any]
    kind: str = "text"
    width: int | None = None


def check_export(total: int, maximum: int | None = None) -> None:
    """Refuse an export past ``maximum`` rows (default ``EXPORT_MAX``) with a Chinese message
    (HTTP 413)."""
    maximum = EXPORT_MAX if maximum is None else maximum
    if total > maximum:
        raise HTTPException(413, f"筛选结果共 {total:,} 项，超过单次导出上限 {maximum:,} 项。"
                                 "请缩小筛选范围（如按期间、计划、部门或地区筛选）后再导出。")


def _value(column: Column, row: Any) -> Any:
    if callable(column.get):
        return column.get(row)
    if isinstance(row, Mapping):
        return row.get(column.get)
    return getattr(row, column.get, None)


def cell(value: Any, kind: str, zone: Any = None) -> Any:
    """A value as the typed Excel cell of its kind (None stays empty)."""
    if value is None or value == "":
        return None
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])
    if kind == "datetime":
        t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        if zone is not None:
            t = (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(zone)
        return t.replace(tzinfo=None, microsecond=0)
    if kind == "int":
        return int(value)
    if kind in ("number", "percent"):
        return float(value) if isinstance(value, Decimal) else value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text    # no formula injection


_FORMATS = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "int": "0", "number": "0.##", "percent": "0.0%"}


def xlsx_bytes(title: str, columns: Sequence[Column], rows: Iterable[Any], *, zone: Any = None,
               maximum: int | None = None) -> bytes:
    """The workbook: one sheet named ``title``, a bold header row of the columns' Chinese
    headers (frozen, filterable), one row per row of ``rows``, each cell typed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "清单"
    maximum = EXPORT_MAX if maximum is None else maximum
    sheet.append([c.header for c in columns])
    for c in sheet[1]:
        c.font = Font(bold=True)
    n = 0
    for row in rows:
        n += 1
        if n > maximum:
            check_export(n, maximum)
        sheet.append([cell(_value(c, row), c.kind, zone) for c in columns])
    for i, c in enumerate(columns, start=1):
        letter = get_column_letter(i)
        fmt = _FORMATS.get(c.kind)
        if fmt:
            for (value,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                value.number_format = fmt
        sheet.column_dimensions[letter].width = c.width or {"date": 12, "datetime": 17, "int": 9, "number": 10,
                                                             "percent": 10}.get(c.kind, 24)
    sheet.freeze_panes = "A2"
    if n:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n + 1}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(title: str, columns: Sequence[Column], rows: Iterable[Any], *, zone: Any = None,
                  day: dt.date | None = None, maximum: int | None = None) -> Response:
    """The export as a download named ``{title}（{day}）.xlsx``: exactly ``rows`` (the caller
    passes every filtered row, not one page; call ``check_export(total)`` first to refuse a too
    large export before reading the rows)."""
    content = xlsx_bytes(title, columns, rows, zone=zone, maximum=maximum)
    name = f"{title}（{day.isoformat()}）.xlsx" if day else f"{title}.xlsx"
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}"})


def safe_back(url: str | None, default: str, only: str | None = None) -> str:
    """A 返回 address from a query parameter: only a path on this site (``/inbox?…``), never
    another site (``//evil``, ``https://…``) or a script. With ``only`` (``/review``), only
    that list itself: that path, with or without its query."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url and len(url) <= 2000 \
            and not _CONTROL.search(url) \
            and (only is None or url == only or url.startswith(only + "?")):
        return url
    return default


# where a 返回 leads, by the list's path (the item page names it: 返回待办事项)
BACK_NAMES = {"/inbox": "待办事项", "/dashboard": "督查总览", "/review": "办结审核", "/requests": "豁免与延期申请",
              "/audit": "操作记录", "/tasks": "交办任务"}


def back_name(url: str) -> str:
    """The Chinese name of the list a 返回 address leads to ('' when not one of the lists)."""
    path, _, query = url.partition("?")
    if path == "/inbox" and ("show=done" in query.split("&")):
        return "已办事项"
    return BACK_NAMES.get(path, "")
