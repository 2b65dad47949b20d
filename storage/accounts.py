"""Accounts, sign-in, web sessions and API tokens: each action one function here, with its rule
and its audit row; the CLI, the pages and the API call them.

- Passwords are hashed with Argon2 (argon2-cffi) and must pass ``password_problem``.
- Sign-in (``sign_in``) is throttled per account and per client address by the failures recorded
  in the database (so the limit holds across processes); an unknown name, a wrong password and a
  locked or disabled account get the same answer after the same Argon2 verification.
- A web session is a random key in the cookie and its SHA-256 in ``web_session``; it ends at
  sign-out, when the account is disabled or its password changed, after an idle time and at an
  absolute time.
- API tokens are stored as SHA-256 hashes, shown once, expire, and can be listed and revoked.
- Each account's ICS feed URL carries its own salt; a new salt retires the old URL alone.
- Every change takes ``by``: None from the command line (the operator may do anything), or the
  signed-in coordinator's Principal from the pages; then ``_may_manage`` holds: coordinators
  only, accounts of their unit and below only (another area's account is "not found"), never a
  role above their own, never another coordinator of their own unit."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from obligations.errors import DubanError
from obligations.mailbox import check_name
from storage import audit
from storage.occurrences import OccurrenceError, resolve_department, resolve_jurisdiction
from storage.tables import ApiToken, Department, Jurisdiction, SignInFailure, UserAccount, WebSession

ROLES = ("coordinator", "supervisor", "department", "director")
_hasher = PasswordHasher()
TOKEN_DAYS = 90                 # an API token's life unless --days says otherwise
MAX_TOKEN_DAYS = 730
PASSWORD_MIN, PASSWORD_MAX = 10, 256
SIGN_IN_REFUSED = "用户名或密码不正确；连续输错多次的账号会暂时锁定，请稍后再试"
_TOUCH = dt.timedelta(minutes=1)    # last-seen / last-used times are written at most this often

# passwords people pick first (lower case); anything equal to one of these is refused
COMMON_PASSWORDS = frozenset("""
password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword 1q2w3e4r5t
qwertyuiop qwerty123 qwerty1234 1qaz2wsx3edc 1qaz2wsx 1qazxsw23edc zaq12wsx asdfghjkl asdf1234
abc123456 abcd123456 abc1234567 a123456789 aa123456789 qq123456789 woaini1314 woaini520
iloveyou123 admin123456 admin12345 administrator root123456 welcome123 letmein123 changeme123
123456789a 12345678910 1234567890 0123456789 9876543210 11111111111 88888888888 66666666666
abcdefghij zxcvbnm123 zxcvbnmasd 123qweasdzxc qweasdzxc123 qwe123456 qwer123456 aaa111222
duban123456 duban12345 dubanduban
""".split())


class AccountError(DubanError, ValueError):
    """A refusal; ``web`` is its wording for a page when the command line's names an option or
    a command (the pages never tell a person to run one)."""

    def __init__(self, text: str, web: str | None = None):
        super().__init__(text)
        self.web = web or text


class AccountForbidden(AccountError):
    http_status = 403


class AccountNotFound(AccountError):
    http_status = 404


# who may grant what: a coordinator never makes or changes an account above their own role
RANK = {"coordinator": 3, "supervisor": 2, "department": 1, "director": 1}
ROLE_NAMES = {"coordinator": "协调员", "supervisor": "督查", "department": "责任部门", "director": "儿童主任"}


def _may_manage(session: Session, by, unit, role: str, target: UserAccount | None = None) -> None:
    """``by`` (a Principal, or None for the command line) may make or change an account of
    ``role`` at ``unit`` (``target``: the account changed). AccountForbidden (403) or, for an
    existing account outside ``by``'s area, AccountNotFound (404: its existence is not told)."""
    if by is None:
        return
    if by.role != "coordinator":
        raise AccountForbidden("只有协调员可以管理账号")
    if not unit.path.startswith(by.jurisdiction_path):
        if target is not None:
            raise AccountNotFound(f"没有编号为 {target.id} 的账号")
        raise AccountForbidden(f"{unit.name} 不在您的管辖范围（{by.jurisdiction_name}）内")
    if RANK.get(role, 99) > RANK[by.role]:
        raise AccountForbidden(f"不能设置高于自己角色的账号（{ROLE_NAMES.get(role, role)}）")
    if (target is not None and target.id != by.user_id and RANK.get(target.role, 99) >= RANK[by.role]
            and unit.id == by.jurisdiction_id):
        raise AccountForbidden("本级其他协调员的账号由上级协调员管理")


def utcnow() -> dt.datetime:
    """The clock every rule here reads (tests replace it)."""
    return dt.datetime.now(dt.timezone.utc)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password[:PASSWORD_MAX * 4])
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, verified for an unknown name so that it costs what a
    known one does."""
    return _hasher.hash(secrets.token_urlsafe(24))


def check_password(user: UserAccount, password: str) -> bool:
    return _verify(user.password_hash, password)


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` may not be an account's password (in Chinese), or None. The one rule,
    for new accounts and changed passwords alike: 10 to 256 characters, not the user name nor
    containing it, not of one kind of character only (only digits, only lower-case letters …),
    not a short piece repeated (ab12ab12ab12), not one of the passwords people pick first."""
    if len(password) < PASSWORD_MIN:
        return f"密码至少 {PASSWORD_MIN} 位"
    if len(password) > PASSWORD_MAX:
        return f"密码至多 {PASSWORD_MAX} 位"
    low = password.lower()
    if username and (low == username.lower() or (len(username) >= 3 and username.lower() in low)):
        return "密码不能是用户名，也不能包含用户名"

    def kind(ch: str) -> str:
        return ("digit" if ch.isdigit() else "lower" if ch.islower() else "upper" if ch.isupper()
                else "letter" if ch.isalpha() else "other")

    if len({kind(ch) for ch in password}) < 2:
        return "密码不能只由一类字符组成（如全是数字或全是小写字母），请混合字母、数字或符号"
    if low in COMMON_PASSWORDS or len(set(low)) <= 2 or re.fullmatch(r"(.{1,4})\1+", low):
        return "密码过于常见，容易被猜中，请换一个"
    return None


def _check_new_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem:
        raise AccountError(problem)


def add_user(session: Session, *, username: str, password: str, role: str, jurisdiction: str,
             display_name: str | None = None, department: str | None = None, director: str | None = None,
             actor: str = "cli", by=None) -> UserAccount:
    """A new account (``by``: see the module's docstring). Department given by its name or key."""
    if by is not None:
        actor = by.username
    username, display_name = (username or "").strip(), (display_name or "").strip() or None
    department, director = (department or "").strip() or None, (director or "").strip() or None
    if role not in ROLES:
        raise AccountError(f"未知的角色 {role}（可用：{'、'.join(ROLES)}）", web="请选择角色")
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AccountError(f"用户名 {username!r} 只能包含字母、数字、-、_、.")
    if len(username) > 64:
        raise AccountError("用户名至多 64 个字符")
    if display_name is not None:
        try:
            check_name(display_name, "显示名称")
        except ValueError as exc:
            raise AccountError(str(exc)) from None
    if not jurisdiction or not jurisdiction.strip():
        raise AccountError("请给出账号所属地区", web="请填写所属地区（名称或区划代码）")
    try:
        unit = resolve_jurisdiction(session, jurisdiction.strip())
    except OccurrenceError as exc:
        raise AccountError(str(exc), web=f"所属地区：没有名为 {jurisdiction.strip()} 的地区，或名称不唯一（请改填区划代码）") from None
    _may_manage(session, by, unit, role)
    _check_new_password(password, username)
    if session.scalar(select(UserAccount).where(UserAccount.username == username)):
        raise AccountError(f"用户名 {username} 已存在")
    if role == "department":
        if not department:
            raise AccountError("责任部门账号须用 --department 指定部门（名称或键，duban departments list 可查看）",
                               web="责任部门账号须填写部门（名称或键，如 卫健委）")
        try:
            department = resolve_department(session, department).key
        except OccurrenceError as exc:
            raise AccountError(str(exc), web=f"部门：没有名为 {department} 的部门，或名称不唯一（请换用全称）") from None
    elif department:
        raise AccountError("只有责任部门账号（role department）有 --department", web="只有责任部门账号需要填写部门")
    if role == "director" and not director:
        raise AccountError("儿童主任账号须用 --director 指定其在台账中的名字或工号",
                           web="儿童主任账号须填写其在台账中的名字或工号")
    if role != "director" and director:
        raise AccountError("只有儿童主任账号（role director）有 --director", web="只有儿童主任账号需要填写台账中的名字")
    user = UserAccount(username=username, display_name=display_name or username, password_hash=hash_password(password),
                       role=role, jurisdiction_id=unit.id, department_key=department, director=director,
                       created_at=utcnow(), ics_salt=secrets.token_hex(16))
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.add", object_type="user", object_id=user.id,
                 jurisdiction_id=unit.id, after={"username": username, "role": role, "jurisdiction": unit.name,
                                                 "department": department, "director": director})
    return user


def find_user(session: Session, username: str) -> UserAccount | None:
    return session.scalar(select(UserAccount).where(UserAccount.username == username))


def list_users(session: Session) -> list[dict]:
    """Every account by username, with the name of its jurisdiction."""
    rows = session.execute(select(UserAccount, Jurisdiction.name)
                           .join(Jurisdiction, Jurisdiction.id == UserAccount.jurisdiction_id)
                           .order_by(UserAccount.username))
    return [{"username": u.username, "name": u.display_name, "role": u.role, "jurisdiction": j,
             "department": u.department_key, "director": u.director, "active": u.active} for u, j in rows]


def add_sample_accounts(session: Session, password: str, *, province: str = "福建省", department: str = "education",
                        actor: str = "demo") -> list[tuple[str, str]]:
    """The demo's accounts, only into a database that has none: a coordinator and a supervisor
    of ``province``, and a ``department`` account at the unit with the most of its items.
    Returns (username, what it is) pairs; [] when accounts exist already."""
    from storage.tables import Occurrence

    if session.scalar(select(func.count()).select_from(UserAccount)):
        return []
    top = session.scalar(select(Jurisdiction).where(Jurisdiction.name == province))
    unit_id = session.execute(
        select(Occurrence.jurisdiction_id).where(Occurrence.party_key == department)
        .group_by(Occurrence.jurisdiction_id)
        .order_by(func.count().desc(), Occurrence.jurisdiction_id)).scalars().first()
    unit = session.get(Jurisdiction, unit_id)
    dept_name = session.get(Department, department).name
    accounts = []
    for name, role, where, extra, what in (
            ("minzheng", "coordinator", top.name, {}, f"{top.name}民政厅协调员"),
            ("ducha", "supervisor", top.name, {}, f"{top.name}督查室"),
            ("jiaoyu", "department", unit.code, {"department": department}, f"{unit.name}{dept_name}")):
        add_user(session, username=name, password=password, role=role, jurisdiction=where,
                 display_name=what, actor=actor, **extra)
        accounts.append((name, what))
    return accounts


# ---------------------------------------------------------------- account changes

def _account(session: Session, username: str) -> UserAccount:
    user = find_user(session, username)
    if user is None:
        raise AccountNotFound(f"没有用户名为 {username} 的账号")
    return user


def _managed(session: Session, username: str, by, actor: str) -> tuple[UserAccount, str]:
    """The account ``by`` changes (under ``_may_manage``) and the actor its audit row names."""
    user = _account(session, username)
    if by is not None:
        _may_manage(session, by, session.get(Jurisdiction, user.jurisdiction_id), user.role, user)
        actor = by.username
    return user, actor


def account_of(session: Session, user_id: int, by) -> UserAccount:
    """The account numbered ``user_id`` as ``by`` may see it: AccountNotFound (404) when there is
    none or it is outside ``by``'s area, AccountForbidden (403) when ``by`` manages no accounts."""
    if by.role != "coordinator":
        raise AccountForbidden("只有协调员可以管理账号")
    user = session.get(UserAccount, user_id)
    unit = session.get(Jurisdiction, user.jurisdiction_id) if user is not None else None
    if user is None or not unit.path.startswith(by.jurisdiction_path):
        raise AccountNotFound(f"没有编号为 {user_id} 的账号")
    return user


def disable_user(session: Session, username: str, *, actor: str = "cli", by=None) -> bool:
    """Stop an account: it can no longer sign in, its sessions end and its API tokens are
    revoked (enabling it again does not bring them back). False when it was disabled already."""
    user, actor = _managed(session, username, by, actor)
    if by is not None and user.id == by.user_id:
        raise AccountForbidden("不能停用自己的账号")
    if not user.active:
        return False
    now = utcnow()
    user.active = False
    ended = end_sessions(session, user.id, reason="disabled", now=now)
    revoked = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                              .values(revoked_at=now)).rowcount
    audit.record(session, actor=actor, action="user.disable", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, before={"active": True},
                 after={"active": False, "sessions_ended": ended, "tokens_revoked": revoked}, at=now)
    return True


def enable_user(session: Session, username: str, *, actor: str = "cli", by=None) -> bool:
    """Let a disabled account sign in again; also lifts a sign-in lock on it (its recorded
    failures are forgotten). False when it was enabled and not locked."""
    user, actor = _managed(session, username, by, actor)
    cleared = session.execute(delete(SignInFailure).where(SignInFailure.username == user.username)).rowcount
    if user.active and not cleared:
        return False
    before = user.active
    user.active = True
    audit.record(session, actor=actor, action="user.enable", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, before={"active": before},
                 after={"active": True, "failures_cleared": cleared})
    return True


def set_password(session: Session, username: str, password: str, *, actor: str = "cli", by=None) -> UserAccount:
    """A new password (under ``password_problem``'s rule); the account's sessions end."""
    user, actor = _managed(session, username, by, actor)
    _check_new_password(password, user.username)
    now = utcnow()
    user.password_hash = hash_password(password)
    ended = end_sessions(session, user.id, reason="password", now=now)
    audit.record(session, actor=actor, action="user.password", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"sessions_ended": ended}, at=now)
    return user


ACCOUNT_SORTS = {"unit": "地区", "username": "用户名", "role": "角色", "created": "创建时间"}


def list_accounts(session: Session, by, *, q: str = "", sort: str = "unit", desc: bool = False, offset: int = 0,
                  limit: int | None = 50) -> tuple[list[dict], int]:
    """The accounts of ``by``'s area (their unit and below) whose user name, display name, unit
    or department (name or key) holds every word of ``q``, in the order of ``sort`` (a key of
    ``ACCOUNT_SORTS``): one page of them (``limit`` None: all) and how many match in all."""
    if by.role != "coordinator":
        raise AccountForbidden("只有协调员可以管理账号")
    where = [Jurisdiction.path.like(by.jurisdiction_path + "%")]
    for word in (q or "").split()[:8]:
        like = "%" + word[:64].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(*(func.coalesce(c, "").like(like, escape="\\") for c in (
            UserAccount.username, UserAccount.display_name, Jurisdiction.name, Department.name,
            UserAccount.department_key, UserAccount.director))))

    def query(*columns):
        return (select(*columns).select_from(UserAccount)
                .join(Jurisdiction, Jurisdiction.id == UserAccount.jurisdiction_id)
                .outerjoin(Department, Department.key == UserAccount.department_key).where(*where))

    total = session.scalar(query(func.count()))
    key = {"unit": (Jurisdiction.path,), "username": (), "role": (UserAccount.role,),
           "created": (UserAccount.created_at,)}.get(sort, (Jurisdiction.path,))
    terms = [c.desc() if desc else c.asc() for c in (*key, UserAccount.username)]
    page = query(UserAccount, Jurisdiction.name, Department.name).order_by(*terms).offset(max(offset, 0))
    rows = session.execute(page.limit(limit) if limit is not None else page).all()
    return [{"id": u.id, "username": u.username, "name": u.display_name, "role": u.role,
             "role_name": ROLE_NAMES.get(u.role, u.role), "jurisdiction": j, "department": d,
             "director": u.director, "active": u.active, "created": u.created_at} for u, j, d in rows], total


# ---------------------------------------------------------------- sign-in and its throttle

@dataclass(frozen=True)
class Throttle:
    """How many failed sign-ins lock an account or a client address, within what time; the lock
    lasts while that many failures lie within that time (config.yaml ``web:``)."""
    failures: int = 5
    failures_per_address: int = 30
    minutes: int = 15

    @classmethod
    def of(cls, web) -> Throttle:
        return cls(web.sign_in_failures, web.sign_in_failures_per_address, web.sign_in_lock_minutes)


@dataclass(frozen=True)
class SignedIn:
    user: UserAccount
    key: str            # the session key for the cookie (only its hash is stored)


def _typed_name(username: str) -> str:
    return username.strip().replace("\x00", "")[:64]


def is_locked(session: Session, username: str, client: str, throttle: Throttle, now: dt.datetime) -> bool:
    since = now - dt.timedelta(minutes=throttle.minutes)
    recent = select(func.count()).select_from(SignInFailure).where(SignInFailure.at > since)
    return (session.scalar(recent.where(SignInFailure.username == username)) >= throttle.failures
            or session.scalar(recent.where(SignInFailure.client == client)) >= throttle.failures_per_address)


def sign_in(session: Session, username: str, password: str, *, client: str, throttle: Throttle = Throttle(),
            now: dt.datetime | None = None) -> SignedIn | None:
    """Check a sign-in and start a web session; None when refused. Refused alike, after one
    Argon2 verification each (a dummy hash for an unknown name): an unknown name, a wrong
    password, a disabled account, and any attempt while the account or the client address is
    locked (the right password included). Every refusal is a row the throttle counts and an
    audit row; so is every sign-in."""
    now = now or utcnow()
    name, client = _typed_name(username), (client or "unknown")[:64]
    user = find_user(session, name) if name else None
    locked = is_locked(session, name, client, throttle, now)
    right = _verify(user.password_hash if user is not None else _dummy_hash(), password)
    if right and user is not None and user.active and not locked:
        # the account's sessions past any absolute time (at most 30 days) are forgotten
        session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                                 WebSession.created_at < now - dt.timedelta(days=31)))
        key = secrets.token_urlsafe(32)
        row = WebSession(key_hash=_sha256(key), user_id=user.id, client=client, created_at=now, last_seen_at=now)
        session.add(row)
        session.flush()
        audit.record(session, actor=user.username, action="user.sign_in", object_type="user", object_id=user.id,
                     jurisdiction_id=user.jurisdiction_id, after={"client": client, "session": row.id}, at=now)
        return SignedIn(user, key)
    reason = ("locked" if locked else "unknown" if user is None else "disabled" if not user.active
              else "password")
    session.execute(delete(SignInFailure).where(SignInFailure.at <= now - dt.timedelta(minutes=throttle.minutes)))
    session.add(SignInFailure(at=now, username=name, client=client))
    # a name no account has is not written into the audit trail (every coordinator reads rows
    # without a unit, and people type their password into the name field)
    audit.record(session, actor=name if user is not None else "web", action="user.sign_in_failed",
                 object_type="user", object_id=user.id if user is not None else "?",
                 jurisdiction_id=user.jurisdiction_id if user is not None else None,
                 after={"username": name if user is not None else None, "client": client, "reason": reason}, at=now)
    return None


# ---------------------------------------------------------------- web sessions

def session_user(session: Session, key: str, *, idle_minutes: int, hours: int,
                 now: dt.datetime | None = None) -> UserAccount | None:
    """The account of a live session, or None; a session past its idle or absolute time, or of
    a disabled account, is ended here."""
    now = now or utcnow()
    row = session.scalar(select(WebSession).where(WebSession.key_hash == _sha256(key), WebSession.ended_at.is_(None)))
    if row is None:
        return None
    user = session.get(UserAccount, row.user_id)
    reason = ("disabled" if user is None or not user.active
              else "expired" if now - row.created_at >= dt.timedelta(hours=hours)
              else "idle" if now - row.last_seen_at >= dt.timedelta(minutes=idle_minutes) else None)
    if reason:
        row.ended_at, row.end_reason = now, reason
        return None
    if now - row.last_seen_at >= _TOUCH:
        row.last_seen_at = now
    return user


def sign_out(session: Session, key: str, *, now: dt.datetime | None = None) -> None:
    """End the session of ``key`` (a copy of the cookie no longer signs anyone in)."""
    now = now or utcnow()
    row = session.scalar(select(WebSession).where(WebSession.key_hash == _sha256(key), WebSession.ended_at.is_(None)))
    if row is None:
        return
    row.ended_at, row.end_reason = now, "logout"
    user = session.get(UserAccount, row.user_id)
    audit.record(session, actor=user.username, action="user.sign_out", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"session": row.id}, at=now)


def end_sessions(session: Session, user_id: int, *, reason: str, now: dt.datetime | None = None) -> int:
    """End every live session of an account; how many."""
    return session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                           .values(ended_at=now or utcnow(), end_reason=reason)).rowcount


# ---------------------------------------------------------------- API tokens

def add_token(session: Session, user: UserAccount, *, label: str | None = None, days: int = TOKEN_DAYS,
              actor: str = "cli", by=None) -> str:
    """A new API token for ``user``, valid ``days`` days; the token itself (shown once)."""
    if by is not None:
        user, actor = _managed(session, user.username, by, actor)
    label = (label or "").strip()[:100] or None
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"令牌有效天数应在 1 到 {MAX_TOKEN_DAYS} 之间，而不是 {days}")
    if not user.active:
        raise AccountError(f"账号 {user.username} 已停用，不能生成令牌")
    now = utcnow()
    token = "dbn_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=token_hash(token), label=label, created_at=now,
                   expires_at=now + dt.timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="token.add", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"token": row.id, "label": label,
                                                              "expires": row.expires_at}, at=now)
    return token


def token_hash(token: str) -> str:
    return _sha256(token)


def user_for_token(session: Session, token: str, *, now: dt.datetime | None = None) -> UserAccount | None:
    """The account a token acts as; None for an unknown, revoked or expired token or a disabled
    account. Records the token's use."""
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)))
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(UserAccount, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH:
        row.last_used_at = now
    return user


def token_state(row: ApiToken, now: dt.datetime) -> str:
    if row.revoked_at is not None:
        return "已吊销"
    if row.expires_at is not None and row.expires_at <= now:
        return "已过期"
    return "有效"


def list_tokens(session: Session, username: str) -> list[dict]:
    """An account's tokens, newest first: number, label, when made, last used, expires, state —
    never the token."""
    user = _account(session, username)
    now = utcnow()
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    return [{"id": r.id, "label": r.label, "created": r.created_at, "last_used": r.last_used_at,
             "expires": r.expires_at, "revoked": r.revoked_at, "state": token_state(r, now)} for r in rows]


def revoke_token(session: Session, username: str, token_id: int | None = None, *, actor: str = "cli",
                 by=None) -> int:
    """Revoke one of an account's tokens (by its number in ``list_tokens``), or with None every
    live one; how many were revoked."""
    user, actor = _managed(session, username, by, actor)
    now = utcnow()
    q = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        row = session.get(ApiToken, token_id)
        if row is None or row.user_id != user.id:
            raise AccountNotFound(f"账号 {username} 没有编号为 {token_id} 的令牌（duban users tokens {username} 可查看）",
                                  web=f"账号 {username} 没有编号为 {token_id} 的令牌")
        if row.revoked_at is not None:
            raise AccountError(f"令牌 {token_id} 已于 {row.revoked_at:%Y-%m-%d %H:%M} 吊销")
        q = q.where(ApiToken.id == token_id)
    count = session.execute(q.values(revoked_at=now)).rowcount
    audit.record(session, actor=actor, action="token.revoke", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"token": token_id or "all", "revoked": count}, at=now)
    return count


# ---------------------------------------------------------------- ICS feed URL

def ics_signature(secret: bytes, user: UserAccount) -> str:
    """The secret part of an account's ICS feed URL: from the installation's secret and the
    account's own salt."""
    import hmac

    return hmac.new(secret, f"ics|{user.id}|{user.ics_salt or ''}".encode(), hashlib.sha256).hexdigest()[:32]


def rotate_ics(session: Session, username: str, *, actor: str = "cli", by=None) -> UserAccount:
    """A new ICS feed URL for one account; its old URL stops working (other accounts' stay)."""
    user, actor = _managed(session, username, by, actor)
    user.ics_salt = secrets.token_hex(16)
    audit.record(session, actor=actor, action="user.ics", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"ics": "rotated"})
    return user
