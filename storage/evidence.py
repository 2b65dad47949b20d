"""Evidence files (photos, scans, documents) attached to a completion: checked by content, named
so that nothing is overwritten, stored under ``data_dir/evidence/<item>/`` with the path kept
relative to ``data_dir``, removed again when the completion is refused.

Every door hands the file over as ``Evidence`` (a name and its bytes); only this module writes,
reads and deletes evidence on disk."""
from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from obligations.errors import DubanError

MAX_BYTES = 10 * 1024 * 1024
# file signatures (magic numbers) → the extensions they may carry
SIGNATURES = [(b"%PDF-", {".pdf"}), (b"\xff\xd8\xff", {".jpg", ".jpeg"}), (b"\x89PNG\r\n\x1a\n", {".png"}),
              (b"PK\x03\x04", {".docx", ".xlsx"})]
ACCEPT = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx"


class EvidenceError(DubanError, ValueError):
    http_status = 422


@dataclass(frozen=True)
class Evidence:
    """A file as a person handed it in: the name they gave it and its content (at most
    MAX_BYTES + 1 bytes read, so that an oversized file is recognised without reading it all)."""

    filename: str
    data: bytes

    @classmethod
    def from_path(cls, path: Path) -> Evidence:
        if not path.is_file():
            raise EvidenceError(f"附件 {path} 不存在")
        with path.open("rb") as f:
            return cls(path.name, f.read(MAX_BYTES + 1))


def check(name: str, head: bytes, size: int) -> str:
    """The file's extension if allowed; EvidenceError otherwise."""
    ext = Path(name).suffix.lower()
    shown = Path(name).name or "（无文件名）"
    if size > MAX_BYTES:
        raise EvidenceError(f"附件 {shown} 超过 {MAX_BYTES // 1024 // 1024} MB")
    if size == 0:
        raise EvidenceError(f"附件 {shown} 是空文件")
    for magic, exts in SIGNATURES:
        if head.startswith(magic):
            if ext not in exts:
                raise EvidenceError(f"附件 {shown} 的扩展名与内容不符")
            return ext
    raise EvidenceError(f"附件 {shown} 的类型不支持（可上传 PDF、JPG、PNG、DOCX、XLSX）")


def target(folder: Path, occurrence_id: int, filename: str, ext: str) -> Path:
    """Where an evidence file is kept: a folder per item and a unique prefix, so that two
    completions' files of the same name never overwrite each other (the download strips the
    prefix again)."""
    stem = re.sub(r"[^\w\u4e00-\u9fff.-]+", "_", Path(filename).stem)[:60] or "evidence"
    return folder / str(occurrence_id) / f"{uuid.uuid4().hex[:12]}-{stem}{ext}"


def store(evidence: Evidence, data_dir: Path, occurrence_id: int) -> str:
    """Check and write the file; returns its path relative to ``data_dir`` (what the
    completion records)."""
    ext = check(evidence.filename, evidence.data[:16], len(evidence.data))
    path = target(data_dir / "evidence", occurrence_id, evidence.filename, ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(evidence.data)
    return path.relative_to(data_dir).as_posix()


def resolve(data_dir: Path, stored: str) -> Path | None:
    """The file a completion points at, if it is still inside the evidence folder."""
    root = data_dir.resolve()
    path = Path(stored)
    path = (path if path.is_absolute() else root / path).resolve()
    return path if path.is_relative_to(root / "evidence") and path.is_file() else None


def download_name(path: Path) -> str:
    return path.name.split("-", 1)[-1]


@contextmanager
def kept_only_if_recorded(data_dir: Path, stored: str | None):
    """Around recording a completion whose evidence file is already stored: if the completion
    is refused (or anything fails), the file goes too, so no file is left that nothing points at."""
    try:
        yield
    except BaseException:
        if stored is not None:
            (data_dir / stored).unlink(missing_ok=True)
        raise
