"""Why true pairs were missed or sent to review (synthetic truth); a developer tool."""

from __future__ import annotations

import argparse
import collections

from merge_engine import build_plan
from merge_engine.testing.synthetic import generate_district


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-synced-dob", action="store_true")
    parser.add_argument("--show", type=int, default=5)
    args = parser.parse_args()
    d = generate_district(args.students, seed=args.seed, synced_dob=not args.no_synced_dob)
    plan = build_plan(d.archived, d.synced)
    truth = {a: s for a, s in d.truth.items() if s is not None}
    by_a = {m.archived_id: m for m in plan.merges}
    a_rec = {s.id: s for s in d.archived.students}
    b_rec = {s.id: s for s in d.synced.students}
    reasons: collections.Counter[str] = collections.Counter()
    missing = []
    wrong = []
    for a, s in truth.items():
        m = by_a.get(a)
        if m is None:
            missing.append((a, s))
        elif m.synced_id != s:
            wrong.append((a, s, m))
        elif m.decision == "review":
            reasons.update(m.reasons)
    print("true", len(truth), "unproposed", len(missing), "wrong target", len(wrong))
    print("review reasons of true pairs:", reasons.most_common())
    fp = collections.Counter()
    for m in plan.merges:
        if truth.get(m.archived_id) != m.synced_id:
            fp[m.decision] += 1
            if m.decision == "auto" and args.show:
                print("FALSE AUTO", m.explain())
                print("  A", _fmt(a_rec[m.archived_id]))
                print("  S", _fmt(b_rec[m.synced_id]))
                t = truth.get(m.archived_id)
                print("  truth", t, _fmt(b_rec[t]) if t else "")
    print("false by decision", dict(fp))
    for a, s in missing[: args.show]:
        print("MISSED", _fmt(a_rec[a]), "|", _fmt(b_rec[s]))
    for a, s, m in wrong[: args.show]:
        print(
            "WRONG",
            _fmt(a_rec[a]),
            "|",
            _fmt(b_rec[s]),
            "| got",
            _fmt(b_rec[m.synced_id]),
            m.decision,
        )
        taker = [x for x in plan.merges if x.synced_id == s]
        for x in taker:
            print(
                "   true synced taken by",
                _fmt(a_rec[x.archived_id]),
                x.decision,
                x.confidence,
                "truth:",
                truth.get(x.archived_id),
            )
    shown = 0
    for a, s in truth.items():
        m = by_a.get(a)
        if m is not None and m.synced_id == s and m.decision == "review" and shown < args.show:
            shown += 1
            print("REVIEW", m.explain())
            print("  A", _fmt(a_rec[a]))
            print("  S", _fmt(b_rec[s]))
            for c in m.competitors:
                print(
                    "  competitor",
                    c.confidence,
                    _fmt(a_rec[c.archived_id]),
                    "|",
                    _fmt(b_rec[c.synced_id]),
                )


def _fmt(s: object) -> str:
    f = lambda x: getattr(s, x)  # noqa: E731
    return (
        f"{f('id')} {f('first_name')}/{f('middle_name')}/{f('last_name')} "
        f"dob={f('dob')} g={f('grade')} "
        f"sch={f('school_id')} sex={f('gender')} num={f('student_number')} "
        f"c={[(c.guardian_id, c.phone, c.email) for c in f('contacts')][:2]}"
    )


if __name__ == "__main__":
    main()
