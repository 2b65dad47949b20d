"""Writing the directory (departments, roles, jurisdictions, contacts) into the database.

Idempotent: a second sync of the same directory changes nothing and reports zero changes.
Units and departments that leave the directory are kept (history refers to them)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlmodel import Session

from obligations.directory import Directory
from storage.tables import Contact, Department, Jurisdiction


@dataclass
class DirectoryChanges:
    departments_added: int = 0
    departments_changed: int = 0
    units_added: int = 0
    units_changed: int = 0
    contacts_added: int = 0
    contacts_changed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not any((self.departments_added, self.departments_changed, self.units_added,
                        self.units_changed, self.contacts_added, self.contacts_changed))


def sync_directory(session: Session, directory: Directory) -> DirectoryChanges:
    changes = DirectoryChanges()
    existing = {d.key: d for d in session.scalars(select(Department))}
    wanted = [
        (d.key, "department", d.name, d.model_dump(mode="json")) for d in directory.doc.departments
    ] + [(r.key, "role", r.name, r.model_dump(mode="json")) for r in directory.doc.roles]
    for key, kind, name, doc in wanted:
        row = existing.get(key)
        if row is None:
            session.add(Department(key=key, kind=kind, name=name, doc=doc))
            changes.departments_added += 1
        elif (row.kind, row.name, row.doc) != (kind, name, doc):
            row.kind, row.name, row.doc = kind, name, doc
            changes.departments_changed += 1
    session.flush()

    units = directory.units()
    by_code = {j.code: j for j in session.scalars(select(Jurisdiction))}
    new_rows = []
    for u in units:
        values = dict(name=u.name, level=u.level, path=u.path, supervisor_name=u.supervisor_name,
                      supervisor_email=u.supervisor_email, supervisor_webhook=u.supervisor_webhook,
                      supervisor_mobile=u.supervisor_mobile, supervisor_im_account=u.supervisor_im_account,
                      supervisor_channels=u.supervisor_channels)
        row = by_code.get(u.code)
        if row is not None and row.supervisor_source == "sheet":   # the contacts workbook keeps it
            values = {k: v for k, v in values.items() if not k.startswith("supervisor_")}
        if row is None:
            new_rows.append(dict(code=u.code, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            session.execute(update(Jurisdiction).where(Jurisdiction.id == row.id).values(**values))
            changes.units_changed += 1
    if new_rows:
        session.execute(insert(Jurisdiction), new_rows)
        changes.units_added = len(new_rows)
    ids = {code: jid for code, jid in session.execute(select(Jurisdiction.code, Jurisdiction.id))}
    parents = {(ids[u.code], ids[u.parent_code] if u.parent_code else None) for u in units}
    current = {(jid, pid) for jid, pid in session.execute(select(Jurisdiction.id, Jurisdiction.parent_id))}
    for jid, pid in parents - current:
        session.execute(update(Jurisdiction).where(Jurisdiction.id == jid).values(parent_id=pid))

    have = {(c.jurisdiction_id, c.department_key): c for c in session.scalars(select(Contact))}
    new_contacts = []
    for u in units:
        jid = ids[u.code]
        for c in u.contacts:
            row = have.get((jid, c.department_key))
            if row is not None and row.source == "sheet":         # the contacts workbook keeps it
                continue
            wanted = dict(name=c.name, email=c.email, webhook=c.webhook, mobile=c.mobile, im_account=c.im_account,
                          channels=c.channels)
            if row is None:
                new_contacts.append(dict(jurisdiction_id=jid, department_key=c.department_key, **wanted))
            elif any(getattr(row, k) != v for k, v in wanted.items()):
                for k, v in wanted.items():
                    setattr(row, k, v)
                changes.contacts_changed += 1
    if new_contacts:
        session.execute(insert(Contact), new_contacts)
        changes.contacts_added = len(new_contacts)
    session.flush()
    return changes


def list_jurisdictions(session: Session, level: str | None = None) -> list[dict]:
    """Jurisdictions in tree order (by path), each with its supervisor and the number of its
    department contacts; only those of ``level`` when given."""
    from sqlalchemy import func

    counts = dict(session.execute(select(Contact.jurisdiction_id, func.count())
                                  .group_by(Contact.jurisdiction_id)).all())
    q = select(Jurisdiction).order_by(Jurisdiction.path)
    if level:
        q = q.where(Jurisdiction.level == level)
    return [{"code": j.code, "name": j.name, "level": j.level, "path": j.path, "supervisor": j.supervisor_name,
             "supervisor_email": j.supervisor_email, "contacts": counts.get(j.id, 0)} for j in session.scalars(q)]
