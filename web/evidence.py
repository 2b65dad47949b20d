"""Evidence uploads (photos, scans, documents): size limit and type check by content, stored on
disk under data_dir/evidence/<item>/, named so that nothing is overwritten."""
from __future__ import annotations

from pathlib import Path

from obligations.errors import DubanError
from storage.files import evidence_target

MAX_BYTES = 10 * 1024 * 1024
# file signatures (magic numbers) → the extensions they may carry
SIGNATURES = [(b"%PDF-", {".pdf"}), (b"\xff\xd8\xff", {".jpg", ".jpeg"}), (b"\x89PNG\r\n\x1a\n", {".png"}),
              (b"PK\x03\x04", {".docx", ".xlsx"})]


class EvidenceError(DubanError, ValueError):
    pass


def check(name: str, head: bytes, size: int) -> str:
    """The file's extension if allowed; EvidenceError otherwise."""
    ext = Path(name).suffix.lower()
    if size > MAX_BYTES:
        raise EvidenceError(f"附件 {name} 超过 {MAX_BYTES // 1024 // 1024} MB")
    if size == 0:
        raise EvidenceError(f"附件 {name} 是空文件")
    for magic, exts in SIGNATURES:
        if head.startswith(magic):
            if ext not in exts:
                raise EvidenceError(f"附件 {name} 的扩展名与内容不符")
            return ext
    raise EvidenceError(f"附件 {name} 的类型不支持（可上传 PDF、JPG、PNG、DOCX、XLSX）")


async def store(upload, folder: Path, occurrence_id: int) -> str:
    data = await upload.read(MAX_BYTES + 1)
    ext = check(upload.filename or "", data[:16], len(data))
    target = evidence_target(folder, occurrence_id, upload.filename or "", ext)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(target)
