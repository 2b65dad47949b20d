"""A drafted plan put in place: ``plans/<id>/catalog.yaml`` and ``source.txt`` (the text, byte for
byte) in the working folder, and the folder listed under ``plans:`` in config.yaml, so that
``duban plans load --all`` takes the draft as it stands and the coordinator reviews it in place.

config.yaml is edited as text (its comments stay): only the ``plans:`` entry changes, and the
result must parse as a configuration before it replaces the file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from obligations.config import parse_config
from obligations.errors import Refused
from storage.atomic import write_atomic


class PlanExists(Refused):
    pass


@dataclass
class PlanAdded:
    folder: Path
    catalog: Path
    source: Path
    config: Path
    listed: bool          # False when config.yaml listed the folder already


def with_plan_listed(config_text: str, entry: str, filename: str = "config.yaml") -> tuple[str, bool]:
    """config.yaml's text with ``entry`` added to its top-level ``plans:`` list (a flow list
    ``plans: [a, b]`` or a block list of ``- a`` lines); everything else as it was. Returns the
    text and whether it changed."""
    doc = parse_config(config_text, filename)
    if entry in doc.plans:
        return config_text, False
    lines = config_text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if re.match(r"^plans\s*:", line)), None)
    if at is None:
        sep = "" if not config_text or config_text.endswith("\n") else "\n"
        return config_text + f"{sep}plans: [{entry}]\n", True
    head = lines[at]
    value = head.split(":", 1)[1].split("#", 1)[0].strip()
    if value.startswith("[") or (value in ("", "null", "~") and not _block_items(lines, at)):
        items = [*doc.plans, entry]
        comment = head[head.index("#"):].rstrip("\n") if "#" in head else ""
        lines[at] = f"plans: [{', '.join(items)}]" + (f"  {comment}" if comment else "") + "\n"
        out = "".join(lines)
    else:
        block = _block_items(lines, at)
        last = block[-1]
        indent = re.match(r"^(\s*)-", lines[last])[1]
        lines.insert(last + 1, f"{indent}- {entry}\n")
        out = "".join(lines)
    parsed = parse_config(out, filename)        # never write a config that does not read back
    assert parsed.plans[-1] == entry or entry in parsed.plans
    return out, True


def _block_items(lines: list[str], at: int) -> list[int]:
    """Line indexes of the ``- item`` lines of the block list that follows line ``at``."""
    out = []
    for i in range(at + 1, len(lines)):
        text = lines[i]
        if re.match(r"^\s+-\s", text) or re.match(r"^-\s", text):
            out.append(i)
        elif text.strip() == "" or text.lstrip().startswith("#"):
            continue
        else:
            break
    return out


def add_plan(config_path: Path, plan_id: str, catalog_text: str, source_bytes: bytes) -> PlanAdded:
    """Write the draft beside its text in ``plans/<plan_id>/`` next to config.yaml and list the
    folder in config.yaml. Refuses a folder that already holds a catalog (nothing is written)."""
    base = config_path.parent
    folder = base / "plans" / plan_id
    catalog, source = folder / "catalog.yaml", folder / "source.txt"
    if catalog.exists():
        raise PlanExists(f"{catalog} 已存在：未改动。要重新起草，请换一个 --id，或先移走该文件夹")
    entry = f"plans/{plan_id}"
    text, listed = with_plan_listed(config_path.read_text(encoding="utf-8"), entry, str(config_path))
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(source, source_bytes)
    write_atomic(catalog, catalog_text)
    if listed:
        write_atomic(config_path, text)
    return PlanAdded(folder, catalog, source, config_path, listed)
