"""Match quality on the synthetic district generator, against its truth.

Usage: python benchmarks/quality.py [--students 20000] [--seeds 1 2 3] [--no-synced-dob]
       [--no-archived-dob]
Prints auto precision, auto recall, auto+review recall and the review
queue as a share of the true pairs, and the recall (auto or review, or listed as a
duplicate of a merge to the right student) of the records of children typed twice.
"""

from __future__ import annotations

import argparse
import math
import time

import attrs

from merge_engine import MergePlan, Settings, build_plan
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district


def evaluate(district: SyntheticDistrict, settings: Settings | None = None) -> dict[str, float]:
    started = time.perf_counter()
    plan = build_plan(district.archived, district.synced, settings)
    seconds = time.perf_counter() - started
    truth = {(a, s) for a, s in district.truth.items() if s is not None}
    auto = {(m.archived_id, m.synced_id) for m in plan.auto}
    review = {(m.archived_id, m.synced_id) for m in plan.review}
    # Records of a child typed twice (two archived records, one synced student): found when
    # merged themselves or listed as a duplicate on a merge to the right student.
    records: dict[str, list[str]] = {}
    for a, s in truth:
        records.setdefault(s, []).append(a)
    twice = {(a, s) for s, ids in records.items() if len(ids) > 1 for a in ids}
    listed = {(dup, m.synced_id) for m in plan.merges for dup in m.duplicates}
    return {
        "true_pairs": len(truth),
        "auto": len(auto),
        "review": len(review),
        "auto_precision": len(auto & truth) / max(len(auto), 1),
        "auto_recall": len(auto & truth) / max(len(truth), 1),
        "auto_review_recall": len((auto | review) & truth) / max(len(truth), 1),
        "review_queue": len(review) / max(len(truth), 1),
        "false_auto": len(auto - truth),
        "false_review": len(review - truth),
        "twice": len(twice),
        "twice_recall": len(twice & (auto | review | listed)) / max(len(twice), 1),
        "pairs_compared": plan.stats["pairs_compared"],
        "seconds": seconds,
        **names_only_check(plan, truth),
    }


def names_only_check(plan: MergePlan, truth: set[tuple[str, str]]) -> dict[str, float]:
    """The namesake bound against what happened, over the auto pairs with only names agreeing.

    Each such pair carries the expected number of other children of its grade band with
    its full name (lambda); a namesake exists with probability 1 - exp(-lambda), which
    bounds the chance that the pair is two children (the archived child would also have
    had to leave). Predicted: the sum of those bounds; observed: the false ones.
    """
    predicted, observed, count = 0.0, 0, 0
    for m in plan.auto:
        level = next((e.level for e in m.evidence if e.comparison == "names_only"), None)
        if level is None:
            continue
        count += 1
        predicted += 1.0 - math.exp(-float(level.split()[0]))
        observed += (m.archived_id, m.synced_id) not in truth
    return {"names_only_auto": count, "names_only_predicted": predicted,
            "names_only_false": observed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-synced-dob", action="store_true")
    parser.add_argument(
        "--no-archived-dob", action="store_true", help="drop the archived birth dates too"
    )
    args = parser.parse_args()
    dob = "neither" if args.no_archived_dob else "archived" if args.no_synced_dob else "both"
    for seed in args.seeds:
        district = generate_district(args.students, seed=seed, synced_dob=not args.no_synced_dob)
        if args.no_archived_dob:
            students = [attrs.evolve(s, dob=None) for s in district.archived.students]
            district = attrs.evolve(
                district, archived=attrs.evolve(district.archived, students=students)
            )
        r = evaluate(district)
        print(
            f"seed={seed} n={args.students} dob={dob} "
            f"true={r['true_pairs']} auto={r['auto']} review={r['review']} "
            f"P_auto={r['auto_precision']:.5f} R_auto={r['auto_recall']:.4f} "
            f"R_all={r['auto_review_recall']:.4f} queue={r['review_queue']:.4f} "
            f"false_auto={r['false_auto']} twice_R_all={r['twice_recall']:.4f} (of {r['twice']}) "
            f"pairs={r['pairs_compared']} t={r['seconds']:.1f}s "
            f"names_only_auto={r['names_only_auto']} "
            f"predicted_false<={r['names_only_predicted']:.2f} observed={r['names_only_false']}"
        )


if __name__ == "__main__":
    main()
