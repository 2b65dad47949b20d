"""The review of completions (办结审核), per persona, through the real database, pages, API, CLI
and SMTP, with the clock frozen at 2025-04-10 (test_web's world: 新华区 with its 教育局
account jy, coordinator mz, 卫东区 民政局 wd, supervisor dc of 平顶山市):

- a department's completion makes the item 待审核; the coordinator returns it with a reason (the
  item is open again, its count back to before the returned completion, the return counted), the
  department reads the reason on the item and in its next digest (mail over SMTP), resubmits,
  and the coordinator accepts: 按期办结, judged by the submission;
- bulk acceptance from the review queue, all or none;
- refusals: a department, a supervisor, a coordinator of another unit; the same words at the CLI,
  the page and the API;
- an item awaiting review is not overdue and gets no overdue notice while it waits;
- ``completion_review: none`` in a catalog: a completion is done at once; a bad value is refused
  with its file, line and field."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session

from flows.cli import main as cli
from notifications import service as notices
from obligations.catalog import CatalogError, parse_catalog
from reports.data import build as build_report
from storage import accounts, workflow
from storage.tables import AuditEntry, Completion, Contact, Jurisdiction, Notice, Occurrence
from tests.conftest import PASSWORD, csrf_of, sign_in
from tests.test_web import TODAY, api, client
from tests.test_web import world as web_world

D = dt.date
world = web_world     # test_web's world, as this module's fixture
REASON = "佐证材料不全"


def _open_items(engine, unit: str, party: str | None, n: int, *, after: D | None = TODAY) -> list[int]:
    """Open single items of a unit (and department) whose period has begun, by due date."""
    with Session(engine) as s:
        uid = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == unit))
        q = sa.select(Occurrence.id).where(Occurrence.jurisdiction_id == uid, Occurrence.required == 1,
                                           Occurrence.done_count == 0, Occurrence.period_start <= TODAY)
        if party:
            q = q.where(Occurrence.party_key == party)
        if after:
            q = q.where(Occurrence.due > after)
        found = list(s.scalars(q.order_by(Occurrence.due, Occurrence.id).limit(n)))
    assert len(found) == n, (unit, party, found)
    return found


def _submit(engine, settings, oid: int) -> None:
    """A completion recorded by the operator (the CLI's actor) on the frozen day."""
    with Session(engine) as s, s.begin():
        workflow.complete(s, oid, by=workflow.Actor("教育局", "cli"), count=1, done_on=TODAY,
                          setting=workflow.Setting(settings.calendar(), settings.data_dir, TODAY))


def _item(app, token, oid) -> dict:
    r = api(app, token).get(f"/api/v1/occurrences/{oid}")
    assert r.status_code == 200, r.text
    return r.json()


def _query(response, key: str) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)[key][0]


def _complete_on_page(app, user: str, oid: int) -> None:
    c = client(app, user)
    r = c.post(f"/items/{oid}/complete", data={"count": "1", "note": "已入户走访", "done_on": TODAY.isoformat(),
                                              "csrf": csrf_of(c, f"/items/{oid}")})
    assert _query(r, "ok") == "已登记办理情况"


def _actions(engine, oid: int) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "occurrence",
                                                                 AuditEntry.object_id == str(oid))
                              .order_by(AuditEntry.id)))


def _another_coordinator(engine, unit: str = "卫东区") -> str:
    with Session(engine) as s, s.begin():
        accounts.add_user(s, username="wdmz", password=PASSWORD, display_name="卫东区民政局",
                          role="coordinator", jurisdiction=unit)
    return "wdmz"


# ---------------------------------------------------------------- the round trip

def test_submit_return_resubmit_accept(world, smtp_sink, monkeypatch):
    app, engine, settings, tokens = world
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    oid = _open_items(engine, "新华区", "education", 1)[0]
    due = _item(app, tokens["jy"], oid)["due"]
    # the department submits on the page: 待审核, not yet done
    _complete_on_page(app, "jy", oid)
    item = _item(app, tokens["jy"], oid)
    assert (item["status"], item["done"], item["completed_on"]) == ("submitted", 1, TODAY.isoformat())
    page = client(app, "jy").get(f"/items/{oid}").text
    assert "等待协调员审核" in page and 'id="return-form"' not in page and 'id="complete-form"' not in page
    # the coordinator finds it in the queue and returns it with a reason, from the item's page
    mz = client(app, "mz")
    queue = mz.get("/review").text
    assert f'value="{oid}"' in queue and "待审核共 1 项" in queue
    board = mz.get("/dashboard", params={"period": "2025", "jurisdiction": "新华区"}).text
    assert '<div class="v" id="kpi-submitted"><a href="/review">1</a>' in board
    r = mz.post(f"/items/{oid}/return", data={"reason": REASON, "csrf": csrf_of(mz, f"/items/{oid}")})
    assert _query(r, "ok").startswith("已退回")
    item = _item(app, tokens["jy"], oid)
    assert (item["status"], item["done"], item["completed_on"]) == ("open" if due > "2025-04-17" else "due_soon", 0,
                                                                    None)
    assert item["return_reason"] == REASON and item["returns"] == 1
    page = client(app, "jy").get(f"/items/{oid}").text
    assert f"理由：{REASON}" in page and 'id="complete-form"' in page
    assert "退回重办" in page and f"退回理由：{REASON}" in page   # the returned completion in the timeline
    with Session(engine) as s:
        c = s.scalar(sa.select(Completion).where(Completion.occurrence_id == oid))
        assert (c.returned_by, c.return_reason) == ("mz", REASON) and c.returned_at is not None
    # the department's next digest says why (the real sweep, delivery and an SMTP server)
    notices.run_sweep(engine, settings, TODAY)
    notices.run_deliver(engine, settings, now=dt.datetime.combine(TODAY, dt.time(2, 0), dt.UTC), force=True)
    with Session(engine) as s:
        contact = s.scalar(sa.select(Notice.recipient_id).where(Notice.occurrence_id == oid, Notice.kind == "return"))
        address = s.get(Contact, contact).email
    mails = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == address]
    assert mails, [m["To"] for m in smtp_sink.messages]
    text = mails[0].get_body(("plain",)).get_content()
    html = mails[0].get_body(("html",)).get_content()
    assert f"退回理由：{REASON}" in text and f"退回理由：{REASON}" in html and "【退回重办" in text
    # the department resubmits (API), the coordinator accepts (API): 按期办结 by the submission day
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{oid}/completions", json={"count": 1, "note": "已补充材料"})
    assert r.status_code == 201 and r.json()["occurrence"]["status"] == "submitted"
    r = api(app, tokens["mz"]).post("/api/v1/review/accept", json={"ids": [oid], "note": "材料齐全"})
    assert r.status_code == 200, r.text
    assert [(i["id"], i["status"], i["completed_on"]) for i in r.json()] == [(oid, "done", TODAY.isoformat())]
    assert _actions(engine, oid) == ["complete", "return", "complete", "accept"]
    # reports: one return counted, nothing awaiting
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=TODAY, jurisdiction="新华区")
    assert data.returns == 1 and data.totals["submitted"] == 0 and data.totals["done"] >= 1


def test_an_item_awaiting_review_is_not_overdue_and_gets_no_overdue_notice(world):
    """Submitted by its due date, then waiting past it: 待审核, not 逾期未办; accepted later, it is
    按期办结 — judged by the submission, not by the day of the acceptance."""
    app, engine, settings, tokens = world
    oid = _open_items(engine, "新华区", "education", 1)[0]
    _complete_on_page(app, "jy", oid)
    with Session(engine) as s:
        due = s.get(Occurrence, oid).due
    later = due + dt.timedelta(days=20)
    notices.run_sweep(engine, settings, later)
    with Session(engine) as s:
        kinds = set(s.scalars(sa.select(Notice.kind).where(Notice.occurrence_id == oid)))
        assert not kinds & {"overdue", "escalate"}, kinds
        o = s.get(Occurrence, oid)
        from storage.occurrences import list_occurrences, python_status
        assert python_status(o, later) == "submitted"
        rows = list_occurrences(s, today=later, statuses=("submitted",))
        assert oid in [r["id"] for r in rows]
        assert oid not in [r["id"] for r in list_occurrences(s, today=later, statuses=("overdue",))]
    with Session(engine) as s, s.begin():
        workflow.accept(s, [oid], by=workflow.Actor("mz", "cli"))
    with Session(engine) as s:
        from storage.occurrences import python_status
        assert python_status(s.get(Occurrence, oid), later) == "done"


# ---------------------------------------------------------------- bulk

def test_bulk_accept_from_the_review_queue_all_or_none(world):
    app, engine, settings, tokens = world
    *ids, stranger = _open_items(engine, "新华区", None, 4, after=None)
    for oid in ids:
        _submit(engine, settings, oid)
    mz = client(app, "mz")
    queue = mz.get("/review").text
    assert all(f'name="id" value="{i}"' in queue for i in ids) and f'value="{stranger}"' not in queue

    def badge() -> int:     # the navigation's count beside 办结审核
        found = re.search(r'title="待审核 (\d+) 项"', mz.get("/inbox").text)
        return int(found.group(1)) if found else 0

    waiting = badge()
    assert waiting >= 3
    token = csrf_of(mz, "/review")
    # one item not awaiting review (never completed) refuses the whole batch
    r = mz.post("/review/accept", data={"id": [str(ids[0]), str(stranger)], "csrf": token, "back": "/review"})
    assert _query(r, "error") == f"督办事项 {stranger} 尚未登记办结（0/1），没有待审核的办结情况"
    assert _item(app, tokens["mz"], ids[0])["status"] == "submitted"
    r = mz.post("/review/accept", data={"id": [str(ids[0]), str(ids[1])], "note": "材料齐全", "csrf": token,
                                        "back": "/review?plan=pingdingshan-2025"})
    assert _query(r, "ok") == "已审核通过 2 项"
    assert badge() == waiting - 2
    assert r.headers["location"].startswith("/review?plan=pingdingshan-2025&")
    states = [_item(app, tokens["mz"], i) for i in ids]
    # judged by the submission (recorded today, 2025-04-10) against each item's due date
    assert [i["status"] for i in states] == ["done" if i["due"] >= "2025-04-10" else "done_late"
                                             for i in states[:2]] + ["submitted"]
    # accepting twice is refused (it was accepted)
    r = mz.post("/review/accept", data={"id": [str(ids[0])], "csrf": token})
    assert _query(r, "error") == f"督办事项 {ids[0]} 已审核办结，不能再审核"
    # without a CSRF token: nothing
    r = mz.post("/review/accept", data={"id": [str(ids[2])]})
    assert r.status_code in (400, 403) and _item(app, tokens["mz"], ids[2])["status"] == "submitted"
    # the CLI accepts the rest and lists an empty queue
    assert cli(["review", "accept", str(ids[2]), "--note", "同意"]) == 0
    assert _item(app, tokens["mz"], ids[2])["status"] in ("done", "done_late")


# ---------------------------------------------------------------- scope

def test_only_a_coordinator_of_the_unit_or_above_reviews(world):
    app, engine, _, tokens = world
    oid = _open_items(engine, "新华区", "education", 1)[0]
    _complete_on_page(app, "jy", oid)
    # the department that submitted it
    r = api(app, tokens["jy"]).post("/api/v1/review/accept", json={"ids": [oid]})
    assert r.status_code == 403 and r.json()["detail"] == "只有本级或上级协调员可以审核办结情况"
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{oid}/return", json={"reason": REASON})
    assert r.status_code == 403 and r.json()["detail"] == "只有本级或上级协调员可以审核办结情况"
    jy = client(app, "jy")
    assert jy.get("/review").status_code == 403
    r = jy.post(f"/items/{oid}/return", data={"reason": REASON, "csrf": csrf_of(jy, f"/items/{oid}")})
    assert r.status_code == 403 and "只有本级或上级协调员可以审核办结情况" in r.text
    # a supervisor reads but does not review
    r = api(app, tokens["dc"]).post("/api/v1/review/accept", json={"ids": [oid]})
    assert r.status_code == 403
    # a coordinator of another unit: the item does not exist for them
    other = sign_in(app, _another_coordinator(engine))
    assert f'value="{oid}"' not in other.get("/review").text
    r = other.post("/review/accept", data={"id": [str(oid)], "csrf": csrf_of(other, "/review")})
    assert _query(r, "error") == f"没有编号为 {oid} 的督办事项，或您无权查看"
    r = other.post(f"/items/{oid}/return", data={"reason": REASON, "csrf": csrf_of(other, "/review")})
    assert r.status_code == 404
    assert _item(app, tokens["mz"], oid)["status"] == "submitted"
    assert _actions(engine, oid) == ["complete"]


# ---------------------------------------------------------------- one door

@pytest.fixture
def doors(world, project):
    """The CLI's config sees test_web's day, so that the CLI, pages and API judge alike."""
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {})["as_of"] = TODAY.isoformat()
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return world


def test_the_same_refusal_at_cli_page_and_api(doors, capsys):
    app, engine, settings, tokens = doors
    submitted, never = _open_items(engine, "新华区", None, 2)
    _submit(engine, settings, submitted)
    mz = client(app, "mz")
    token = csrf_of(mz, f"/items/{submitted}")

    def three(cli_args, page_path, page_data, api_path, api_json) -> set[str]:
        assert cli(cli_args) == 1
        said = {capsys.readouterr().err.strip().removeprefix("错误：")}
        said.add(_query(mz.post(page_path, data={**page_data, "csrf": token}), "error"))
        r = api(app, tokens["mz"]).post(api_path, json=api_json)
        assert r.status_code in (409, 422), r.text
        said.add(r.json()["detail"])
        return said

    # a return without a reason
    assert three(["review", "return", str(submitted), "--reason", "  "], f"/items/{submitted}/return",
                 {"reason": " "}, f"/api/v1/occurrences/{submitted}/return", {"reason": ""}) == {"退回必须说明理由"}
    # an item that was never completed
    assert three(["review", "accept", str(never)], f"/items/{never}/accept", {},
                 "/api/v1/review/accept", {"ids": [never]}) == {
        f"督办事项 {never} 尚未登记办结（0/1），没有待审核的办结情况"}
    # nothing was written by any refusal
    assert _actions(engine, submitted) == ["complete"] and _actions(engine, never) == []
    # the typed examples: complete → 待审核, accept → 按期办结, return → open again with the reason
    assert cli(["complete", str(never), "--on", TODAY.isoformat(), "--note", "已办结"]) == 0
    assert "待审核" in capsys.readouterr().out
    assert cli(["review", "accept", str(never)]) == 0
    assert "按期办结" in capsys.readouterr().out
    assert cli(["review", "return", str(submitted), "--reason", REASON]) == 0
    out = capsys.readouterr().out
    assert f"理由：{REASON}" in out and "进度退回至 0/1" in out
    assert cli(["review", "list", "--format", "json"]) == 0


# ---------------------------------------------------------------- the catalog key

def test_completion_review_none_in_a_catalog_makes_a_completion_final(world, project):
    app, engine, _, tokens = world
    catalog = project / "plans" / "pingdingshan-2025" / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert "completion_review" not in text
    assert "\nplan:\n" in text
    catalog.write_text(text.replace("\nplan:\n", "\nplan:\n  completion_review: none\n", 1), encoding="utf-8")
    assert cli(["plans", "load", "--all"]) == 0
    oid = _open_items(engine, "新华区", "education", 1)[0]
    _complete_on_page(app, "jy", oid)
    assert _item(app, tokens["jy"], oid)["status"] == "done"


def test_a_bad_completion_review_value_is_refused_with_its_line(directory):
    text = (
        "plan: {id: p, title: 方案, issuer: 某市人民政府, locality: 某市, level: city, completion_review: maybe}\n"
        "clauses:\n"
        "- id: '1'\n  kind: task\n  text: 民政部门要定期走访。\n  lines: [1, 1]\n"
        "  departments: [{name: 民政局, role: lead}]\n"
        "  obligations:\n"
        "  - id: '1.1'\n    what: 走访\n    who: [civil_affairs]\n    scope: city\n"
        "    cadence: {kind: monthly, origin: stated, text: 每月}\n    completion_review: sometimes\n")
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "catalog.yaml", directory)
    problems = [str(p) for p in caught.value.problems]
    assert any("plan.completion_review" in p and "'maybe'" in p and "catalog.yaml:1" in p for p in problems), problems
    assert any("completion_review" in p and "'sometimes'" in p and "catalog.yaml:14" in p for p in problems), problems
