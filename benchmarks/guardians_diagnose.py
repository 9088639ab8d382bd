"""Why true guardian pairs are not merged automatically: a tally of their comparison levels.

Usage: python benchmarks/guardians_diagnose.py [--generator district2|synthetic]
[--students 20000] [--seed 1] [--mode both|no_dob] [--show 0]

For every true (old account, sync account) pair of a generated district: whether the two
accounts meet on a student merge of the plan (and whether that merge is auto), what the plan
decided for the old account (auto to the right account, review, a wrong account, nothing),
the reasons given, and the pair's comparison levels. Prints counts per outcome and per
(levels, reasons) profile, most common first; ``--show N`` prints N example pairs of the
commonest non-auto profiles with their values (names of generated people only).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
from collections import Counter, defaultdict

import attrs
import structlog
from district2 import generate_district2

from merge_engine import Roster, build_plan
from merge_engine.accounts._guardians import (
    GUARDIAN_COMPARISONS,
    compare_guardians,
    guardian_accounts,
)
from merge_engine.testing.synthetic import generate_district


def _district(generator: str, students: int, seed: int, mode: str):  # type: ignore[no-untyped-def]
    if generator == "district2":
        dob = mode == "both"
        return generate_district2(students, seed=seed, archived_dob=dob, synced_dob=dob)

    return generate_district(students, seed=seed)


def _blank_names(d, share: float, seed: int):  # type: ignore[no-untyped-def]
    """The district with the names of a share of its archived guardian accounts blanked."""

    rng = random.Random(seed)
    ids = sorted({c.guardian_id for s in d.archived.students for c in s.contacts})
    blank = {g for g in ids if rng.random() < share}
    students = [
        attrs.evolve(
            s,
            contacts=[
                attrs.evolve(c, first_name=None, last_name=None) if c.guardian_id in blank else c
                for c in s.contacts
            ],
        )
        for s in d.archived.students
    ]
    archived = (
        Roster(students, staff=d.archived.staff)
        if hasattr(d.archived, "staff")
        else Roster(students)
    )
    try:
        return dataclasses.replace(d, archived=archived)
    except TypeError:
        return attrs.evolve(d, archived=archived)


def _print_bits(d, plan) -> None:  # type: ignore[no-untyped-def]
    """log2(m/u) per level over every pair of accounts met on a merge of the plan."""

    old, new = guardian_accounts(d.archived), guardian_accounts(d.synced)
    by_id = {s.id: s for s in d.archived.students}
    by_sid = {s.id: s for s in d.synced.students}
    met = {
        (c.guardian_id, k.guardian_id)
        for m in plan.merges
        for c in by_id[m.archived_id].contacts
        for k in by_sid[m.synced_id].contacts
    }
    truth = {(a, s) for a, s in d.guardian_truth.items() if s}
    counts: dict[bool, Counter[tuple[str, str]]] = {True: Counter(), False: Counter()}
    for a, s in met:
        for name, level in compare_guardians(old[a], new[s]).items():
            counts[(a, s) in truth][name, level] += 1
    n_m = sum(v for (k, _), v in counts[True].items() if k == "email")
    n_u = sum(v for (k, _), v in counts[False].items() if k == "email")
    print(f"pairs met on merges: same adult {n_m}, different adults {n_u}")
    for name, levels in GUARDIAN_COMPARISONS.items():
        cells = []
        for level in levels:
            m, u = counts[True][name, level], counts[False][name, level]
            bits = math.log2(((m + 0.5) / (n_m + 1)) / ((u + 0.5) / (n_u + 1)))
            cells.append(f"{level}={bits:+.1f} ({m}/{u})")
        print(f"  {name:<13} " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generator", choices=("district2", "synthetic"), default="district2")
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=("both", "no_dob"), default="no_dob")
    parser.add_argument("--show", type=int, default=0)
    parser.add_argument(
        "--bits",
        action="store_true",
        help="print log2(m/u) of every level (see DEFAULT_GUARDIAN_BITS)",
    )
    parser.add_argument(
        "--blank-names",
        type=float,
        default=0.0,
        help="share of archived guardian accounts whose names are blanked (a stress test)",
    )
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    d = _district(args.generator, args.students, args.seed, args.mode)
    if args.blank_names:
        d = _blank_names(d, args.blank_names, args.seed)
    plan = build_plan(d.archived, d.synced)
    if args.bits:
        _print_bits(d, plan)
    old, new = guardian_accounts(d.archived), guardian_accounts(d.synced)
    met: dict[tuple[str, str], str] = {}
    by_id = {s.id: s for s in d.archived.students}
    by_sid = {s.id: s for s in d.synced.students}
    for m in plan.merges:
        for c in by_id[m.archived_id].contacts:
            for k in by_sid[m.synced_id].contacts:
                key = (c.guardian_id, k.guardian_id)
                if met.get(key) != "auto":
                    met[key] = m.decision
    merged_a = {m.archived_id for m in plan.merges}
    merged_s = {m.synced_id for m in plan.merges}
    decided = {g.archived_guardian_id: g for g in plan.guardian_merges}
    joined = {(g.archived_guardian_id, g.synced_guardian_id): g for g in plan.guardian_merges}
    folded = {f.archived_guardian_id: f for f in plan.guardian_folds}
    outcome: Counter[str] = Counter()
    profiles: Counter[tuple[str, ...]] = Counter()
    examples: dict[tuple[str, ...], list[str]] = defaultdict(list)
    truth = {(a, s) for a, s in d.guardian_truth.items() if s}
    for a, s in sorted(truth):
        g = decided.get(a)
        f = folded.get(a)
        if f is not None and f.synced_guardian_id == s:
            into = joined.get((f.into_guardian_id, s))
            both = f.decision == "auto" and into is not None and into.decision == "auto"
            result = "auto" if both else "review"  # folded into the adult's other old account
        elif f is not None:
            result = "wrong_account"
        elif g is not None and g.synced_guardian_id == s:
            result = g.decision
        elif g is not None:
            result = "wrong_account"
        else:
            result = "none"
        reach = met.get((a, s), "unmet")
        if reach == "unmet":
            reach += (
                "/old_merged"
                if old[a].student_ids and any(x in merged_a for x in old[a].student_ids)
                else "/old_unmerged"
            )
            reach += (
                "/new_merged" if any(x in merged_s for x in new[s].student_ids) else "/new_unmerged"
            )
        outcome[f"{result:<14} student_merge={reach}"] += 1
        if result == "auto":
            continue
        levels = compare_guardians(old[a], new[s])
        decided_pair = f or g
        if decided_pair is not None and result == "review":
            # The levels the plan used (some need the whole district: singled_out).
            levels.update(
                (e.comparison, e.level) for e in decided_pair.evidence if e.comparison in levels
            )
        profile = (
            result,
            f"merge={reach}",
            *(f"{k}={v}" for k, v in levels.items() if k != "sis_id"),
            *(
                (f or g).reasons  # type: ignore[union-attr]
                if (f or g) is not None and result == "review"
                else ()
            ),
        )
        profiles[profile] += 1
        if len(examples[profile]) < args.show:
            o, n = old[a], new[s]
            examples[profile].append(
                f"      {o.first_name}|{o.last_name}|{o.email}|{o.phone}|{o.relationships}"
                f"  ->  {n.first_name}|{n.last_name}|{n.email}|{n.phone}|{n.relationships}"
            )
    wrong = [
        g
        for g in (*plan.guardian_merges, *plan.guardian_folds)
        if g.decision == "auto" and (g.archived_guardian_id, g.synced_guardian_id) not in truth
    ]
    autos = sum(g.decision == "auto" for g in plan.guardian_merges)
    autos += sum(
        f.decision == "auto"
        and joined.get((f.into_guardian_id, f.synced_guardian_id)) is not None
        and joined[f.into_guardian_id, f.synced_guardian_id].decision == "auto"
        for f in plan.guardian_folds
    )
    print(
        f"true guardian pairs: {len(truth)}  auto: {autos}  false auto: {len(wrong)}  "
        f"auto recall: {(autos - len(wrong)) / max(len(truth), 1):.4f}"
    )
    for g in wrong[: max(args.show, 5)]:
        o, n = old[g.archived_guardian_id], new[g.synced_guardian_id]
        print(
            f"  FALSE AUTO {g.archived_guardian_id}->{g.synced_guardian_id} "
            f"(true: {d.guardian_truth.get(g.archived_guardian_id)}) "
            + " ".join(f"{e.comparison}={e.level}" for e in g.evidence)
        )
        print(
            f"      {o.first_name}|{o.last_name}|{o.email}|{o.phone}|{o.relationships}"
            f"  ->  {n.first_name}|{n.last_name}|{n.email}|{n.phone}|{n.relationships}"
        )
    for key, n in outcome.most_common():
        print(f"  {n:6d} {key}")
    print("non-auto profiles:")
    for profile, n in profiles.most_common(40):
        print(f"  {n:6d} " + " ".join(profile))
        for line in examples[profile]:
            print(line)


if __name__ == "__main__":
    main()
