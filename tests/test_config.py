"""config.yaml as one typed model (obligations.config): every section and key is declared; a wrong
type or an unknown key (a typo such as ``remiders``) is refused naming ``file:line: field``; the
settings carry typed sections and no raw dict; a config written back from the settings
(storage.files.config_document, the demo's config.yaml) reads the same."""
from __future__ import annotations

import builtins
import dataclasses
import io
import pathlib
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel

from flows.cli import main
from obligations.config import (
    ConfigDoc,
    ConfigError,
    NotifyConfig,
    ReportConfig,
    ServiceConfig,
    WebConfig,
    parse_config,
)
from obligations.errors import ProblemsError
from storage import files
from storage.files import config_doc, config_document, load_settings

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "config.yaml").read_text(encoding="utf-8")


def line_of(text: str, path: tuple[str, ...]) -> int:
    """1-based line of a key in block-style YAML, found by its indentation (not by the parser
    under test)."""
    lines, start, found = text.splitlines(), 0, None
    for depth, key in enumerate(path):
        pattern = re.compile(rf"^{'  ' * depth}{re.escape(key)}:(\s|$)")
        found = next(i for i in range(start, len(lines)) if pattern.match(lines[i]))
        start = found + 1
    return found + 1


def with_value(path: tuple[str, ...], value: str) -> tuple[str, int]:
    """The repository's config with the key at ``path`` set to ``value`` (YAML text); a mapping's
    indented lines go with it."""
    line = line_of(TEXT, path)
    lines = TEXT.splitlines()
    lines[line - 1] = f"{'  ' * (len(path) - 1)}{path[-1]}: {value}"
    while line < len(lines) and lines[line].startswith("  " * len(path)):
        del lines[line]
    return "\n".join(lines) + "\n", line


def renamed(path: tuple[str, ...], new_key: str) -> tuple[str, int]:
    """The repository's config with the key at ``path`` renamed (a typo)."""
    line = line_of(TEXT, path)
    lines = TEXT.splitlines()
    lines[line - 1] = lines[line - 1].replace(f"{path[-1]}:", f"{new_key}:", 1)
    return "\n".join(lines) + "\n", line


def refusal(text: str, filename: str = "config.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, filename)
    return info.value.message()


def sections(model: type[BaseModel] = ConfigDoc, prefix: str = "") -> dict[str, type[BaseModel]]:
    """Every model in the configuration, by its dotted path ('' for the top level)."""
    out = {prefix: model}
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out |= sections(field.annotation, f"{prefix}.{name}" if prefix else name)
    return out


# -- the repository's config ------------------------------------------------------------------

def test_the_repository_config_parses_and_declares_every_key_it_uses():
    doc = parse_config(TEXT, "config.yaml")
    assert doc.web.https_only is False and doc.notify.reminders == [7, 1]
    assert doc.service.deliver == "*/5 * * * *" and doc.report.formats == ["html", "pdf", "xlsx", "docx"]
    assert doc.plans == ["plans/fujian-2025", "plans/guangdong-2024", "plans/pingdingshan-2025"]
    # every key the file writes is a field (extra keys are refused, so none could hide in extras)
    data = yaml.safe_load(TEXT)
    for section, keys in data.items():
        assert section in ConfigDoc.model_fields
        if isinstance(keys, dict):
            assert set(keys) <= set(sections()[section].model_fields), section


def test_every_section_forbids_unknown_keys():
    found = sections()
    assert {"", "policy", "policy.progress_report", "calendar", "schedule", "notify", "notify.dingtalk",
            "notify.wecom", "notify.sms", "notify.feedback", "service", "report", "report.scoring", "web",
            "database_pool", "cases"} == set(found)
    assert {path: model.model_config.get("extra") for path, model in found.items()} == \
        {path: "forbid" for path in found}


def test_config_error_is_a_problems_error_and_storage_re_exports_it():
    assert issubclass(ConfigError, ProblemsError) and issubclass(ConfigError, ValueError)
    assert ConfigError.head == "配置有误" and files.ConfigError is ConfigError


# -- a wrong type in every section -------------------------------------------------------------

WRONG = [   # (path, bad value, reason)
    (("database",), "[1, 2]", "应为文本"),
    (("plans",), "plans/fujian-2025", "应为列表"),
    (("policy", "progress_report", "kind"), "fortnightly", "取值 'fortnightly' 不在允许范围内"),
    (("policy", "progress_report", "what"), "[报送, 进展]", "应为文本"),
    (("policy", "progress_report"), "quarterly", "应为映射"),
    (("calendar", "roll_forward"), "maybe", "应为 true 或 false"),
    (("calendar", "holidays"), "2027-01-04", "应为列表"),
    (("schedule", "horizon_days"), "soon", "应为整数"),
    (("schedule", "timezone"), "Asia/Shangai", "不认识的时区 'Asia/Shangai'"),
    (("notify", "overdue_every"), "0", "数值过小"),
    (("notify", "reminders"), "seven", "应为列表"),
    (("notify", "dingtalk", "agent_id"), "-1", "数值过小"),
    (("notify", "wecom", "per_member_per_minute"), "0", "数值过小"),
    (("notify", "sms", "provider"), "huawei", "取值 'huawei' 不在允许范围内"),
    (("notify", "feedback", "day"), "31", "数值过大"),
    (("notify", "feedback", "every"), "week", "取值 'week' 不在允许范围内"),
    (("service", "sweep"), "5", "应为 crontab 文本"),
    (("service", "sweep"), "every morning", "应为五段的 crontab"),
    (("service", "deliver"), "{seconds: 0}", "间隔不能为零"),
    (("report", "period"), "week", "取值 'week' 不在允许范围内"),
    (("report", "overdue_rows"), "-1", "数值过小"),
    (("report", "scoring", "per_return"), "-0.5", "数值过小"),
    (("report", "scoring", "late"), "很多", "应为数字"),
    (("report", "scoring", "full"), "0", "数值过小"),
    (("web", "https_only"), "sometimes", "应为 true 或 false"),
    (("web",), "true", "应为映射"),
    (("database_pool", "size"), "0", "数值过小"),
    (("database_pool", "timeout_seconds"), "soon", "应为整数"),
    (("web", "max_body_bytes"), "100", "数值过小"),
    (("cases", "code_pattern"), '"[A-Z"', "不是有效的正则表达式"),
]


@pytest.mark.parametrize("path, value, reason", WRONG, ids=lambda v: ".".join(v) if isinstance(v, tuple) else None)
def test_a_wrong_type_is_refused_with_file_line_and_field(path, value, reason):
    text, line = with_value(path, value)
    message = refusal(text)
    assert f"config.yaml:{line}: {'.'.join(path)}: {reason}" in message, message
    assert message.startswith("配置有误（1 处错误）") and "Traceback" not in message


def test_the_wrong_type_cases_cover_every_section():
    covered = {".".join(path[:-1]) for path, _, _ in WRONG}
    assert covered == set(sections())


def test_a_channel_secret_is_never_a_setting():
    """Secrets come from the environment: config.yaml names the variable, a secret key is refused."""
    secret_line = "    secret_env: DUBAN_DINGTALK_APP_SECRET\n"
    message = refusal(TEXT.replace(secret_line, "    app_secret: s3cret\n" + secret_line, 1))
    assert "notify.dingtalk.app_secret: 不认识的配置项" in message and "secret_env" in message
    order = "  channels: [email, dingtalk, wecom, sms]"
    doc = parse_config(TEXT.replace(order, "  channels: [dingtalk, email]", 1)
                       .replace(secret_line, "    secret_env: MY_DING_SECRET\n", 1), "config.yaml")
    assert doc.notify.channels == ["dingtalk", "email"] and doc.notify.dingtalk.secret_env == "MY_DING_SECRET"
    assert doc.notify.sms.kinds == ["escalate", "return"] and doc.notify.sms.var_max_chars == 35
    assert "notify.channels[0]: 取值 'fax' 不在允许范围内" in refusal(TEXT.replace(order, "  channels: [fax]", 1))


def test_an_interval_with_an_unknown_unit_is_refused_at_the_unit():
    text, line = with_value(("service", "sweep"), "{secnds: 30}")
    assert f"config.yaml:{line}: service.sweep.secnds: 取值 'secnds' 不在允许范围内" in refusal(text)
    text, _ = with_value(("service", "sweep"), "{minutes: 30, seconds: 0}")
    assert parse_config(text, "config.yaml").service.sweep == {"minutes": 30, "seconds": 0}


def test_a_date_that_does_not_exist_is_refused_with_its_line():
    # YAML itself reads an unquoted 2027-02-30 as a date and fails: no traceback, the place
    text, line = with_value(("calendar", "holidays"), "[2027-01-04, 2027-02-30]")
    assert f"config.yaml:{line}: calendar.holidays[1]: 2027-02-30 不是有效的日期" in refusal(text)


def test_the_service_names_the_trigger_of_every_scheduled_flow():
    text, _ = with_value(("service", "sweep"), "{hours: 2}")
    service = parse_config(text, "config.yaml").service
    assert {name: service.trigger(name) for name in ServiceConfig.model_fields} == \
        {"materialize": "0 2 * * *", "sweep": {"hours": 2}, "deliver": "*/5 * * * *", "report": "0 7 1 * *"}


def test_every_problem_is_listed_in_line_order():
    text, first = with_value(("schedule", "horizon_days"), "soon")
    lines = text.splitlines()
    second = line_of(text, ("web", "https_only"))
    lines[second - 1] = "  https_only: sometimes"
    message = refusal("\n".join(lines))
    assert message.splitlines()[1:] == [f"config.yaml:{first}: schedule.horizon_days: 应为整数",
                                        f"config.yaml:{second}: web.https_only: 应为 true 或 false"]


# -- unknown keys in every section ---------------------------------------------------------------

UNKNOWN = [   # (path of the key renamed, the typo, the suggestion)
    (("data_dir",), "data_dri", "data_dir"),
    (("policy", "progress_report"), "progres_report", "progress_report"),
    (("policy", "progress_report", "kind"), "knd", "kind"),
    (("calendar", "workdays"), "workday", "workdays"),
    (("schedule", "horizon_days"), "horizon_day", "horizon_days"),
    (("notify", "reminders"), "remiders", "reminders"),
    (("notify", "dingtalk", "agent_id"), "agentid", "agent_id"),
    (("notify", "wecom", "corp_id"), "corpid", "corp_id"),
    (("notify", "sms", "sign_name"), "signname", "sign_name"),
    (("notify", "feedback", "min_period_days"), "min_period_day", "min_period_days"),
    (("service", "sweep"), "swep", "sweep"),
    (("report", "overdue_rows"), "overdue_row", "overdue_rows"),
    (("report", "scoring", "per_extension"), "per_extention", "per_extension"),
    (("web", "https_only"), "http_only", "https_only"),
    (("web",), "webb", "web"),
    (("database_pool", "max_overflow"), "max_overfow", "max_overflow"),
    (("cases", "code_pattern"), "code_patern", "code_pattern"),
]


@pytest.mark.parametrize("path, typo, nearest", UNKNOWN, ids=lambda v: ".".join(v) if isinstance(v, tuple) else None)
def test_an_unknown_key_is_refused_with_its_line_and_the_nearest_known_key(path, typo, nearest):
    text, line = renamed(path, typo)
    field = ".".join(path[:-1] + (typo,))
    assert f"config.yaml:{line}: {field}: 不认识的配置项（是否应为 {nearest}？）" in refusal(text)


def test_the_unknown_key_cases_cover_every_section():
    covered = {".".join(path[:-1]) for path, _, _ in UNKNOWN}
    assert covered == set(sections())


def test_an_unknown_key_with_no_near_match_lists_the_known_ones():
    lines = TEXT.splitlines()
    at = line_of(TEXT, ("web", "https_only"))
    lines.insert(at, "  colour: red")
    message = refusal("\n".join(lines))
    known = "、".join(WebConfig.model_fields)        # https_only、session_idle_minutes …
    assert known.startswith("https_only、") and "max_body_bytes" in known
    assert f"config.yaml:{at + 1}: web.colour: 不认识的配置项（可用：{known}）" in message


def test_a_repeated_key_and_a_key_that_is_not_text_are_refused_with_their_lines():
    lines = TEXT.splitlines()
    at = line_of(TEXT, ("notify", "on_due_day"))
    lines.insert(at, "  on_due_day: false")
    message = refusal("\n".join(lines))
    assert f"config.yaml:{at + 1}: notify.on_due_day: 重复的配置项" in message
    message = refusal("database: sqlite:///x.db\n2025: x\n")
    assert "config.yaml:2: 2025: 配置项名称应为文本" in message


def test_an_empty_section_or_file_takes_the_defaults_and_a_non_mapping_is_refused():
    assert parse_config("", "c.yaml") == ConfigDoc()
    assert parse_config("web:\n  # https_only: true\nnotify:\n", "c.yaml") == ConfigDoc()
    assert "c.yaml:1: (document): 应为映射" in refusal("- database\n", "c.yaml")
    assert "c.yaml:2: web: 应为映射" in refusal("database: x\nweb: true\n", "c.yaml")


# -- pure: text in, model out --------------------------------------------------------------------

def test_parse_config_does_not_touch_the_disk(monkeypatch):
    ZoneInfo("Asia/Shanghai")        # the time-zone database is the system's (zoneinfo caches it)

    def no_disk(*args, **kwargs):
        raise AssertionError("parse_config touched the disk")

    for owner, name in ((builtins, "open"), (io, "open"), (pathlib.Path, "open"), (pathlib.Path, "read_text"),
                        (pathlib.Path, "stat"), (pathlib.Path, "exists")):
        monkeypatch.setattr(owner, name, no_disk)
    doc = parse_config(TEXT, "/nowhere/at/all/config.yaml")
    assert doc.schedule.timezone == "Asia/Shanghai"
    with pytest.raises(ConfigError) as info:
        parse_config(TEXT.replace("  reminders:", "  remiders:"), "/nowhere/at/all/config.yaml")
    assert info.value.problems[0].file == "/nowhere/at/all/config.yaml"


# -- the settings: typed sections, no raw dict -----------------------------------------------------

def test_settings_carry_typed_sections_and_no_raw_dict(project):
    settings = load_settings()
    assert not hasattr(settings, "raw")
    assert isinstance(settings.notify, NotifyConfig) and isinstance(settings.service, ServiceConfig)
    assert isinstance(settings.report, ReportConfig) and isinstance(settings.web, WebConfig)
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("https_only: false", "https_only: true"),
                      encoding="utf-8")
    assert load_settings().web.https_only is True


def test_a_typo_in_the_config_stops_the_command_line_with_its_line(project, capsys):
    config = project / "config.yaml"
    text, line = renamed(("notify", "reminders"), "remiders")
    config.write_text(text, encoding="utf-8")
    assert main(["plans", "list"]) == 1
    err = capsys.readouterr().err
    assert f"{config}:{line}: notify.remiders: 不认识的配置项（是否应为 reminders？）" in err, err


@pytest.mark.parametrize("https_only", [False, True])
def test_web_https_only_sets_the_secure_session_cookie(project, engine, https_only):
    from fastapi.testclient import TestClient

    from web.app import create_app

    settings = load_settings()
    settings = dataclasses.replace(settings, web=WebConfig(https_only=https_only))
    page = TestClient(create_app(settings, engine), follow_redirects=False).get("/login")
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith("duban_session=") and ("; secure" in cookie) is https_only


# -- written back: config_document and the demo's config.yaml --------------------------------------

def test_a_config_written_from_the_settings_reads_the_same_anywhere(project, tmp_path, monkeypatch):
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8")
                      .replace("docx_template: null", "docx_template: 模板.docx")
                      .replace("holidays: []", "holidays: [2027-01-04]")
                      .replace("deliver: \"*/5 * * * *\"", "deliver: {minutes: 5}"), encoding="utf-8")
    settings = load_settings()
    assert settings.report.docx_template == str(project / "模板.docx")
    document = config_document(settings)
    assert set(document) == set(ConfigDoc.model_fields) and document["web"] == WebConfig().model_dump()
    assert document["web"]["max_body_bytes"] == 1048576 and document["web"]["max_upload_bytes"] == 16777216
    assert document["schedule"]["start"] == "2025-01-01" and document["service"]["deliver"] == {"minutes": 5}
    elsewhere = tmp_path / "elsewhere" / "config.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert parse_config(elsewhere.read_text(encoding="utf-8"), str(elsewhere)) == config_doc(settings)
    monkeypatch.delenv("DUBAN_DATABASE_URL")        # the written file names the database itself
    again = load_settings(str(elsewhere))
    assert dataclasses.replace(again, path=settings.path) == settings     # paths resolve as before


def test_the_demo_config_parses_and_opens_the_demo_folder(project, tmp_path, monkeypatch):
    from flows.cli.service import _demo_web
    from flows.simulation import demo_settings, prepare

    settings = demo_settings(load_settings(), tmp_path / "demo")
    settings.data_dir.mkdir(parents=True)
    prepare(settings, 7, cases=5)
    path, _ = _demo_web(settings, settings.data_dir)
    doc = parse_config(path.read_text(encoding="utf-8"), str(path))
    assert str(doc.schedule.as_of) == "2025-12-31" and doc.data_dir == str(settings.data_dir)
    assert doc.database == settings.database_url and doc.web == settings.web
    monkeypatch.delenv("DUBAN_DATABASE_URL")
    demo = load_settings(str(path))
    assert (demo.data_dir, demo.directory_path, demo.plan_dirs) == \
        (settings.data_dir, settings.directory_path, settings.plan_dirs)
    assert dataclasses.replace(demo, path=settings.path, as_of=None) == settings
