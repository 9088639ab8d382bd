"""Guardian account merges against the generators' truth, and multiple-role detection.

Usage: python benchmarks/guardians_quality.py [--generator synthetic district2]
[--students 20000] [--seeds 1 2 3] [--modes both no_dob]

Recall counts ALL true guardian pairs (every old account whose adult has a
sync-created account), not only those the matcher can reach. An old account
counts as merged automatically when its own guardian merge is ``auto``, or when
it is folded (``auto``) into another old account whose guardian merge to the
same sync account is ``auto`` (the adult ends with one account). A false auto
is any auto pair of two different adults, including a fold of one adult's old
account into another's. ``reachable`` (our generator only) counts the true
pairs whose accounts sit on a merged student pair; `one_to_one_max` is the best
a one-to-one matching without folds could reach there. ``--modes`` applies to
district2 (birth dates on both sides, or on neither). Multiple-role precision
and recall (our generator) count the `same_person` staff-guardian links on
each side.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from typing import Any

import structlog
from district2 import generate_district2

from merge_engine import MergePlan, build_plan
from merge_engine.accounts._roles import find_multiple_roles
from merge_engine.testing.synthetic import generate_district


def guardian_scores(plan: MergePlan, truth: Mapping[str, str | None]) -> dict[str, Any]:
    """Auto and auto+review pairs of the plan's guardian merges and folds, against the truth."""
    true = {(a, s) for a, s in truth.items() if s}
    merges = {(g.archived_guardian_id, g.synced_guardian_id): g for g in plan.guardian_merges}
    auto = {k for k, g in merges.items() if g.decision == "auto"}
    proposed = set(merges)
    wrong_folds = 0
    folded_auto = 0
    for f in plan.guardian_folds:
        pair = (f.archived_guardian_id, f.synced_guardian_id)
        proposed.add(pair)
        joined = merges.get((f.into_guardian_id, f.synced_guardian_id))
        if f.decision == "auto" and joined is not None and joined.decision == "auto":
            auto.add(pair)
            folded_auto += 1
            one = truth.get(f.archived_guardian_id)
            wrong_folds += one is None or one != truth.get(f.into_guardian_id)
    return {
        "true": len(true),
        "auto": len(auto),
        "review": len(proposed - auto),
        "folds": len(plan.guardian_folds),
        "folds_auto": folded_auto,
        "false_auto": len(auto - true),
        "wrong_folds": wrong_folds,
        "precision": len(auto & true) / max(len(auto), 1),
        "recall": len(auto & true) / max(len(true), 1),
        "recall_review": len(proposed & true) / max(len(true), 1),
        "_auto": auto,
        "_proposed": proposed,
    }


def _line(label: str, s: Mapping[str, Any]) -> str:
    return (
        f"{label} guardians: true={s['true']} auto={s['auto']} review={s['review']} "
        f"folds={s['folds']} (auto {s['folds_auto']}, wrong {s['wrong_folds']}) "
        f"false_auto={s['false_auto']} P_auto={s['precision']:.5f} "
        f"R_auto={s['recall']:.4f} R_auto_review={s['recall_review']:.4f}"
    )


def _synthetic(n: int, seed: int) -> None:
    d = generate_district(n, seed=seed)
    plan = build_plan(d.archived, d.synced)
    s = guardian_scores(plan, d.guardian_truth)
    reachable = d.reachable_guardian_pairs(plan.merges)
    owners = Counter(new for _, new in reachable)  # old accounts of each new one
    one_to_one = len(reachable) - sum(k - 1 for k in owners.values())
    print(
        _line(f"synthetic n={n} seed={seed}", s) + f" reachable={len(reachable)} R_auto_reachable="
        f"{len(s['_auto'] & reachable) / max(len(reachable), 1):.4f} "
        f"one_to_one_max={one_to_one / max(len(reachable), 1):.4f}"
    )
    roles_truth = set(d.staff_guardian_truth)
    for side, roster, prefixes in (
        ("archived", d.archived, ("ta", "ga")),
        ("synced", d.synced, ("ts", "gs")),
    ):
        t = {
            (s_, g)
            for s_, g in roles_truth
            if s_.startswith(prefixes[0]) and g.startswith(prefixes[1])
        }
        found = {
            (link.first_id, link.second_id)
            for link in find_multiple_roles(roster)
            if link.kind == "staff_guardian" and link.verdict == "same_person"
        }
        print(
            f"   roles {side}: true={len(t)} found={len(found)} "
            f"P={len(found & t) / max(len(found), 1):.4f} "
            f"R={len(found & t) / max(len(t), 1):.4f}"
        )


def _district2(n: int, seed: int, mode: str) -> None:
    dob = mode == "both"
    d = generate_district2(n, seed=seed, archived_dob=dob, synced_dob=dob)
    plan = build_plan(d.archived, d.synced)
    print(
        _line(f"district2 n={n} seed={seed} mode={mode}", guardian_scores(plan, d.guardian_truth))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--generator", nargs="+", choices=("synthetic", "district2"), default=["synthetic"]
    )
    parser.add_argument("--students", type=int, nargs="+", default=[20_000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--modes", nargs="+", choices=("both", "no_dob"), default=["both"])
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    for generator in args.generator:
        for n in args.students:
            for seed in args.seeds:
                if generator == "synthetic":
                    _synthetic(n, seed)
                    continue
                for mode in args.modes:
                    _district2(n, seed, mode)


if __name__ == "__main__":
    main()
