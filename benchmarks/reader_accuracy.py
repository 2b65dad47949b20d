"""How well the plan reader reads plans of localities it was not written on.

Runs the reader (obligations/extract) on every text in tests/fixtures/unseen that has a hand-written
answer (truth/<name>.yaml), and on the plan fragments beside the repository when they are at hand
(../shared/plans/fragments), and prints per plan and overall: clause recall, department lists
exact, stated cadences found, and what was invented (clauses or cadences the answer does not have).

    .venv/bin/python benchmarks/reader_accuracy.py [--json] [--damaged N]

``--damaged N`` also reads N damaged copies of each text (OCR and conversion damage as in
tests/test_extract_draft.py: half-width punctuation, 〈〉, 丨, an X for a lost character, broken
lines, stray spaces) and counts them as plans of their own.

The goal for other localities' plans (issue 16): clause recall >= 95 %, department lists exact
>= 95 %, stated cadences >= 90 %, nothing invented.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_extract_fragments import FRAGMENTS, fragment_text, measure_text, truth  # noqa: E402
from tests.test_extract_unseen import NAMES as UNSEEN_NAMES  # noqa: E402
from tests.test_extract_unseen import directory_of, text_of, truth_of  # noqa: E402

GOAL = {"clause_recall": 0.95, "dept_exact": 0.95, "cadence_recall": 0.90}
COUNTS = ("tp", "fn", "fp", "dept_exact", "dept_total", "cad_tp", "cad_fn", "cad_fp")


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def figures(r: dict) -> dict:
    return {"clauses": f"{r['tp']}/{r['tp'] + r['fn']}",
            "clause_recall": _ratio(r["tp"], r["tp"] + r["fn"]),
            "dept_exact": _ratio(r["dept_exact"], r["dept_total"]),
            "cadence_recall": _ratio(r["cad_tp"], r["cad_tp"] + r["cad_fn"]),
            "invented": r["fp"] + r["cad_fp"]}


def run(damaged: int = 0) -> dict:
    from tests.test_extract_draft import damage

    # an unseen plan is read in a working folder of its locality (tests/test_extract_unseen.py)
    texts = [(f"unseen/{name}", text_of(name), truth_of(name), directory_of(name)) for name in UNSEEN_NAMES]
    if FRAGMENTS is not None:
        texts += [(f"fragments/{p.stem}", fragment_text(p.stem), truth(p.stem), None)
                  for p in sorted(FRAGMENTS.glob("*.txt"))]
    plans: dict[str, dict] = {}
    for name, text, want, directory in texts:
        plans[name] = measure_text(text, want, directory)
        for seed in range(damaged):
            plans[f"{name} (damaged {seed})"] = measure_text(damage(text, seed), want, directory)
    total = {k: sum(r[k] for r in plans.values()) for k in COUNTS}
    return {"plans": plans, "overall": total}


def _fmt(v) -> str:
    return "  –  " if v is None else f"{v:5.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--damaged", type=int, default=0, metavar="N", help="also read N damaged copies of each text")
    args = ap.parse_args(argv)
    result = run(args.damaged)
    rows = {name: figures(r) for name, r in result["plans"].items()}
    overall = figures(result["overall"])
    if args.json:
        print(json.dumps({"plans": rows, "overall": overall}, ensure_ascii=False, indent=1))
        return 0
    print(f"{'plan':48} {'clauses':>8} {'recall':>6} {'depts':>6} {'cadence':>7} {'invented':>8}")
    for name, f in rows.items():
        print(f"{name:48} {f['clauses']:>8} {_fmt(f['clause_recall']):>6} {_fmt(f['dept_exact']):>6} "
              f"{_fmt(f['cadence_recall']):>7} {f['invented']:>8}")
        r = result["plans"][name]
        for key in ("missed", "wrong_depts", "invented"):
            if r.get(key):
                print(f"    {key}: {r[key]}")
    print(f"{'overall':48} {overall['clauses']:>8} {_fmt(overall['clause_recall']):>6} "
          f"{_fmt(overall['dept_exact']):>6} {_fmt(overall['cadence_recall']):>7} {overall['invented']:>8}")
    met = all((overall[k] is None or overall[k] >= v) for k, v in GOAL.items()) and overall["invented"] == 0
    print("goal (recall >= 0.95, depts >= 0.95, cadences >= 0.90, nothing invented):", "met" if met else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
