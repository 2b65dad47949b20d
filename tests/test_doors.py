"""One door behind every door: the same bad completion is refused with the same words by the
command line, the web page, the API and a notice's link, because all four call
``storage.workflow.complete`` and check nothing themselves; and a refused completion leaves
nothing behind (no completion, no audit row, no evidence file, the link still usable)."""
from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session

from flows.cli import main as cli
from notifications.links import load_secret, make_token
from storage import workflow
from storage.evidence import Evidence
from storage.tables import AuditEntry, Completion, Notice, Occurrence
from tests.conftest import csrf_of, owing_contact
from tests.test_web import TODAY, api, client, world  # noqa: F401  (world is a fixture)

D = dt.date
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def doors(world, project, tmp_path):  # noqa: F811  (the fixture imported above)
    """The web world of test_web (新华区 教育局 account jy, today 2025-04-10), with the CLI's
    config seeing the same day, an open item of jy with a notice link, and another open item of the area."""
    app, engine, settings, tokens = world
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {})["as_of"] = TODAY.isoformat()
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    jy = api(app, tokens["jy"])
    rows = jy.get("/api/v1/occurrences", params={"limit": 1000, "status": ["open", "due_soon", "overdue"]}).json()
    single = [i["id"] for i in rows if i["required"] == 1 and i["done"] == 0]
    area = api(app, tokens["mz"]).get("/api/v1/occurrences", params={"limit": 1000, "status": ["open"]}).json()
    mine = single[:1] + [i["id"] for i in area if i["done"] == 0 and i["id"] not in single[:1]][:1]
    assert len(mine) == 2
    with Session(engine) as s, s.begin():
        notice = Notice(occurrence_id=mine[0], stage="remind-7", kind="remind", swept_on=D(2025, 4, 1), workdays=7,
                        recipient_kind="contact", recipient_id=owing_contact(s, mine[0]))
        s.add(notice)
        s.flush()
        token = make_token(load_secret(settings.data_dir), notice_id=notice.id, occurrence_id=mine[0],
                           expires=D(2025, 5, 1))
    evidence = tmp_path / "走访照片.jpg"
    evidence.write_bytes(PDF)              # a PDF dressed as a photo
    return dict(app=app, engine=engine, settings=settings, tokens=tokens, items=mine, token=token,
                evidence=evidence)


def _service_message(d, item: int, **kw) -> str:
    """What the service itself says, in a transaction that is rolled back."""
    with Session(d["engine"]) as s:
        with pytest.raises(workflow.DubanError) as caught:
            workflow.complete(s, item, by=workflow.Actor("测试", "cli"), count=kw.pop("count", 1),
                              setting=workflow.Setting(d["settings"].calendar(), d["settings"].data_dir, TODAY), **kw)
        s.rollback()
    return str(caught.value)


def _cli(d, item: int, capsys, *args: str) -> str:
    rc = cli(["complete", str(item), "--by", "教育局", *args])
    err = capsys.readouterr().err
    assert rc == 1, err
    return err


def _page(d, item: int, *, data: dict, files: dict | None = None) -> str:
    c = client(d["app"], "jy")
    r = c.post(f"/items/{item}/complete", data={**data, "csrf": csrf_of(c, f"/items/{item}")}, files=files)
    assert r.status_code == 303, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert "error" in query, r.headers["location"]
    return query["error"][0]


def _api(d, item: int, body: dict) -> tuple[int, str]:
    r = api(d["app"], d["tokens"]["jy"]).post(f"/api/v1/occurrences/{item}/completions", json=body)
    return r.status_code, r.json()["detail"]


def _link(d, *, data: dict, files: dict | None = None) -> tuple[int, str]:
    c = client(d["app"])
    page = c.get(f"/c/{d['token']}")
    assert page.status_code == 200, page.text
    # a finished item's link shows no form: the POST is forged with a token from the sign-in page
    found = re.search(r'name="csrf" value="([^"]+)"', page.text) or re.search(
        r'name="csrf" value="([^"]+)"', c.get("/login").text)
    csrf = found[1]
    r = c.post(f"/c/{d['token']}", data={**data, "csrf": csrf}, files=files)
    return r.status_code, r.text


def _nothing_written(d, item: int) -> None:
    with Session(d["engine"]) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Completion).where(Completion.occurrence_id == item)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.object_type == "occurrence", AuditEntry.object_id == str(item))) == 0
        assert s.get(Notice, s.scalar(sa.select(Notice.id).where(Notice.occurrence_id == d["items"][0]))).link_used_at \
            is None
    folder = d["settings"].data_dir / "evidence" / str(item)
    assert not folder.exists() or not any(folder.iterdir())


def test_a_future_date_is_refused_alike_at_every_door(doors, capsys):
    item = doors["items"][0]
    expected = _service_message(doors, item, done_on=D(2025, 4, 11))
    assert expected == "办理日期 2025-04-11 晚于今天（2025-04-10），不能登记"
    assert expected in _cli(doors, item, capsys, "--on", "2025-04-11")
    assert _page(doors, item, data={"count": "1", "done_on": "2025-04-11"}) == expected
    assert _api(doors, item, {"count": 1, "done_on": "2025-04-11"}) == (422, expected)
    status, text = _link(doors, data={"count": "1", "done_on": "2025-04-11", "name": "王老师"})
    assert status == 422 and expected in text
    _nothing_written(doors, item)


def test_a_date_before_the_period_is_refused_alike_at_every_door(doors, capsys):
    """Backdating: 1900-01-01 (the web form), 0001-01-01 (the API) or any day before the item's
    period began is refused by the one rule (obligations.timeliness), in the same words."""
    item = doors["items"][0]
    with Session(doors["engine"]) as s:
        start = s.get(Occurrence, item).period_start
    for day in ("1900-01-01", "0001-01-01", (start - dt.timedelta(days=1)).isoformat()):
        expected = _service_message(doors, item, done_on=D.fromisoformat(day))
        assert expected == f"办理日期 {day} 早于本期开始日期 {start}，不能登记（请填写实际办理日期；本期以前的工作不计入本期）"
        assert expected in _cli(doors, item, capsys, "--on", day)
        assert _page(doors, item, data={"count": "1", "done_on": day}) == expected
        assert _api(doors, item, {"count": 1, "done_on": day}) == (422, expected)
        status, text = _link(doors, data={"count": "1", "done_on": day, "name": "王老师"})
        assert status == 422 and expected in text
    _nothing_written(doors, item)


def test_a_wrong_evidence_file_is_refused_alike_at_every_door(doors, capsys):
    item, path = doors["items"][0], doors["evidence"]
    expected = _service_message(doors, item, done_on=TODAY, evidence=Evidence(path.name, path.read_bytes()))
    assert expected == "附件 走访照片.jpg 的扩展名与内容不符"
    assert expected in _cli(doors, item, capsys, "--evidence", str(path))
    files = {"upload": (path.name, path.read_bytes(), "image/jpeg")}
    assert _page(doors, item, data={"count": "1"}, files=files) == expected
    body = {"count": 1, "evidence": {"filename": path.name, "content_base64": base64.b64encode(PDF).decode()}}
    assert _api(doors, item, body) == (422, expected)
    status, text = _link(doors, data={"count": "1", "name": "王老师"}, files=files)
    assert status == 422 and expected in text
    _nothing_written(doors, item)


def test_a_finished_item_is_refused_alike_at_every_door(doors, capsys):
    item = doors["items"][0]
    with Session(doors["engine"]) as s, s.begin():
        workflow.complete(s, item, by=workflow.Actor("教育局", "cli"), count=1, done_on=D(2025, 4, 8),
                          setting=workflow.Setting(doors["settings"].calendar(), doors["settings"].data_dir, TODAY))
    # awaiting the coordinator's review, then accepted: refused alike in both states
    for accepted in (False, True):
        if accepted:
            with Session(doors["engine"]) as s, s.begin():
                workflow.accept(s, [item], by=workflow.Actor("民政局", "cli"))
        expected = _service_message(doors, item, done_on=TODAY)
        assert expected == (f"督办事项 {item} 已于 2025-04-08 办结（1/1），未重复登记" if accepted
                            else f"督办事项 {item} 已于 2025-04-08 登记办结，正待审核，未重复登记")
        assert expected in _cli(doors, item, capsys)
        assert _page(doors, item, data={"count": "1"}) == expected
        assert _api(doors, item, {"count": 1}) == (409, expected)
        status, text = _link(doors, data={"count": "1", "name": "王老师"})
        assert status == 409 and expected in text
    with Session(doors["engine"]) as s:   # still the one completion, and the link not spent
        assert s.scalar(sa.select(sa.func.count()).select_from(Completion).where(Completion.occurrence_id == item)) == 1
        assert s.scalar(sa.select(Notice.link_used_at).where(Notice.occurrence_id == item)) is None


def test_a_good_completion_through_each_door_is_audited_with_its_file(doors, capsys):
    """The four doors record the same way: an audit row naming the channel, the evidence kept
    under the data folder by a relative path."""
    engine, settings = doors["engine"], doors["settings"]
    first, second = doors["items"][:2]
    photo = doors["evidence"].with_name("photo.pdf")
    photo.write_bytes(PDF)
    assert cli(["complete", str(second), "--by", "教育局", "--evidence", str(photo), "--on", "2025-04-09"]) == 0
    status, text = _link(doors, data={"count": "1", "name": "王老师", "done_on": "2025-04-08"},
                         files={"upload": ("记录.pdf", PDF, "application/pdf")})
    assert status == 200 and "已登记" in text
    with Session(engine) as s:
        rows = s.execute(sa.select(Completion.occurrence_id, Completion.channel, Completion.evidence_path,
                                   Completion.done_on).where(Completion.occurrence_id.in_((first, second)))
                         .order_by(Completion.occurrence_id)).all()
        audits = s.execute(sa.select(AuditEntry.object_id, AuditEntry.action, AuditEntry.after)
                           .where(AuditEntry.object_id.in_((str(first), str(second))))).all()
    assert {(r.occurrence_id, r.channel, r.done_on) for r in rows} == {(first, "email", D(2025, 4, 8)),
                                                                       (second, "cli", D(2025, 4, 9))}
    for r in rows:
        assert not Path(r.evidence_path).is_absolute() and r.evidence_path.startswith(f"evidence/{r.occurrence_id}/")
        assert (settings.data_dir / r.evidence_path).read_bytes() == PDF
    assert {(a.object_id, a.action, a.after["channel"]) for a in audits} == {(str(first), "link.use", "email"),
                                                                             (str(second), "complete", "cli")}
