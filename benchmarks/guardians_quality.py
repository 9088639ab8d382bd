"""Guardian account merges and multiple-role detection against the generator's truth.

Usage: python benchmarks/guardians_quality.py [--students 20000] [--seeds 1 2 3]
Guardian recall counts the true pairs whose accounts sit on a merged
student pair (others cannot be proposed); multiple-role precision and
recall count the `same_person` staff-guardian links on each side.
`one_to_one_max` is the best recall a one-to-one matching can reach: when
one adult had several old accounts, only one of them can take the new one.
"""

from __future__ import annotations

import argparse
from collections import Counter

import structlog

from merge_engine import build_plan
from merge_engine.accounts._roles import find_multiple_roles
from merge_engine.testing.synthetic import generate_district


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    for seed in args.seeds:
        d = generate_district(args.students, seed=seed)
        plan = build_plan(d.archived, d.synced)
        merges = plan.guardian_merges  # the planner already matched them (default settings)
        truth = {(a, s) for a, s in d.guardian_truth.items() if s}
        reachable = d.reachable_guardian_pairs(plan.merges)
        auto = {
            (g.archived_guardian_id, g.synced_guardian_id) for g in merges if g.decision == "auto"
        }
        review = {(g.archived_guardian_id, g.synced_guardian_id) for g in merges} - auto
        owners = Counter(s for _, s in reachable)  # old accounts of each new one
        one_to_one = len(reachable) - sum(n - 1 for n in owners.values())
        print(
            f"seed={seed} guardians: true={len(truth)} reachable={len(reachable)} auto={len(auto)} "
            f"review={len(review)} false_auto={len(auto - truth)} "
            f"P_auto={len(auto & truth) / max(len(auto), 1):.5f} "
            f"R_auto={len(auto & reachable) / max(len(reachable), 1):.4f} "
            f"R_auto_all_true={len(auto & truth) / max(len(truth), 1):.4f} "
            f"R_auto_review={len((auto | review) & reachable) / max(len(reachable), 1):.4f} "
            f"one_to_one_max={one_to_one / max(len(reachable), 1):.4f}"
        )
        roles_truth = set(d.staff_guardian_truth)
        for side, roster, prefixes in (
            ("archived", d.archived, ("ta", "ga")),
            ("synced", d.synced, ("ts", "gs")),
        ):
            t = {
                (s, g)
                for s, g in roles_truth
                if s.startswith(prefixes[0]) and g.startswith(prefixes[1])
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


if __name__ == "__main__":
    main()
