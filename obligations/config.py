"""config.yaml as one typed model: every section and every key is declared, and anything else
(a typo such as ``notify.remiders``) is refused with its line instead of being ignored.

Pure: ``parse_config`` takes the file's text and a name to report it by, and returns a
``ConfigDoc`` or raises ``ConfigError`` listing every problem as ``file:line: field: reason``.
Reading the file, resolving relative paths and the environment overrides are the edge's work
(storage.files)."""
from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from obligations.catalog import CadenceKind
from obligations.errors import ProblemsError
from obligations.problems import from_validation_error
from obligations.yamlsource import Located, Problem, YamlSyntaxError, format_path, parse


class ConfigError(ProblemsError, ValueError):
    head = "配置有误"


class _Section(BaseModel):
    """Every part of config.yaml: unknown keys are refused, never ignored. A section left
    empty (``web:`` with every key commented out) takes its defaults."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


# -- policy ---------------------------------------------------------------------------------

class ProgressReportConfig(_Section):
    kind: CadenceKind = "quarterly"
    scope: Literal["issuer", "province", "city", "county", "township", "village"] = "issuer"
    what: str = "报送工作进展"
    rrule: str | None = None
    months: list[int] | None = None
    count: int = Field(default=1, ge=1)


class PolicyConfig(_Section):
    progress_report: ProgressReportConfig = ProgressReportConfig()


# -- calendar and schedule ------------------------------------------------------------------

class CalendarConfig(_Section):
    roll_forward: bool = True
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"不认识的时区 {name!r}（如 Asia/Shanghai）") from None
    return name


class ScheduleConfig(_Section):
    timezone: Annotated[str, AfterValidator(_known_zone)] = "Asia/Shanghai"
    start: dt.date = dt.date(2025, 1, 1)
    horizon_days: int = Field(default=120, ge=1)
    due_soon_days: int = Field(default=7, ge=0)
    # a completion dated more than this many working days before it was recorded is flagged
    # (补登待核) and judged by its recording day (obligations/timeliness.py)
    completion_grace_days: int = Field(default=3, ge=0, le=60)
    as_of: dt.date | None = None      # run as if today were this day (demos, training); null: the real date


# -- notify ---------------------------------------------------------------------------------

ChannelName = Literal["email", "dingtalk", "wecom", "sms"]
NoticeKind = Literal["remind", "due", "overdue", "escalate", "urge", "return"]


class DingTalkAppConfig(_Section):
    """DingTalk work notices (工作通知) through an enterprise internal app. The AppSecret is read
    from the environment variable named by ``secret_env``, never from this file."""
    app_key: str = ""
    agent_id: int = Field(default=0, ge=0)
    secret_env: str = "DUBAN_DINGTALK_APP_SECRET"
    api: str = "https://oapi.dingtalk.com"
    daily_limit: int = Field(default=0, ge=0)          # messages a day for the app; 0: no limit of duban's own
    per_person_daily: int = Field(default=500, ge=1)   # DingTalk's rule for one app and one person


class WeComAppConfig(_Section):
    """WeCom application messages (应用消息). The app's Secret comes from ``secret_env``."""
    corp_id: str = ""
    agent_id: int = Field(default=0, ge=0)
    secret_env: str = "DUBAN_WECOM_APP_SECRET"
    api: str = "https://qyapi.weixin.qq.com"
    per_member_per_minute: int = Field(default=30, ge=1)   # WeCom drops what goes over: paced instead
    daily_limit: int = Field(default=0, ge=0)


class SmsConfig(_Section):
    """SMS through a cloud provider's SDK, with an approved signature and template. The access
    key pair comes from the environment variables named here."""
    provider: Literal["none", "aliyun", "tencent"] = "none"
    sign_name: str = ""
    template_code: str = ""                 # Aliyun SMS_123456789 / Tencent template id
    sdk_app_id: str = ""                    # Tencent only: the SmsSdkAppId
    region: str = ""                        # default cn-hangzhou (Aliyun) / ap-guangzhou (Tencent)
    endpoint: str | None = None             # default the provider's public endpoint
    key_id_env: str = "DUBAN_SMS_KEY_ID"
    key_secret_env: str = "DUBAN_SMS_KEY_SECRET"
    kinds: list[NoticeKind] = ["escalate", "return"]  # digests holding one of these go by SMS; others never
    var_max_chars: int = Field(default=35, ge=1)
    daily_limit: int = Field(default=0, ge=0)


class FeedbackConfig(_Section):
    """Feedback days (进度反馈, obligations.feedback): items whose period is at least
    ``min_period_days`` long are asked for a progress report every month or quarter on ``day``."""
    enabled: bool = True
    every: Literal["month", "quarter"] = "month"
    day: int = Field(default=25, ge=1, le=28)
    min_period_days: int = Field(default=120, ge=1, le=3660)


class NotifyConfig(_Section):
    reminders: list[int] = [7, 1]
    on_due_day: bool = True
    overdue_every: int = Field(default=3, ge=1)
    escalate_after: list[int] = [5, 10]
    send_time: dt.time = dt.time(9, 0)
    quiet_hours: list[dt.time] = Field(default=[dt.time(20, 0), dt.time(8, 0)], min_length=2, max_length=2)
    link_days: int = Field(default=30, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    lease_seconds: int = Field(default=600, ge=1)
    base_url: str = "http://127.0.0.1:8000"
    sender: str = "督办系统 <duban@example.org>"
    channels: list[ChannelName] = Field(default=["email", "dingtalk", "wecom", "sms"], min_length=1)
    dingtalk: DingTalkAppConfig = DingTalkAppConfig()
    wecom: WeComAppConfig = WeComAppConfig()
    sms: SmsConfig = SmsConfig()
    feedback: FeedbackConfig = FeedbackConfig()


# -- service: when `duban up` (and `duban deploy`) run each flow -------------------------------

IntervalUnit = Literal["weeks", "days", "hours", "minutes", "seconds"]


def _crontab(line: str) -> str:
    if len(line.split()) != 5:
        raise ValueError(f"应为五段的 crontab（分 时 日 月 周，如 \"0 2 * * *\"），而不是 {line!r}")
    return line


def _interval(spec: dict) -> dict:
    if not any(spec.values()):
        raise ValueError("间隔不能为零（如 {seconds: 30} 或 {hours: 1}）")
    return spec


def _trigger_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "crontab-line"
    if isinstance(value, dict):
        return "interval-map"
    return None


# A crontab line, or an interval such as {seconds: 30}. The tags are not identifiers, so that
# located problems name the setting (service.sweep), not the branch of the union.
TriggerSpec = Annotated[
    Annotated[Annotated[str, AfterValidator(_crontab)], Tag("crontab-line")]
    | Annotated[Annotated[dict[IntervalUnit, Annotated[int, Field(ge=0)]], AfterValidator(_interval)],
                Tag("interval-map")],
    Discriminator(_trigger_kind, custom_error_type="trigger_type",
                  custom_error_message="应为 crontab 文本（如 \"0 2 * * *\"）或间隔（如 {seconds: 30}）"),
]


ScheduledFlow = Literal["materialize", "sweep", "deliver", "report"]


class ServiceConfig(_Section):
    materialize: TriggerSpec = "0 2 * * *"
    sweep: TriggerSpec = "30 8 * * *"
    deliver: TriggerSpec = "*/5 * * * *"
    report: TriggerSpec = "0 7 1 * *"

    def trigger(self, flow: ScheduledFlow) -> str | dict[str, int]:
        """The crontab line or interval of one scheduled flow."""
        return {"materialize": self.materialize, "sweep": self.sweep, "deliver": self.deliver,
                "report": self.report}[flow]


# -- report: scoring (考核评分, obligations/scoring.py) -----------------------------------------

class ScoringConfig(_Section):
    """考核评分: points per owed item, deductions per return and extension, weights per origin
    and per plan; score = earned ÷ possible × full (obligations/scoring.py states the rule)."""
    full: float = Field(default=100.0, gt=0, le=1000)              # 满分
    on_time: float = Field(default=1.0, gt=0, le=100)              # 按期办结每项得分 (= 每项应得分)
    late: float = Field(default=0.6, ge=-100, le=100)              # 逾期办结每项得分
    overdue: float = Field(default=0.0, ge=-100, le=100)           # 逾期未办每项得分 (negative: deducts)
    per_return: float = Field(default=0.2, ge=0, le=100)           # 每退回一次扣分
    per_extension: float = Field(default=0.1, ge=0, le=100)        # 每批准延期一次扣分
    origin_weights: dict[Literal["stated", "policy", "assigned"], Annotated[float, Field(gt=0, le=100)]] = \
        {"assigned": 1.5}
    plan_weights: dict[str, Annotated[float, Field(gt=0, le=100)]] = {}   # plan id → weight (default 1)

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        if self.late > self.on_time or self.overdue > self.on_time:
            raise ValueError("逾期办结（late）、逾期未办（overdue）的得分不能高于按期办结（on_time）")
        return self

    def rules(self):
        """The rules as obligations.scoring takes them."""
        from obligations.scoring import ScoringRules

        return ScoringRules(full=self.full, on_time=self.on_time, late=self.late, overdue=self.overdue,
                            per_return=self.per_return, per_extension=self.per_extension,
                            origin_weights=tuple(sorted(self.origin_weights.items())),
                            plan_weights=tuple(sorted(self.plan_weights.items())))


# -- report ---------------------------------------------------------------------------------

class ReportConfig(_Section):
    issuer: str = "流动儿童关爱保护工作督查室"
    number: str = ""                  # 文号 (e.g. 平民督〔2025〕3号), printed under the masthead when set
    series: str = Field(default="督查通报", min_length=1, max_length=32)   # the 期号 counts in it: 督查通报〔2025〕第12期
    cc: list[str] = []                # 抄送, in the 版记
    printer: str = ""                 # 印发机关 in the 版记 (default: the issuer)
    font: str = "WenQuanYi Zen Hei"
    docx_template: str | None = None
    period: Literal["month", "quarter", "half", "year"] = "month"
    formats: list[Literal["html", "pdf", "xlsx", "docx"]] = ["html", "pdf", "xlsx", "docx"]
    jurisdiction: str | None = None
    children: bool = True
    overdue_rows: int = Field(default=50, ge=0)
    requirements: list[str] = []
    scoring: ScoringConfig = ScoringConfig()        # 考核评分


# -- web ------------------------------------------------------------------------------------

class WebConfig(_Section):
    https_only: bool = False      # behind an HTTPS proxy: the session cookie only ever goes over HTTPS
    session_idle_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)   # a session unused this long ends
    session_hours: int = Field(default=12, ge=1, le=30 * 24)               # and every session ends after this
    sign_in_failures: int = Field(default=5, ge=1, le=1000)        # failed sign-ins that lock an account …
    sign_in_failures_per_address: int = Field(default=30, ge=1, le=100000)   # … or a client address …
    sign_in_lock_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)      # … within this many minutes, for as long

    # request bodies larger than these are refused (413) before anything reads them: forms and
    # JSON everywhere; the routes that take an evidence file (10 MB; Base64 in the API) get more
    max_body_bytes: int = Field(default=1024 * 1024, ge=4096)
    max_upload_bytes: int = Field(default=16 * 1024 * 1024, ge=4096)


# -- database_pool --------------------------------------------------------------------------

class DatabasePoolConfig(_Section):
    """Connections each duban process keeps to the database (web, scheduler, CLI: each its own)."""
    size: int = Field(default=10, ge=1)                  # kept open
    max_overflow: int = Field(default=20, ge=0)          # opened beyond size when needed
    timeout_seconds: int = Field(default=10, ge=1)       # wait at most this long for one (web: then 503)
    scan_connections: int = Field(default=4, ge=0)       # at most this many for reports' parallel scans


# -- cases ----------------------------------------------------------------------------------

def _regex(value: str) -> str:
    import re

    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"不是有效的正则表达式：{exc}") from None
    return value


class CasesConfig(_Section):
    # the pseudonymous code of a key child (重点关爱服务对象) in the ledger; a run of letters that
    # reads as a pinyin name is refused whatever the pattern allows
    code_pattern: Annotated[str, AfterValidator(_regex)] = r"^[A-Z]{1,4}-?[0-9]{1,10}$"


# -- the whole file -------------------------------------------------------------------------

class ConfigDoc(_Section):
    database: str = "sqlite:///var/duban.db"
    data_dir: str = "var"
    directory: str = "plans/directory.yaml"
    plans: list[str] = []
    policy: PolicyConfig = PolicyConfig()
    calendar: CalendarConfig = CalendarConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    notify: NotifyConfig = NotifyConfig()
    service: ServiceConfig = ServiceConfig()
    report: ReportConfig = ReportConfig()
    web: WebConfig = WebConfig()
    database_pool: DatabasePoolConfig = DatabasePoolConfig()
    cases: CasesConfig = CasesConfig()


def parse_config(text: str, filename: str) -> ConfigDoc:
    """Validate the text of a config.yaml; raise ConfigError naming every problem's line."""
    try:
        located = parse(text, filename)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem]) from None
    problems = [Problem(filename, line, format_path(path), "重复的配置项（后一处会覆盖前一处）")
                for path, line in located.duplicates]
    doc = None
    try:
        doc = ConfigDoc.model_validate(located.data if located.data is not None else {})
    except ValidationError as err:
        # from_validation_error gives one located problem per pydantic error, in order
        problems += [_reworded(p, item, located)
                     for p, item in zip(from_validation_error(err, located, filename), err.errors(), strict=True)]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
    assert doc is not None
    return doc


def _reworded(problem: Problem, item: dict, located: Located) -> Problem:
    """Problems particular to a settings file, said for a person: an unknown key (with the
    nearest known one), a key that is not text (a number or a date)."""
    if item["type"] == "extra_forbidden":
        return _unknown_key(problem, item["loc"])
    if item["type"] == "invalid_key":
        # YAML read the key as a number or date; the located lines know it by its text
        path = tuple(str(part) for part in item["loc"])
        return Problem(problem.file, located.line_of(path), format_path(path), "配置项名称应为文本")
    return problem


def _unknown_key(problem: Problem, loc: tuple) -> Problem:
    """'不认识的配置项', with the nearest known key of that section when there is one."""
    *parent, key = loc
    known = _section_keys(tuple(parent))
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        reason = f"不认识的配置项（是否应为 {close[0]}？）"
    else:
        reason = "不认识的配置项（可用：" + "、".join(known) + "）" if known else "不认识的配置项"
    return Problem(problem.file, problem.line, problem.field, reason)


def _section_keys(path: tuple) -> list[str]:
    """The keys the model allows at ``path`` (a tuple of section names)."""
    model: type[BaseModel] = ConfigDoc
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


__all__ = ["ConfigError", "ConfigDoc", "parse_config", "PolicyConfig", "ProgressReportConfig", "CalendarConfig",
           "ScheduleConfig", "NotifyConfig", "ServiceConfig", "ScheduledFlow", "TriggerSpec", "ReportConfig", "ScoringConfig", "WebConfig",
           "DatabasePoolConfig", "CasesConfig"]
