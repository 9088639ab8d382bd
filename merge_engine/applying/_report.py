"""What applying or undoing a plan did: one outcome per merge or account step, ids and counts only.

Reports are read by admins (``summary``), by scripts (``to_dict``) and by
backend code (the properties); none of them ever holds a name or a birth
date, only ids, statuses, reasons written by the engine, and counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from attrs import field, frozen

__all__ = ["ApplyReport", "MergeOutcome", "OutcomeKind", "Status", "Tally", "Totals"]

Status = Literal[
    "applied", "swept", "already_applied", "stale", "skipped_review", "skipped", "conflict",
    "failed", "undone", "not_applied",
]  # fmt: skip
#: ``student`` merges, and the account steps after them (:mod:`.account_steps`).
OutcomeKind = Literal["student", "guardian_merge", "guardian_fold", "detach", "account_link"]

_STATUS_ORDER: tuple[Status, ...] = (
    "applied", "undone", "swept", "already_applied", "not_applied", "skipped_review", "skipped",
    "stale", "conflict", "failed",
)  # fmt: skip
_KIND_LABEL: Mapping[str, str] = {
    "guardian_merge": "guardian merges",
    "guardian_fold": "second old accounts folded",
    "detach": "old-guardian detaches",
    "account_link": "multiple-role links",
}


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(value.items()) if v}


def _outcomes(value: Iterable[MergeOutcome]) -> tuple[MergeOutcome, ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@frozen
class MergeOutcome:
    """What happened to one merge: ids, a status, a reason, and row counts (never PII).

    ``rows``: history rows moved (apply) or moved back (undo), per table.
    Status ``swept``: the merge was applied earlier and the rows written to
    the archived student since were moved on now (see :mod:`merge_engine.applying._sweep`).
    ``set_aside``: rows set aside on a unique-key collision (apply) or
    re-inserted (undo), per table. ``links``: guardian links added or
    removed. ``kept``: (undo) rows written to the synced student after the
    merge, which stay with it. For an account step (``kind`` other than
    ``student``) ``archived_id`` is the step's key (``guardian:<id>``, ``fold:<id>``,
    ``detach:<archived student id>``, ``link:...``) and ``synced_id`` its target.
    """

    archived_id: str
    synced_id: str
    status: Status
    reason: str = ""
    rows: Mapping[str, int] = field(factory=dict, converter=_counts)
    set_aside: Mapping[str, int] = field(factory=dict, converter=_counts)
    links: int = 0
    kept: Mapping[str, int] = field(factory=dict, converter=_counts)
    kind: OutcomeKind = "student"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "archived_id": self.archived_id,
            "synced_id": self.synced_id,
            "status": self.status,
            "reason": self.reason,
            "rows": dict(self.rows),
            "set_aside": dict(self.set_aside),
            "links": self.links,
            "kept": dict(self.kept),
        }


@frozen
class Totals:
    """What a report's student outcomes add up to: merges per status, rows per table, links."""

    statuses: Mapping[str, int] = field(factory=dict, converter=_counts)
    rows: Mapping[str, int] = field(factory=dict, converter=_counts)
    set_aside: Mapping[str, int] = field(factory=dict, converter=_counts)
    kept: Mapping[str, int] = field(factory=dict, converter=_counts)
    links: int = 0
    #: Rows moved and set aside by the ``swept`` outcomes alone (late history).
    swept_rows: Mapping[str, int] = field(factory=dict, converter=_counts)
    swept_set_aside: Mapping[str, int] = field(factory=dict, converter=_counts)

    @classmethod
    def of(cls, outcomes: Iterable[MergeOutcome]) -> Totals:
        tally = Tally()
        for o in outcomes:
            tally.add(o)
        return tally.totals()


class Tally:
    """Adds outcomes up one at a time (an apply of millions of merges keeps only this)."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()
        self.set_aside: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.links = 0
        self.swept_rows: Counter[str] = Counter()
        self.swept_set_aside: Counter[str] = Counter()

    def add(self, o: MergeOutcome) -> None:
        self.statuses[o.status] += 1
        self.rows.update(o.rows)
        self.set_aside.update(o.set_aside)
        self.kept.update(o.kept)
        self.links += o.links
        if o.status == "swept":
            self.swept_rows.update(o.rows)
            self.swept_set_aside.update(o.set_aside)

    def totals(self) -> Totals:
        return Totals(
            self.statuses, self.rows, self.set_aside, self.kept, self.links,
            self.swept_rows, self.swept_set_aside,
        )  # fmt: skip


@frozen
class ApplyReport:
    """The result of :func:`apply_plan` or :func:`undo_plan`.

    ``outcomes`` has one outcome per student merge considered;
    ``account_outcomes`` one per account step (guardian merge, detach,
    multiple-role link), in the order they ran.
    """

    action: Literal["apply", "undo"]
    plan_fingerprint: str
    outcomes: tuple[MergeOutcome, ...] = field(converter=_outcomes)
    dry_run: bool = False
    warnings: tuple[str, ...] = field(default=(), converter=_strings)
    seconds: float = 0.0
    account_outcomes: tuple[MergeOutcome, ...] = field(default=(), converter=_outcomes)
    #: The sums over every student outcome, when ``outcomes`` does not hold them all.
    totals: Totals | None = None
    #: Student outcomes counted in ``totals`` but not kept in ``outcomes`` (applied,
    #: already applied, skipped...: an apply of a plan file keeps the notable ones).
    omitted: int = 0

    @property
    def _totals(self) -> Totals:
        return self.totals if self.totals is not None else Totals.of(self.outcomes)

    @property
    def counts(self) -> dict[str, int]:
        """Merges per status."""
        c = self._totals.statuses
        return {s: c[s] for s in _STATUS_ORDER if c.get(s)}

    @property
    def rows(self) -> dict[str, int]:
        """History rows moved (apply) or moved back (undo), per table."""
        return dict(self._totals.rows)

    @property
    def set_aside(self) -> dict[str, int]:
        """Rows set aside on a collision (apply) or re-inserted (undo), per table."""
        return dict(self._totals.set_aside)

    @property
    def kept(self) -> dict[str, int]:
        """(undo) Rows written to synced students after their merge, left with them."""
        return dict(self._totals.kept)

    @property
    def links(self) -> int:
        return self._totals.links

    @property
    def account_counts(self) -> dict[str, dict[str, int]]:
        """Account steps per kind, then per status."""
        out: dict[str, Counter[str]] = {}
        for o in self.account_outcomes:
            out.setdefault(o.kind, Counter())[o.status] += 1
        return {k: {s: c[s] for s in _STATUS_ORDER if c[s]} for k, c in out.items()}

    @property
    def ok(self) -> bool:
        """True when no merge or account step failed or stayed in conflict."""
        return not any(
            o.status in ("failed", "conflict") for o in (*self.outcomes, *self.account_outcomes)
        )

    def by_status(self, *statuses: Status) -> tuple[MergeOutcome, ...]:
        """Student merges and account steps with one of ``statuses``."""
        return tuple(o for o in (*self.outcomes, *self.account_outcomes) if o.status in statuses)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()) or "nothing to do"
        dry = " (dry run)" if self.dry_run else ""
        return f"<ApplyReport {self.action} of plan {self.plan_fingerprint}{dry}: {counts}>"

    def summary(self, *, limit: int = 10) -> str:
        """A few readable lines: counts, rows, and the merges that were refused or failed."""
        verb = {"apply": "applied", "undo": "undone"}[self.action]
        done = self.counts.get(verb, 0)
        would = "would be " if self.dry_run else ""
        lines = [
            f"plan {self.plan_fingerprint}: {done} merges {would}{verb} "
            f"({', '.join(f'{n} {s}' for s, n in self.counts.items()) or 'nothing to do'})"
            f" in {self.seconds:.1f}s"
        ]
        moved = "moved back" if self.action == "undo" else "moved"
        if self.rows:
            lines.append(f"  history rows {moved}: {_fmt(self.rows)}")
        if self.set_aside:
            what = "re-inserted" if self.action == "undo" else "set aside on collisions (journaled)"
            lines.append(f"  rows {what}: {_fmt(self.set_aside)}")
        if self.links:
            lines.append(f"  guardian links {'removed' if self.action == 'undo' else 'added'}: "
                         f"{self.links}")  # fmt: skip
        swept = self.counts.get("swept", 0)
        if swept:
            late = dict(self._totals.swept_rows)
            aside = dict(self._totals.swept_set_aside)
            lines.append(
                f"  late history moved from {swept} merged archived students (journaled, "
                f"undone with their merge): {_fmt(late) or 'none'}"
                + (f"; set aside on collisions: {_fmt(aside)}" if aside else "")
            )
        if self.kept:
            lines.append(f"  rows written after the merge, kept on the synced student: "
                         f"{_fmt(self.kept)}")  # fmt: skip
        for kind, counts in self.account_counts.items():
            lines.append(
                f"  {_KIND_LABEL.get(kind, kind)}: "
                + ", ".join(f"{n} {s}" for s, n in counts.items())
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        refused: tuple[Status, ...] = ("stale", "conflict", "failed")
        notable = self.by_status(*refused)
        total = (
            len(notable)
            + sum(self.counts.get(status, 0) for status in refused)
            - sum(1 for o in self.outcomes if o.status in refused)
        )
        for o in notable[:limit]:
            lines.append(f"  {o.status}: {o.archived_id} -> {o.synced_id}: {o.reason}")
        if total > limit:
            lines.append(f"  ... {total - limit} more (see the report's outcomes)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "plan_fingerprint": self.plan_fingerprint,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "counts": self.counts,
            "rows": self.rows,
            "set_aside": self.set_aside,
            "links": self.links,
            "kept": self.kept,
            "warnings": list(self.warnings),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "account_counts": self.account_counts,
            "account_outcomes": [o.to_dict() for o in self.account_outcomes],
        } | ({"outcomes_omitted": self.omitted} if self.omitted else {})


def _fmt(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in counts.items())
