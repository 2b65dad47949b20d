"""Accounts and API tokens. Passwords are hashed with Argon2 (argon2-cffi); tokens are stored
as SHA-256 hashes and shown once."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session

from obligations.errors import DubanError
from storage import audit
from storage.occurrences import OccurrenceError, resolve_department, resolve_jurisdiction
from storage.tables import ApiToken, Department, UserAccount

ROLES = ("coordinator", "supervisor", "department", "director")
_hasher = PasswordHasher()


class AccountError(DubanError, ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: UserAccount, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(session: Session, *, username: str, password: str, role: str, jurisdiction: str,
             display_name: str | None = None, department: str | None = None, director: str | None = None,
             actor: str = "cli") -> UserAccount:
    if role not in ROLES:
        raise AccountError(f"未知的角色 {role}（可用：{'、'.join(ROLES)}）")
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AccountError(f"用户名 {username!r} 只能包含字母、数字、-、_、.")
    if len(password) < 8:
        raise AccountError("密码至少 8 位")
    if session.scalar(select(UserAccount).where(UserAccount.username == username)):
        raise AccountError(f"用户名 {username} 已存在")
    try:
        unit = resolve_jurisdiction(session, jurisdiction)
    except OccurrenceError as exc:
        raise AccountError(str(exc)) from None
    if role == "department":
        if not department:
            raise AccountError("责任部门账号须用 --department 指定部门（名称或键，duban departments list 可查看）")
        try:
            department = resolve_department(session, department).key
        except OccurrenceError as exc:
            raise AccountError(str(exc)) from None
    elif department:
        raise AccountError("只有责任部门账号（role department）有 --department")
    if role == "director" and not director:
        raise AccountError("儿童主任账号须用 --director 指定其在台账中的名字或工号")
    user = UserAccount(username=username, display_name=display_name or username, password_hash=hash_password(password),
                       role=role, jurisdiction_id=unit.id, department_key=department, director=director,
                       created_at=dt.datetime.now(dt.timezone.utc))
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.add", object_type="user", object_id=user.id,
                 jurisdiction_id=unit.id, after={"username": username, "role": role, "jurisdiction": unit.name,
                                                 "department": department, "director": director})
    return user


def add_token(session: Session, user: UserAccount, *, label: str | None = None, actor: str = "cli") -> str:
    token = "dbn_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), label=label,
                         created_at=dt.datetime.now(dt.timezone.utc)))
    audit.record(session, actor=actor, action="token.add", object_type="user", object_id=user.id,
                 jurisdiction_id=user.jurisdiction_id, after={"label": label})
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(session: Session, token: str) -> UserAccount | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = session.get(UserAccount, row.user_id)
    return user if user and user.active else None


def find_user(session: Session, username: str) -> UserAccount | None:
    return session.scalar(select(UserAccount).where(UserAccount.username == username))


def list_users(session: Session) -> list[dict]:
    """Every account by username, with the name of its jurisdiction."""
    from storage.tables import Jurisdiction

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
    from sqlalchemy import func

    from storage.tables import Jurisdiction, Occurrence

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
