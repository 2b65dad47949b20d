"""The audit trail: one row per change a person made (who, what, when, before and after)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from storage.tables import AuditEntry, Jurisdiction

ACTIONS = {"complete": "登记办理", "waive": "豁免", "extend": "延期", "request": "申请豁免或延期",
           "approve": "批准申请", "reject": "驳回申请", "user.add": "新增账号", "user.update": "修改账号",
           "token.add": "新增接口令牌", "catalog.load": "加载计划目录", "link.use": "通过通知链接登记",
           "directory.import": "导入行政区划", "contacts.import": "导入通讯录",
           "task.assign": "交办任务", "urge": "催办",
           "user.sign_in": "登录", "user.sign_in_failed": "登录失败", "user.sign_out": "退出登录",
           "user.disable": "停用账号", "user.enable": "启用账号", "user.password": "修改密码",
           "user.ics": "更换日历订阅地址", "token.revoke": "吊销接口令牌", "report.issue": "印发通报",
           "accept": "审核通过", "return": "退回"}
ACTIONS["confirm"] = "协办确认"     # a co-department confirms its part (workflow.confirm_part)


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: Any,
           jurisdiction_id: int | None = None, before: dict | None = None, after: dict | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    entry = AuditEntry(at=at or dt.datetime.now(dt.timezone.utc), actor=actor, action=action,
                       object_type=object_type, object_id=str(object_id), jurisdiction_id=jurisdiction_id,
                       before=_plain(before), after=_plain(after))
    session.add(entry)
    return entry


def _plain(value: dict | None) -> dict | None:
    if value is None:
        return None
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in value.items()}


def entries(session: Session, *, area_path: str | None = None, object_type: str | None = None,
            object_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        q = q.where(AuditEntry.object_id == str(object_id))
    if area_path is not None:
        q = q.where(AuditEntry.jurisdiction_id.in_(select(Jurisdiction.id).where(Jurisdiction.path.like(area_path + "%")))
                    | AuditEntry.jurisdiction_id.is_(None))
    return list(session.scalars(q))
