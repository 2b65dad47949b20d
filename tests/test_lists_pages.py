"""The list pages through HTTP (TestClient) on 2025's items: hostile list parameters clamped,
totals and pages stated, the search and the sort in SQL, the export bounded and exact, the
navigation's to-do badge and where-you-are mark, the audit in sentences, no internal codes."""
import datetime as dt
import io
import re

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage.tables import Obligation, Occurrence, Plan
from web import listing
from web.app import create_app

TODAY = dt.date(2025, 4, 10)
CODES = re.compile(r"\b(?:overdue|remind|escalate|urge)-\d+\b|>[^<]*\b(?:web|email)\b[^<]*<|\b20\d\d-(?:Q\d|H\d)\b")


@pytest.fixture
def app(year_2025, engine, personas):
    return create_app(year_2025, engine, today=lambda: TODAY)


def total(html: str) -> int:
    m = re.search(r"共 ([\d,]+) [项条]", html)
    assert m, html[:3000]
    return int(m[1].replace(",", ""))


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr class="row-\w+" data-id="(\d+)"', html)


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S))


def test_hostile_list_parameters_are_clamped(app, personas, engine):
    c = personas.coordinator.client(app)
    whole = c.get("/inbox?size=200")
    n = total(whole.text)
    assert len(rows_of(whole.text)) == n
    for query in ("page=-5", "page=abc", "page=99999999999999999999", "size=100000", "size=-1", "sort=id;drop",
                  "sort=__class__&dir=up", "q=" + "%" * 5000, "q=%00%0a", "page=1&page=2&page=3"):
        r = c.get("/inbox?" + query)
        assert r.status_code == 200, (query, r.status_code)
        assert "共 " in r.text
    past = c.get("/inbox?size=20&page=999")
    assert f"第 {20 * ((n - 1) // 20) + 1}–{n} 项" in past.text      # past the end: the last page
    assert total(c.get("/inbox?q=%25%25%25").text) == 0                 # % is a character, not a wildcard


def test_search_sort_and_paging_in_sql(app, personas, engine):
    c = personas.coordinator.client(app)
    everything = rows_of(c.get("/inbox?size=200").text)
    pages = rows_of(c.get("/inbox?size=20").text) + rows_of(c.get("/inbox?size=20&page=2").text)
    assert pages == everything[:40]
    found = c.get("/inbox?q=%E5%85%A5%E6%88%B7&size=200")                 # 入户
    ids = rows_of(found.text)
    assert 0 < len(ids) < len(everything) and total(found.text) == len(ids)
    with Session(engine) as s:
        from storage.tables import Obligation
        titles = dict(s.execute(sa.select(Occurrence.id, Obligation.what)
                                .join(Obligation, Obligation.id == Occurrence.obligation_id)
                                .where(Occurrence.id.in_([int(i) for i in everything]))).all())
    assert all("入户" in titles[int(i)] for i in ids)
    assert {i for i in everything if "入户" in titles[int(i)]} == set(ids)
    by_title = rows_of(c.get("/inbox?size=200&sort=what&dir=desc").text)
    assert [titles[int(i)] for i in by_title] == sorted((titles[int(i)] for i in by_title), reverse=True)
    clause = c.get("/inbox?size=200&q=%E5%9F%BA%E7%A1%80%E6%B8%85%E5%8D%95%E7%AC%AC20%E9%A1%B9")   # 基础清单第20项
    assert total(clause.text) > 0 and "基础清单第20项" in clause.text


def test_a_department_searches_only_its_own_items(app, personas):
    d = personas.department.client(app)
    mine = total(d.get("/inbox").text)
    assert total(d.get("/inbox?q=%E5%85%A5%E6%88%B7").text) <= mine       # never more than its own
    html = d.get("/inbox").text
    assert f'id="todo-count" title="待办 {mine} 项' in html
    assert re.search(r'<a href="/inbox" id="nav-inbox" aria-current="page"', html)


def test_export_is_exact_and_bounded(app, personas, monkeypatch):
    c = personas.coordinator.client(app)
    page = c.get("/inbox?size=200&sort=unit")
    r = c.get("/inbox?size=20&page=2&sort=unit&export=xlsx")
    assert r.headers["content-type"].startswith(listing.XLSX)
    assert "attachment" in r.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == total(page.text)                       # every page, not the one shown
    titles = re.findall(r'<td class="c-what"><a href="/items/\d+(?:\?back=[^"]*)?">([^<]+)</a>', page.text)
    assert [r[2] for r in rows] == [t.replace("&#34;", '"') for t in titles]
    assert all(isinstance(r[1], dt.datetime) for r in rows)    # dates as dates
    monkeypatch.setattr(listing, "EXPORT_MAX", 3)
    refused = c.get("/inbox?export=xlsx")
    assert refused.status_code == 413 and "超过单次导出上限 3 项" in refused.text


def test_the_pages_state_totals_and_show_no_codes(app, personas, engine):
    c = personas.coordinator.client(app)
    with Session(engine) as s:
        plan_ids = list(s.scalars(sa.select(Plan.id)))
    for url in ("/inbox", "/inbox?show=done", "/dashboard", "/audit"):
        html = c.get(url).text
        assert "共 " in html, url
        text = text_of(html)
        assert not CODES.search(text), (url, CODES.search(text)[0])
        assert not any(p in text for p in plan_ids), url
    dash = c.get("/dashboard?o_size=20&o_sort=unit&f_page=3").text
    assert 'aria-current="page" class="on">工作台' in dash
    # the unit links keep the other filters and the list's sort, and start from the first page
    link = re.search(r'<a href="(/dashboard\?[^"]*jurisdiction=[^"]+)">', dash)[1]
    assert "o_sort=unit" in link and "f_page" not in link


def test_the_audit_in_sentences_searched_and_filtered(app, personas):
    c = personas.coordinator.client(app)
    d = personas.department.client(app)
    html = d.get("/inbox").text
    item = rows_of(html)[0]
    from tests.conftest import csrf_of
    d.post(f"/items/{item}/complete", data={"csrf": csrf_of(d, f"/items/{item}"), "count": "1", "note": "已核实"})
    page = c.get("/audit").text
    assert "新华区教育局（网页）将 新华区 教育部门「平顶山市实施方案」" in page and "备注：已核实" in page
    assert "{" not in text_of(page) and "&#34;" not in page
    searched = c.get("/audit?q=%E5%B7%B2%E6%A0%B8%E5%AE%9E").text            # 已核实 is a note, not searched…
    assert total(searched) == 0
    by_item = c.get("/audit?q=%E6%95%99%E8%82%B2%E9%83%A8%E9%97%A8").text     # 教育部门: the item's department
    assert total(by_item) >= 1 and "登记为" in by_item
    only = c.get("/audit?action=user.sign_in").text
    assert set(re.findall(r'<td class="c-action">([^<]+)</td>', only)) == {"登录"}
    assert c.get("/audit?since=2099-01-01").text.count('class="c-text"') == 0
    assert c.get("/audit?since=yesterday").status_code == 400
    assert d.get("/audit").status_code == 403


def test_the_audit_names_people_as_people_do_with_no_bracket_inside_a_bracket(app, engine, personas):
    """Real rows through the doors: an account made by the demo with no name of its own completes an
    item with brackets in its note, the coordinator accepts it with a note and urges another."""
    from storage import accounts
    from tests.conftest import PASSWORD, csrf_of, sign_in

    with Session(engine) as s, s.begin():
        accounts.add_user(s, username="mzk", password=PASSWORD, role="department", jurisdiction="新华区",
                          department="civil_affairs", actor="demo")
    k, mz = sign_in(app, "mzk"), personas.coordinator.client(app)
    first, second = rows_of(k.get("/inbox").text)[:2]
    r = k.post(f"/items/{first}/complete", data={"csrf": csrf_of(k, f"/items/{first}"), "count": "1",
                                                 "note": "已入户走访（含 3 户（留守））"})
    assert r.status_code == 303
    r = mz.post(f"/items/{first}/accept", data={"csrf": csrf_of(mz, f"/items/{first}"), "note": "材料齐全（照片 2 张）"})
    assert r.status_code == 303 and "ok=" in r.headers["location"], r.headers["location"]
    r = mz.post(f"/items/{second}/urge", data={"csrf": csrf_of(mz, f"/items/{second}"), "note": "请本周办结"})
    assert r.status_code == 303 and "ok=" in r.headers["location"], r.headers["location"]
    page = mz.get("/audit").text
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r'<td class="c-text">(.*?)</td>', page, flags=re.S)]
    for cell in cells:
        depth = 0
        for ch in cell:
            depth += ch in "（("
            assert depth <= 1, cell
            depth -= depth > 0 and ch in "）)"
    joined = "\n".join(cells)
    assert "演示数据新增账号 mzk（责任部门，新华区、民政部门）" in joined, joined
    assert "新华区 民政部门（网页）将 新华区 民政部门" in joined and "备注：已入户走访，含 3 户，留守）" in joined
    assert "的办结登记（待审核 → 已办结，办结日期 2025-04-10）（意见：材料齐全，照片 2 张）" in joined
    assert "（协调员催办，第1次）（说明：请本周办结）" in joined
    assert "demo" not in joined and joined.count("mzk") == joined.count("新增账号 mzk") == 1, joined


def test_the_status_filter_stays_in_the_urls(app, personas):
    c = personas.coordinator.client(app)
    overdue = c.get("/inbox?status=overdue&size=20").text
    n = total(overdue)
    assert 0 < n < total(c.get("/inbox").text)
    assert set(re.findall(r'<tr class="row-(\w+)"', overdue)) == {"overdue"}
    links = re.findall(r'href="(/inbox\?[^"]*)"', overdue)
    assert all("status=overdue" in u for u in links if "sort=" in u or "export=" in u)
    assert total(c.get("/inbox?status=done").text) == total(c.get("/inbox").text)    # not a status of 待办: all
    assert total(c.get("/inbox?show=done&status=waived").text) == 0


def _ask_and_submit(engine, settings, n_requests: int, n_done: int) -> tuple[list[int], list[int]]:
    """``n_requests`` extension requests and ``n_done`` completions awaiting review, on 新华区's
    open items (the department jy asks and reports)."""
    from storage import workflow
    from storage.tables import Jurisdiction

    with Session(engine) as s:
        unit = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == "新华区"))
        rows = s.execute(sa.select(Occurrence.id, Occurrence.required, Occurrence.due).where(
            Occurrence.jurisdiction_id == unit, Occurrence.done_count == 0, Occurrence.waived_at.is_(None),
            Occurrence.period_start <= TODAY).order_by(Occurrence.due, Occurrence.obligation_id,
                                                       Occurrence.party_key)).all()
    # a request only on an item not yet overdue (an overdue one is refused); completions on any
    askable = [r for r in rows if r.due >= TODAY]
    assert len(askable) >= n_requests
    asked = askable[:n_requests]
    done = [r for r in rows if r not in asked][:n_done]
    assert len(done) == n_done
    setting = workflow.Setting(settings.calendar(), settings.data_dir, TODAY)
    with Session(engine) as s, s.begin():
        for oid, _, _ in asked:
            workflow.request(s, oid, by=workflow.Actor("jy", "cli"), kind="extension", reason="汛期入户困难",
                             today=TODAY, new_due=dt.date(2025, 7, 31))
        for oid, required, _ in done:
            workflow.complete(s, oid, by=workflow.Actor("jy", "cli"), count=required, done_on=TODAY, setting=setting)
    return [o for o, _, _ in asked], [o for o, _, _ in done]


def test_requests_and_review_are_lists_at_size(app, personas, engine, year_2025, monkeypatch):
    asked, done = _ask_and_submit(engine, year_2025, 4, 5)
    c = personas.coordinator.client(app)
    monkeypatch.setattr(listing, "SIZES", (2, 20, 50))            # small pages to see the paging
    page = c.get("/requests?size=2&page=2").text
    assert total(page) == 4 and "第 3–4 项" in page and "共 2 页" in page
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)" class="req-pending"', page)]
    assert len(shown) == 2
    every = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', c.get("/requests?size=20").text)]
    assert every == sorted(every, reverse=True) and shown == every[2:]          # the newest first
    # the bulk form goes back to this very page (tab, size and page kept)
    assert '<input type="hidden" name="back" value="/requests?size=2&amp;page=2">' in page
    # export: every row, whatever the page
    sheet = openpyxl.load_workbook(io.BytesIO(c.get("/requests?size=2&page=2&export=xlsx").content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("申请", "申请状态", "事项") and len(rows) == 1 + 4
    assert {r[0] for r in rows[1:]} == {"延期"} and {r[1] for r in rows[1:]} == {"待审核"}
    assert all(r[10] == dt.datetime(2025, 7, 31) for r in rows[1:]) and {r[11] for r in rows[1:]} == {"汛期入户困难"}
    # search narrows the count and the rows alike; a search for nothing says so
    with Session(engine) as s:
        what = s.scalar(sa.select(Obligation.what).join(Occurrence, Occurrence.obligation_id == Obligation.id)
                        .where(Occurrence.id == asked[0]))
    found = c.get("/requests", params={"q": what}).text
    assert 1 <= total(found) <= 4
    assert "没有符合搜索的申请" in c.get("/requests", params={"q": "并无此事"}).text
    # deciding from page 2 comes back to page 2 with the confirmation
    ids = shown
    r = c.post("/requests/decide", data={"id": [str(i) for i in ids], "decision": "approve", "note": "同意",
                                          "back": "/requests?size=2&page=2",
                                          "csrf": re.search(r'name="csrf" value="([^"]+)"', page)[1]},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/requests?size=2&page=2&ok=")
    for hostile in ("//evil.example/requests", "https://evil.example/", "/requests\r\nX: y", "/dashboard"):
        r = c.post("/requests/decide", data={"id": [], "decision": "approve", "back": hostile,
                                              "csrf": re.search(r'name="csrf" value="([^"]+)"', page)[1]},
                   follow_redirects=False)
        assert r.headers["location"].startswith("/requests?"), hostile
    # the review queue: counted, paged, sorted, exported exactly
    queue = c.get("/review?size=2").text
    assert total(queue) == 5 and "共 3 页" in queue
    by_unit = c.get("/review?size=50&sort=what&dir=desc").text
    titles = re.findall(r'<td class="title"><a href="/items/\d+\?back=[^"]*">([^<]+)</a>', by_unit)
    assert len(titles) == 5 and titles == sorted(titles, reverse=True)
    sheet = openpyxl.load_workbook(io.BytesIO(c.get("/review?size=2&sort=what&dir=desc&export=xlsx").content)).active
    assert [r[2] for r in sheet.iter_rows(min_row=2, values_only=True)] == [t.replace("&#34;", '"') for t in titles]
    assert {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)} == {"待审核"}


def test_the_item_page_goes_back_to_the_list_it_came_from(app, personas, engine, year_2025):
    _, done = _ask_and_submit(engine, year_2025, 0, 1)
    c = personas.coordinator.client(app)
    oid = done[0]
    queue = c.get("/review?size=20&sort=unit").text
    href = re.search(rf'href="(/items/{oid}\?back=[^"]+)"', queue)[1].replace("&amp;", "&")
    page = c.get(href).text
    assert re.search(r'<a href="/review\?size=20&amp;sort=unit" id="back">← 返回办结审核</a>', page)
    # the page's own form redirects to the bare address: 返回 still leads to the list
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = c.post(f"/items/{oid}/accept", data={"note": "", "csrf": csrf}, follow_redirects=False)
    assert r.headers["location"].startswith(f"/items/{oid}?ok=")
    assert 'href="/review?size=20&amp;sort=unit" id="back">← 返回办结审核' in c.get(r.headers["location"]).text
    # another item does not inherit it; hostile addresses never become the link
    other = next(int(i) for i in re.findall(r'href="/items/(\d+)\?back=', c.get("/inbox").text) if int(i) != oid)
    assert 'href="/dashboard" id="back">← 返回督查总览</a>' in c.get(f"/items/{other}").text
    for hostile in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/x\\y", "/\x01"):
        html = c.get(f"/items/{oid}", params={"back": hostile}).text
        assert 'href="/dashboard" id="back"' in html or 'href="/review?size=20&amp;sort=unit" id="back"' \
            in html, hostile
        assert "evil" not in html.split('id="back"')[0].rsplit("<a", 1)[1], hostile
    # the inbox's done tab is named as such
    inbox = c.get("/inbox?show=done").text
    href = re.search(r'href="(/items/\d+\?back=[^"]+)"', inbox)[1].replace("&amp;", "&")
    assert "← 返回已办事项" in c.get(href).text


def test_the_unit_filter_offers_the_higher_levels_first_and_says_when_it_is_cut(app, personas, engine, monkeypatch):
    from storage import views

    dc = personas.supervisor.client(app)         # 平顶山市: a city, its counties, their townships
    html = dc.get("/dashboard").text
    select = html.split('<select id="jurisdiction"', 1)[1].split("</select>", 1)[0]
    names = re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select)
    with Session(engine) as s:
        from storage.tables import Jurisdiction
        level = dict(s.execute(sa.select(Jurisdiction.name, Jurisdiction.level)).all())
    ranks = [("province", "city", "county", "township").index(level[n]) for n in names]
    assert names and ranks == sorted(ranks) and "仅列出前" not in select
    monkeypatch.setattr(views, "UNIT_CHOICES", 3)
    select = dc.get("/dashboard").text.split('<select id="jurisdiction"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select) == names[:3]
    assert "……仅列出前 3 个地区，其余乡镇（街道）请从区县进入" in select
