"""A locality's units from China's division list into the coordinator's directory: the file
(``directory.yaml``, the directory's one source) and, in the same step, the database."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from obligations.directory import DirectoryDoc, NewUnit, add_units, dump_directory, parse_directory
from obligations.errors import Refused
from storage import audit, divisions
from storage.atomic import write_atomic
from storage.directory_repo import DirectoryChanges, sync_directory

HEADER = """部门目录：部门（各级名称、别名）、角色、行政区划树。
行政区划由 duban jurisdictions import 从{source}加入；可手工补充村（社区）、单位邮箱域名和督查联系人。
联系人请用通讯录表格维护：duban contacts export / import。"""


@dataclass
class UnitsAdded:
    root: divisions.Division
    units: int            # in the subtree asked for, ancestors included
    added: int            # new to the directory
    depth: str
    conflicts: list[tuple[str, str, str]]   # (code, the directory's name, the division list's name)
    changes: DirectoryChanges | None = None
    no_villages: int = 0  # with depth village: townships the village data has no villages for


def division_units(query: str, depth: str) -> tuple[divisions.Division, list[NewUnit]]:
    """The unit named by ``query`` with its ancestors (so that it sits in its province) and
    every unit below it to ``depth``, parents first."""
    root = divisions.find(query)
    if depth not in divisions.DEPTHS:
        raise divisions.DivisionError(f"未知的层级 {depth}（可用：county、township、village）")
    if divisions.DEPTHS.index(depth) < divisions.DEPTHS.index(root.level):
        raise divisions.DivisionError(f"{root.name} 是{_level_words(root.level)}，--depth 不能高于它")
    chain = divisions.ancestors(root) + divisions.subtree(root, depth)
    return root, [NewUnit(d.code, d.name, d.level, d.parent_code) for d in chain]


def _without_villages(units: list[NewUnit], depth: str) -> int:
    if depth != "village":
        return 0
    with_villages = {u.parent_code for u in units if u.level == "village"}
    return sum(1 for u in units if u.level == "township" and u.code not in with_villages)


def _level_words(level: str) -> str:
    from obligations.words import level_name

    return level_name(level)


def header_of(text: str) -> str:
    """The comment block a directory file opens with (kept when duban rewrites the file)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines)


def import_units(engine: Engine | None, directory_path: Path, doc: DirectoryDoc, query: str, depth: str,
                 *, header: str | None = None, actor: str = "cli") -> UnitsAdded:
    """Add the unit ``query`` and those below it to ``depth`` to the directory file and, when an
    engine is given, to its database (one transaction; the file is written only if the database
    took it). Idempotent: a second import adds nothing and leaves the file as it was."""
    root, units = division_units(query, depth)
    new_doc, added, conflicts = add_units(doc, units)
    result = UnitsAdded(root, len(units), added, depth, conflicts, no_villages=_without_villages(units, depth))
    if not added:
        return result
    text = dump_directory(new_doc, header if header is not None else HEADER.format(source=divisions.source()))
    if engine is None:
        parse_directory(text, str(directory_path))
        write_atomic(directory_path, text)
        return result
    directory = parse_directory(text, str(directory_path))     # what is written must read back
    with Session(engine) as session, session.begin():
        result.changes = sync_directory(session, directory)
        audit.record(session, actor=actor, action="directory.import", object_type="jurisdiction",
                     object_id=root.code, after={"unit": root.name, "depth": depth, "added": added,
                                                 "source": divisions.source()})
        write_atomic(directory_path, text)
    return result


STANDARD_DEPARTMENTS = Path(__file__).with_name("data") / "departments.yaml"
CONFIG_HEADER = """duban 的配置（{locality}）。各节的说明见 duban 的 docs/ 和仓库中带注释的 config.yaml；
不认识的配置项会连同行号报错。plans：duban plans extract 方案.txt --add 会把新计划加在这里。"""
CONTACTS_FILE = "通讯录.xlsx"


class FolderExists(Refused):
    pass


@dataclass
class Initialized:
    folder: Path
    root: divisions.Division
    units: int
    config: Path
    directory: Path
    contacts: Path
    contact_rows: int


def standard_directory() -> DirectoryDoc:
    """The standard department catalogue with no units yet."""
    return parse_directory(STANDARD_DEPARTMENTS.read_text(encoding="utf-8"), str(STANDARD_DEPARTMENTS)).doc


def init_folder(folder: Path, locality: str, depth: str = "township") -> Initialized:
    """A new working folder for a locality: config.yaml on the embedded defaults, a directory
    with the standard departments and the locality's units (from China's division list, down
    to ``depth``), its database with that directory loaded, and the contacts workbook to fill
    in. Refuses a folder that already has a config.yaml; writes nothing when the locality is
    unknown or ambiguous."""
    import yaml

    from obligations.config import ConfigDoc
    from storage.contacts import export_workbook
    from storage.db import make_engine, migrate

    root, _ = division_units(locality, depth)          # an unknown name stops here, before any write
    folder = folder.resolve()
    config = folder / "config.yaml"
    if config.exists():
        raise FolderExists(f"{config} 已存在：duban init 只在新文件夹中使用，未改动任何文件")
    doc = ConfigDoc()
    text = yaml.safe_dump(doc.model_dump(mode="json", exclude_defaults=False), allow_unicode=True, sort_keys=False,
                          width=100)
    header = "".join(f"# {line}\n" for line in CONFIG_HEADER.format(locality=divisions.full_name(root)).splitlines())
    folder.mkdir(parents=True, exist_ok=True)
    directory = folder / doc.directory
    database = folder / doc.data_dir / "duban.db"
    # the database the folder's commands will use: DUBAN_DATABASE_URL when set (as for every
    # command), else the SQLite file the written config names
    engine = make_engine(os.environ.get("DUBAN_DATABASE_URL") or f"sqlite:///{database}")
    try:
        migrate(engine)
        added = import_units(engine, directory, standard_directory(), locality, depth, actor="init")
        contacts = folder / CONTACTS_FILE
        with Session(engine) as session:
            rows = export_workbook(session, contacts)
    finally:
        engine.dispose()
    write_atomic(config, header + text)
    return Initialized(folder, root, added.units, config, directory, contacts, rows)
