"""Match quality on the second, independent generator (benchmarks/district2.py), issue 10.

Usage: python benchmarks/quality2.py [--students 2000 20000] [--seeds 1 2]
[--modes both synced_no_dob no_dob] [--write DIR]

Per run: auto precision, auto recall, auto+review recall and review queue (shares of the
true pairs), twins or siblings auto-merged into each other, recall of the second records
of children typed twice (auto or review, or listed as a duplicate of a merge to the right
student), and guardian account merges: precision of the auto ones and recall of all true
guardian pairs (auto only, and auto+review). ``--write DIR`` also writes each district's
rosters as CSV (DIR/<mode>-n<students>-s<seed>/archived and .../synced) for timing the CLI.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Any

import structlog
from district2 import District2, Rates, generate_district2

from merge_engine import build_plan, write_roster

MODES = {  # name: (archived_dob, synced_dob)
    "both": (True, True),
    "synced_no_dob": (True, False),
    "no_dob": (False, False),
}


def evaluate(d: District2) -> dict[str, Any]:
    started = time.perf_counter()
    plan = build_plan(d.archived, d.synced)
    seconds = time.perf_counter() - started
    truth = {(a, s) for a, s in d.truth.items() if s is not None}
    auto = {(m.archived_id, m.synced_id) for m in plan.auto}
    review = {(m.archived_id, m.synced_id) for m in plan.review}
    proposed = auto | review
    related = d.twin_pairs | d.sibling_pairs
    # A second record counts as found when it is merged itself or listed as a duplicate
    # on a merge of its first record to the right student.
    listed = {
        (dup, m.synced_id) for m in plan.merges for dup in m.duplicates if dup in d.duplicates
    }
    seconds_true = {(a, d.truth[a]) for a in d.duplicates if d.truth[a] is not None}
    g_true = {(a, s) for a, s in d.guardian_truth.items() if s is not None}
    g_auto = {
        (g.archived_guardian_id, g.synced_guardian_id)
        for g in plan.guardian_merges
        if g.decision == "auto"
    }
    g_all = {(g.archived_guardian_id, g.synced_guardian_id) for g in plan.guardian_merges}
    n = max(len(truth), 1)
    return {
        "true_pairs": len(truth),
        "auto": len(auto),
        "review": len(review),
        "false_auto": len(auto - truth),
        "auto_precision": len(auto & truth) / max(len(auto), 1),
        "auto_recall": len(auto & truth) / n,
        "auto_review_recall": len(proposed & truth) / n,
        "review_queue": len(review) / n,
        "twins_auto": len(auto & d.twin_pairs),
        "siblings_auto": len(auto & d.sibling_pairs),
        "related_review": len(review & related),
        "dup_seconds": len(seconds_true),
        "dup_recall": len(seconds_true & (proposed | listed)) / max(len(seconds_true), 1),
        "g_true": len(g_true),
        "g_auto": len(g_auto),
        "g_false_auto": len(g_auto - g_true),
        "g_precision": len(g_auto & g_true) / max(len(g_auto), 1),
        "g_recall": len(g_auto & g_true) / max(len(g_true), 1),
        "g_recall_all": len(g_all & g_true) / max(len(g_true), 1),
        "seconds": seconds,
        "_plan": plan,
    }


def diagnose(d: District2, r: dict[str, Any]) -> str:
    """Which corruptions the true pairs that missed auto (and review) carry; and the false
    auto merges, so the matcher's lead can see where the rules fail on this generator."""
    plan = r["_plan"]
    got = {(m.archived_id, m.synced_id): m.decision for m in plan.merges}
    not_auto: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for a, s in d.truth.items():
        if s is None:
            continue
        decision = got.get((a, s))
        kinds = d.corruptions[a] or ("none",)
        extra = ("typed_twice",) if a in d.duplicates else ()
        if decision != "auto":
            not_auto.update(kinds + extra)
        if decision is None:
            missed.update(kinds + extra)
    total: Counter[str] = Counter()
    for a, s in d.truth.items():
        if s is not None:
            extra = ("typed_twice",) if a in d.duplicates else ()
            total.update((d.corruptions[a] or ("none",)) + extra)
    rows = [
        f"    {k:24s} pairs={total.get(k, 0):6d} not_auto={not_auto[k]:5d} missed={missed[k]:5d}"
        for k, _ in not_auto.most_common()
    ]
    truth = {(a, s) for a, s in d.truth.items() if s is not None}
    false = [
        f"    false auto {a}->{s}: twin={(a, s) in d.twin_pairs} "
        f"sibling={(a, s) in d.sibling_pairs} true_target={d.truth[a]}"
        for (a, s), dec in got.items()
        if dec == "auto" and (a, s) not in truth
    ]
    return "\n".join(["  true pairs not auto / not proposed, by corruption:", *rows, *false])


def line(mode: str, n: int, seed: int, r: dict[str, Any]) -> str:
    return (
        f"mode={mode} n={n} seed={seed} true={r['true_pairs']} auto={r['auto']} "
        f"review={r['review']} P_auto={r['auto_precision']:.5f} (false={r['false_auto']}) "
        f"R_auto={r['auto_recall']:.4f} R_all={r['auto_review_recall']:.4f} "
        f"queue={r['review_queue']:.4f} twins_auto={r['twins_auto']} "
        f"siblings_auto={r['siblings_auto']} dup2_R_all={r['dup_recall']:.4f} "
        f"(of {r['dup_seconds']}) guardians: true={r['g_true']} auto={r['g_auto']} "
        f"P={r['g_precision']:.5f} (false={r['g_false_auto']}) R_auto={r['g_recall']:.4f} "
        f"R_all={r['g_recall_all']:.4f} t={r['seconds']:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, nargs="+", default=[2000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--write", metavar="DIR", help="also write the rosters as CSV here")
    parser.add_argument("--diagnose", action="store_true", help="misses by corruption kind")
    parser.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="NAME=P",
        help="override one of district2.Rates (sensitivity runs), e.g. --rate nickname=0.2",
    )
    args = parser.parse_args()
    rates = dataclasses.replace(
        Rates(), **{k: float(v) for k, v in (item.split("=", 1) for item in args.rate)}
    )
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    for n in args.students:
        for mode in args.modes:
            archived_dob, synced_dob = MODES[mode]
            for seed in args.seeds:
                d = generate_district2(n, seed, archived_dob, synced_dob, rates)
                if args.write:
                    folder = Path(args.write) / f"{mode}-n{n}-s{seed}"
                    write_roster(d.archived, folder / "archived")
                    write_roster(d.synced, folder / "synced")
                r = evaluate(d)
                print(line(mode, n, seed, r), flush=True)
                if args.diagnose:
                    print(diagnose(d, r), flush=True)


if __name__ == "__main__":
    main()
