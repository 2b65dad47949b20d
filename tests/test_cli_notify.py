"""Notices through the command line: sweep, deliver over SMTP (DUBAN_SMTP_URL), outbox."""
import json

import pytest

from flows.cli import main


def run(capsys, *args):
    code = main(list(args))
    c = capsys.readouterr()
    return code, c.out, c.err


def test_sweep_deliver_outbox(project, capsys, smtp_sink, monkeypatch):
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    monkeypatch.setenv("DUBAN_SECRET", "cli-secret")
    run(capsys, "plans", "load", "--all")
    run(capsys, "materialize", "--until", "2025-12-31", "--today", "2025-01-01")
    code, out, _ = run(capsys, "sweep", "--today", "2025-04-28")
    assert code == 0 and "到期提醒" in out and "每个收件单位每天一份" in out
    code, out, _ = run(capsys, "sweep", "--today", "2025-04-28", "--format", "json")
    again = json.loads(out)
    assert sum(again["notices"].values()) == 0 and again["digests"] == 0
    code, out, _ = run(capsys, "deliver", "--force")
    assert code == 0 and "已发送" in out
    sent = len(smtp_sink.messages)
    assert sent > 0 and len(set(smtp_sink.message_ids())) == sent
    code, out, _ = run(capsys, "deliver", "--force", "--format", "json")
    assert json.loads(out)["sent"] == 0 and len(smtp_sink.messages) == sent
    code, out, _ = run(capsys, "outbox", "--format", "json", "--limit", "0")
    rows = json.loads(out)
    assert len(rows) == sent and {r["status"] for r in rows} == {"sent"} and {r["transport"] for r in rows} == {"smtp"}
    code, out, _ = run(capsys, "outbox", "--failed")
    assert code == 0 and "已发送" in out
    code, _, err = run(capsys, "outbox", "retry", str(rows[0]["id"]))
    assert code == 2 and "已发送或不存在" in err


@pytest.mark.slow
def test_parallel_sender_processes_deliver_each_digest_once(project, capsys, smtp_sink, monkeypatch):
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    monkeypatch.setenv("DUBAN_SECRET", "cli-secret")
    run(capsys, "plans", "load", "--all")
    run(capsys, "materialize", "--until", "2025-12-31", "--today", "2025-01-01")
    code, out, _ = run(capsys, "sweep", "--today", "2025-05-20", "--format", "json")
    digests = json.loads(out)["digests"]
    code, out, _ = run(capsys, "deliver", "--force", "--workers", "3", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["sent"] == digests == len(smtp_sink.messages)
    ids = smtp_sink.message_ids()
    assert len(set(ids)) == len(ids)
