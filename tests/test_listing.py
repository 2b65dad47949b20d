"""The shared list machinery (web/listing.py) without a browser: bounds, hostile parameters,
URLs that keep the filters, the pager macro and the typed Excel export."""
import datetime as dt
import io
from urllib.parse import parse_qsl, urlsplit

import openpyxl
import pytest
import sqlalchemy as sa
from fastapi import HTTPException
from jinja2 import Environment, FileSystemLoader

from web import listing

SORTS = {"due": "截止日期", "title": "事项", "unit": "单位"}


def read(query, **kw):
    pairs = parse_qsl(query, keep_blank_values=True)
    return listing.read(pairs, sorts=SORTS, default_sort="due", path="/inbox", **kw)


def pairs(url):
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_defaults():
    lst = read("")
    assert (lst.page, lst.size, lst.q, lst.sort, lst.desc, lst.export) == (1, 50, "", "due", False, False)
    assert lst.url() == "/inbox"


@pytest.mark.parametrize("query, page, size", [
    ("page=0", 1, 50), ("page=-3", 1, 50), ("page=abc", 1, 50), ("page=2.5", 1, 50), ("page=%EF%BC%93", 1, 50),
    ("page=99999999999999999999", listing.MAX_PAGE, 50), ("page=7", 7, 50), ("page= 2 ", 2, 50),
    ("size=100000", 1, 50), ("size=0", 1, 50), ("size=-20", 1, 50), ("size=100", 1, 100), ("size=20", 1, 20),
    ("size=30", 1, 50), ("page=3&page=9", 3, 50),
])
def test_page_and_size_are_clamped(query, page, size):
    lst = read(query)
    assert (lst.page, lst.size) == (page, size)


def test_page_past_the_end_is_the_last_page():
    lst = read("page=999&size=20").count(45)
    assert (lst.page, lst.pages, lst.offset, lst.limit, lst.first, lst.last) == (3, 3, 40, 20, 41, 45)
    empty = read("page=5").count(0)
    assert (empty.page, empty.pages, empty.first, empty.last) == (1, 1, 0, 0)


def test_sort_only_from_the_whitelist():
    assert (read("sort=title&dir=desc").sort, read("sort=title&dir=desc").desc) == ("title", True)
    hostile = read("sort=id;drop table x&dir=desc")
    assert (hostile.sort, hostile.desc) == ("due", False)
    assert read("sort=__class__").sort == "due"
    assert read("sort=title&dir=sideways").desc is False
    assert read("", default_desc=True).desc is True


def test_search_text_is_bounded_and_cleaned():
    lst = read("q=" + "教" * 500)
    assert len(lst.q) == listing.MAX_QUERY
    assert read("q=%20a%00b%0A%20%20c%20").q == "a b c"


def test_urls_keep_every_filter_and_reset_the_page():
    lst = read("show=done&plan=fujian-2025&department=%E6%95%99%E8%82%B2&q=%E5%AD%A6%E6%A0%A1&sort=title&dir=desc&page=3")
    lst.count(1000)
    nxt = pairs(lst.url(page=4))
    assert ("show", "done") in nxt and ("plan", "fujian-2025") in nxt and ("department", "教育") in nxt
    assert ("q", "学校") in nxt and ("sort", "title") in nxt and ("dir", "desc") in nxt and ("page", "4") in nxt
    # a new sort or size starts from the first page; filters, search stay
    by_unit = dict(pairs(lst.sort_url("unit")))
    assert by_unit == {"show": "done", "plan": "fujian-2025", "department": "教育", "q": "学校", "sort": "unit",
                       "dir": "asc"}
    # the column sorted already flips its direction
    assert dict(pairs(lst.sort_url("title")))["dir"] == "asc"
    # changing a filter drops the page too; removing one
    assert dict(pairs(lst.url(show="open"))) == {"show": "open", "plan": "fujian-2025", "department": "教育",
                                                "q": "学校", "sort": "title", "dir": "desc"}
    assert "plan" not in dict(pairs(lst.url(plan=None)))
    assert dict(pairs(lst.export_url()))["export"] == "xlsx" and "page" not in dict(pairs(lst.export_url()))
    assert lst.here() == lst.url() and ("page", "3") in pairs(lst.here())


def test_default_sort_left_out_and_prefix_keeps_lists_apart():
    lst = read("sort=title&dir=desc")
    assert lst.url(sort="due") == "/inbox"
    two = listing.read([("o_page", "2"), ("f_page", "5"), ("period", "2025")], sorts=SORTS, default_sort="due",
                       prefix="o_", path="/dashboard")
    assert two.page == 2
    assert dict(pairs(two.url(page=3))) == {"f_page": "5", "period": "2025", "o_page": "3"}


def test_hidden_inputs_carry_filters_and_sort_not_the_page():
    lst = read("show=done&sort=title&page=4&q=x&export=xlsx")
    assert lst.export is True
    assert lst.hidden("q") == [("show", "done"), ("sort", "title"), ("dir", "asc")]


def test_hostile_parameters_are_bounded():
    many = [(f"k{i}", "v") for i in range(1000)]
    lst = listing.read(many, sorts=SORTS, default_sort="due", path="/x")
    assert len(lst.params) == 100
    with pytest.raises(ValueError):
        listing.read([], sorts=SORTS, default_sort="nope")


def test_window():
    lst = read("page=10&size=20").count(20 * 30)
    assert lst.window() == [1, None, 8, 9, 10, 11, 12, None, 30]
    assert read("").count(10).window() == [1]


def test_safe_back():
    assert listing.safe_back("/inbox?show=done&page=2", "/") == "/inbox?show=done&page=2"
    for bad in ("//evil.example", "https://evil.example/", "javascript:alert(1)", "/\\evil", "/a\nb", None, ""):
        assert listing.safe_back(bad, "/inbox") == "/inbox"
    # only one list: its own path, with or without a query, never a neighbour or another list
    assert listing.safe_back("/review?plan=p&page=2", "/review", only="/review") == "/review?plan=p&page=2"
    assert listing.safe_back("/review", "x", only="/review") == "/review"
    for bad in ("/reviewer", "/review/accept", "/inbox?x=/review", "//review", "/review?\r\nSet-Cookie: a=b"):
        assert listing.safe_back(bad, "/review", only="/review") == "/review"


def test_search_condition_in_sql():
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.String),
                 sa.Column("unit", sa.String))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(t.insert(), [{"title": "学校安全检查", "unit": "教育局"}, {"title": "100% 完成", "unit": "民政局"},
                               {"title": "a_b", "unit": None}, {"title": "ab", "unit": "x"}])
        found = lambda q: [r.id for r in c.execute(sa.select(t.c.id).where(listing.search(q, t.c.title, t.c.unit)))]  # noqa: E731
        assert found("学校 教育") == [1]
        assert found("民政") == [2]
        assert found("%") == [2]
        assert found("_") == [3]
        assert listing.search("", t.c.title) is None
        lst = read("sort=title&dir=desc")
        titles = [r.title for r in c.execute(sa.select(t.c.title).order_by(*listing.order(lst, {"title": t.c.title})))]
        assert titles == sorted(titles, reverse=True)


def test_xlsx_cells_are_typed_and_exact():
    cols = [listing.Column("截止日期", "due", "date"), listing.Column("事项", "what"),
            listing.Column("进度", lambda r: r["done"], "int"), listing.Column("按期办结率", "rate", "percent"),
            listing.Column("登记时间", "at", "datetime")]
    rows = [{"due": "2025-06-30", "what": "学校安全", "done": 2, "rate": 0.5, "at": "2025-06-10T06:03:00+00:00"},
            {"due": dt.date(2025, 7, 1), "what": "=HYPERLINK(\"x\")", "done": 0, "rate": None, "at": None}]
    from zoneinfo import ZoneInfo
    data = listing.xlsx_bytes("待办事项", cols, rows, zone=ZoneInfo("Asia/Shanghai"))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    got = [[c.value for c in r] for r in sheet.iter_rows()]
    assert got == [["截止日期", "事项", "进度", "按期办结率", "登记时间"],
                   [dt.datetime(2025, 6, 30), "学校安全", 2, 0.5, dt.datetime(2025, 6, 10, 14, 3)],
                   [dt.datetime(2025, 7, 1), "'=HYPERLINK(\"x\")", 0, None, None]]
    assert sheet["A2"].is_date and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet.title == "待办事项"


def test_export_bounded_with_a_chinese_message():
    listing.check_export(listing.EXPORT_MAX)
    with pytest.raises(HTTPException) as exc:
        listing.check_export(listing.EXPORT_MAX + 1)
    assert exc.value.status_code == 413 and "超过单次导出上限" in exc.value.detail
    with pytest.raises(HTTPException):
        listing.xlsx_bytes("x", [listing.Column("a", "a")], ({"a": i} for i in range(5)), maximum=3)


def test_pager_macro_states_the_total_and_links_keep_filters():
    from pathlib import Path
    env = Environment(loader=FileSystemLoader(Path(listing.__file__).parent / "templates"), autoescape=True)
    macro = env.get_template("_pager.html").module
    lst = read("show=done&page=2&size=20").count(95)
    html = str(macro.pager(lst))
    assert "共 95 项，第 21–40 项" in html and "共 5 页" in html
    assert 'href="/inbox?show=done&amp;size=20&amp;page=3"' in html          # next
    assert 'href="/inbox?show=done&amp;size=20"' in html                     # previous: page 1
    assert "导出 Excel（95 项）" in html and "export=xlsx" in html
    assert 'aria-current="page">2<' in html
    form = str(macro.search(lst, "搜索事项"))
    assert 'name="show" value="done"' in form and 'name="page"' not in form
    assert "共 0 项" in str(macro.pager(read("").count(0))) and "导出" not in str(macro.pager(read("").count(0)))
