"""Reading plans of other localities (issue 16): the opening parts of eight real plans
(/work/shared/plans/fragments, or ../shared/plans/fragments beside the repository) drafted and
measured against their hand annotations (truth/*.yaml): task clauses found (recall) and
invented (precision), department lists exactly right, stated and 定期 cadences found and
invented. Clauses are matched by title (the annotation's ids follow another convention).
Skipped when the fragments are not at hand."""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from obligations.catalog import CatalogError
from obligations.extract.draft import extract_catalog
from storage.files import read_directory
from tests.conftest import PLANS

DIRECTORY = read_directory(PLANS / "directory.yaml")
_CANDIDATES = [Path(os.environ.get("DUBAN_FRAGMENTS", "/nonexistent")),
               Path(__file__).resolve().parents[2] / "shared" / "plans" / "fragments",
               Path("/work/shared/plans/fragments")]
FRAGMENTS = next((p for p in _CANDIDATES if (p / "truth").is_dir()), None)
NAMES = sorted(p.stem for p in FRAGMENTS.glob("*.txt")) if FRAGMENTS else []

pytestmark = pytest.mark.skipif(FRAGMENTS is None, reason="plan fragments not at hand")


def fragment_text(name: str) -> str:
    """The text after the header's `---` line, without the annotators' [TRUNCATED] mark."""
    raw = (FRAGMENTS / f"{name}.txt").read_text(encoding="utf-8")
    body = raw.split("\n---\n", 1)[1]
    return body.replace("[TRUNCATED]", "").rstrip() + "\n"


def truth(name: str) -> dict:
    return yaml.safe_load((FRAGMENTS / "truth" / f"{name}.yaml").read_text(encoding="utf-8"))


def _key(text: str) -> str:
    return re.sub(r"[\s,，。.、:：;；()（）]", "", unicodedata.normalize("NFKC", text or ""))


def _cadence_label(ob: dict) -> str:
    c = ob["cadence"]
    return "custom" if c.get("origin") == "policy" or c.get("kind") == "rrule" else c.get("kind", "")


def measure(name: str) -> dict:
    """Counts for one fragment: clauses (tp, fn, fp), department lists (exact, of matched),
    cadences (tp, fn, fp)."""
    return measure_text(fragment_text(name), truth(name))


def measure_text(text: str, want: dict, directory=None) -> dict:
    """Counts for one text against its hand annotation (the fragments' truth format), read with
    ``directory`` (the repository's directory unless given)."""
    try:
        doc = extract_catalog(text, directory or DIRECTORY, "t").document
        tasks = [c for c in doc["clauses"] if c["kind"] in ("task", "checklist")]   # a list's rows are its tasks
    except CatalogError:
        tasks = []
    left = list(tasks)
    out = {"tp": 0, "fn": 0, "fp": 0, "dept_exact": 0, "dept_total": 0, "cad_tp": 0, "cad_fn": 0, "cad_fp": 0,
           "missed": [], "wrong_depts": []}
    for clause in want["clauses"] or []:
        title = _key(clause["title"])
        hit = next((c for c in left if title and (title in _key(c.get("title")) or _key(c["text"]).startswith(title)
                                                  or title in _key(c["text"])[:40])), None)
        expected_cadence = [] if clause["cadence"] == "none" else [clause["cadence"]]
        if hit is None:
            out["fn"] += 1
            out["cad_fn"] += len(expected_cadence)
            out["missed"].append(clause["id"])
            continue
        left.remove(hit)
        out["tp"] += 1
        out["dept_total"] += 1
        names = [_key(d["name"]) for d in hit["departments"]]
        expected = [_key(n) for n in clause["lead_departments"] + clause["co_departments"]]
        if names == expected and (not expected or hit["departments"][0]["role"] == "lead"):
            out["dept_exact"] += 1
        else:
            out["wrong_depts"].append((clause["id"], names, expected))
        got = [_cadence_label(o) for o in hit["obligations"]]
        for kind in expected_cadence:
            if kind in got:
                got.remove(kind)
                out["cad_tp"] += 1
            else:
                out["cad_fn"] += 1
        out["cad_fp"] += len(got)
    out["fp"] = len(left)
    out["cad_fp"] += sum(len(c["obligations"]) for c in left)
    out["invented"] = [c["title"] for c in left]
    return out


def overall(results: dict[str, dict]) -> dict[str, float]:
    tot = {k: sum(r[k] for r in results.values()) for k in ("tp", "fn", "fp", "dept_exact", "dept_total",
                                                           "cad_tp", "cad_fn", "cad_fp")}

    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    return {"clause_recall": ratio(tot["tp"], tot["tp"] + tot["fn"]),
            "clause_precision": ratio(tot["tp"], tot["tp"] + tot["fp"]),
            "dept_exact": ratio(tot["dept_exact"], tot["dept_total"]),
            "cadence_recall": ratio(tot["cad_tp"], tot["cad_tp"] + tot["cad_fn"]),
            "cadence_precision": ratio(tot["cad_tp"], tot["cad_tp"] + tot["cad_fp"])}


def test_the_fragments_are_read_as_annotated():
    results = {name: measure(name) for name in NAMES}
    for name, r in results.items():
        print(name, {k: v for k, v in r.items() if v})
    figures = overall(results)
    print("overall", {k: round(v, 3) for k, v in figures.items()})
    assert len(NAMES) == 8
    assert figures["clause_recall"] == 1.0 and figures["clause_precision"] == 1.0
    assert figures["dept_exact"] == 1.0
    assert figures["cadence_recall"] == 1.0 and figures["cadence_precision"] == 1.0
