"""``python -m skillrl.skills inspect <bank>`` and ``python -m skillrl.skills diff <a> <b>``.

``inspect`` prints the counts per section and category and every evolved skill with its
provenance (step, task type, success rate, teacher). ``diff`` prints the skills and mistakes
added, removed, edited or moved between two banks (e.g. the bank a run started from and the one
in its last checkpoint). ``--json`` prints the same as one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Optional, Sequence

from skillrl.skills.bank import SkillBank, SkillBankError, is_evolved, load_bank


def inspect_bank(bank: SkillBank) -> Dict[str, Any]:
    evolved = []
    for cat, s in bank.iter_skills():
        if is_evolved(s):
            prov = s.get("provenance") if isinstance(s.get("provenance"), dict) else {}
            evolved.append({"skill_id": s["skill_id"], "category": cat or "general", "title": s["title"], **prov})
    return {"path": bank.path, "task_key": bank.task_key, "counts": bank.counts(), "evolved": evolved,
            "metadata": bank.metadata}


def _entries(bank: SkillBank) -> Dict[str, Dict[str, Any]]:
    out = {s["skill_id"]: {"category": cat or "general", "record": s} for cat, s in bank.iter_skills()}
    out.update({m["mistake_id"]: {"category": "common_mistakes", "record": m} for m in bank.common_mistakes})
    return out


def diff_banks(a: SkillBank, b: SkillBank) -> Dict[str, Any]:
    ea, eb = _entries(a), _entries(b)
    added = [{"id": i, "category": eb[i]["category"], "title": eb[i]["record"].get("title", "")}
             for i in eb if i not in ea]
    removed = [{"id": i, "category": ea[i]["category"], "title": ea[i]["record"].get("title", "")}
               for i in ea if i not in eb]
    changed, moved = [], []
    for i in ea.keys() & eb.keys():
        ra, rb = ea[i]["record"], eb[i]["record"]
        fields = sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k))
        if fields:
            changed.append({"id": i, "fields": fields})
        if ea[i]["category"] != eb[i]["category"]:
            moved.append({"id": i, "from": ea[i]["category"], "to": eb[i]["category"]})
    ca, cb = a.counts(), b.counts()
    cats = sorted(set(ca["per_category"]) | set(cb["per_category"]))
    counts = {c: [ca["per_category"].get(c, 0), cb["per_category"].get(c, 0)] for c in cats}
    for k in ("general", "task_specific", "common_mistakes", "evolved", "total"):
        counts[k] = [ca[k], cb[k]]
    return {"a": a.path, "b": b.path, "added": added, "removed": removed, "changed": sorted(changed, key=str),
            "moved": sorted(moved, key=str), "counts": counts, "identical": a == b}


def render_inspect(info: Dict[str, Any]) -> str:
    c = info["counts"]
    lines = [f"bank: {info['path']}",
             f"general skills: {c['general']}", f"task-specific skills ({info['task_key']}): {c['task_specific']}"]
    lines += [f"  {cat}: {n}" for cat, n in c["per_category"].items()]
    lines += [f"common mistakes: {c['common_mistakes']}", f"total: {c['total']}", f"evolved skills: {c['evolved']}"]
    for e in info["evolved"]:
        prov = ", ".join(f"{k}={e[k]}" for k in ("step", "task_type", "success_rate", "teacher_model") if k in e)
        lines.append(f"  {e['skill_id']} [{e['category']}] {e['title']}" + (f" ({prov})" if prov else ""))
    return "\n".join(lines)


def render_diff(d: Dict[str, Any]) -> str:
    lines = [f"a: {d['a']}", f"b: {d['b']}"]
    if d["identical"]:
        return "\n".join(lines + ["identical"])
    lines.append("counts (a -> b):")
    lines += [f"  {k}: {x} -> {y}" for k, (x, y) in d["counts"].items() if x != y]
    for title, key in (("added", "added"), ("removed", "removed")):
        lines.append(f"{title}: {len(d[key])}")
        lines += [f"  {'+' if key == 'added' else '-'} {e['id']} [{e['category']}] {e['title']}" for e in d[key]]
    lines.append(f"changed: {len(d['changed'])}")
    lines += [f"  ~ {e['id']}: {', '.join(e['fields'])}" for e in d["changed"]]
    if d["moved"]:
        lines.append(f"moved: {len(d['moved'])}")
        lines += [f"  > {e['id']}: {e['from']} -> {e['to']}" for e in d["moved"]]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m skillrl.skills", description="Inspect and compare skill banks.")
    sub = p.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("inspect", help="counts per category and evolved skills with provenance")
    pi.add_argument("bank")
    pi.add_argument("--json", action="store_true", help="print one JSON object")
    pd = sub.add_parser("diff", help="what changed between two banks")
    pd.add_argument("a")
    pd.add_argument("b")
    pd.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        if args.cmd == "inspect":
            info: Dict[str, Any] = inspect_bank(load_bank(args.bank))
            text = render_inspect(info)
        else:
            info = diff_banks(load_bank(args.a), load_bank(args.b))
            text = render_diff(info)
    except (FileNotFoundError, SkillBankError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2, ensure_ascii=False) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
