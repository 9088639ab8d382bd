"""What apply and undo read of a plan, whether it is in memory or streamed from its file.

A :class:`~merge_engine.plan.MergePlan` holds every merge; a
:class:`~merge_engine.plan_file.PlanFile` gives them one at a time. Apply
and undo read merges through :class:`PlanSource` and keep only what a batch
needs, so a plan of a million merges is applied in the memory of one batch.
The review part of a plan (review merges, review account steps and the
merges they rest on) is small and is held whole; the account steps are
made from the file's sections as they are run (:meth:`PlanSource.step_parts`).
:class:`Outcomes` counts what happened to each merge and keeps all outcomes,
or only the notable ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..plan import Merge, MergePlan
from ..plan_file import PlanFile, shared_targets
from ._account_steps import StepParts, role_policy
from ._applying import plan_fingerprint
from ._report import ApplyReport, MergeOutcome, Tally

__all__ = ["MAX_KEPT", "NOTABLE", "Outcomes", "PlanSource"]

#: Outcomes kept in a report that does not keep them all (the rest are counted).
NOTABLE = frozenset({"stale", "conflict", "failed", "swept"})
MAX_KEPT = 10_000


class PlanSource:
    """A plan as apply and undo read it: header values, merges as iterators, the review part."""

    def __init__(self, plan: MergePlan | PlanFile) -> None:
        self.plan = plan
        self.fingerprint = plan_fingerprint(plan)
        self.verified = plan.verified
        self.schema_version = plan.schema_version
        self.stats: Mapping[str, Any] = plan.stats
        self._review: MergePlan | None = plan if isinstance(plan, MergePlan) else None
        self._shared: dict[str, tuple[str, ...]] | None = None

    @property
    def in_memory(self) -> bool:
        return isinstance(self.plan, MergePlan)

    def merges(self) -> Iterator[Merge]:
        """Every merge, in plan order."""
        if isinstance(self.plan, MergePlan):
            return iter(self.plan.merges)
        return self.plan.iter_merges()

    def merges_backwards(self) -> Iterator[Merge]:
        if isinstance(self.plan, MergePlan):
            return reversed(self.plan.merges)
        return self.plan.iter_merges_backwards()

    def merges_where(self, keep: Callable[[str, str], bool]) -> Iterator[Merge]:
        """The merges for which ``keep(archived_id, decision)`` holds (others are not built)."""
        if isinstance(self.plan, MergePlan):
            return (m for m in self.plan.merges if keep(m.archived_id, m.decision))
        return self.plan.iter_merges_where(keep)

    @property
    def review_part(self) -> MergePlan:
        """The review merges, the review account steps and the merges they rest on (see
        :meth:`~merge_engine.plan_file.PlanFile.for_review`): the whole plan when in memory."""
        if self._review is None:
            assert isinstance(self.plan, PlanFile)
            self._review = self.plan.for_review()
        return self._review

    def step_parts(self) -> StepParts:
        """What the account steps are made from; the guardian merges and role links of a
        plan file are read from it as the steps are taken (call again for another pass)."""
        plan = self.plan
        if isinstance(plan, MergePlan):
            return StepParts.of(plan)
        review = self.review_part  # holds the merges of every student a guardian action names
        return StepParts(
            plan.iter_guardian_merges(),
            list(plan.iter_guardian_folds()),
            plan.iter_role_links(),
            review.guardian_actions,
            {m.archived_id: m.synced_id for m in review.merges},
            role_policy(plan.settings),
        )

    @property
    def shared(self) -> Mapping[str, tuple[str, ...]]:
        """Archived ids per synced id that more than one merge targets (siblings)."""
        if self._shared is None:
            if isinstance(self.plan, MergePlan):
                self._shared = shared_targets(self.plan.merges)
            else:
                self._shared = self.plan.shared_targets()
        return self._shared

    def count(self, key: str) -> int:
        """A count of the plan's summary: ``merges``, ``auto``, ``review``..."""
        return int(self.plan.summary()[key])

    def planned(self) -> tuple[int, int]:
        """The archived and synced students the plan was made from (from its stats; counted
        from its ids for a plan without them)."""
        archived = int(self.stats.get("archived_students", 0))
        synced = int(self.stats.get("synced_students", 0))
        if archived and synced:
            return archived, synced
        merged_a: set[str] = set()
        merged_s: set[str] = set()
        for m in self.merges():
            merged_a.add(m.archived_id)
            merged_s.add(m.synced_id)
        plan = self.plan
        if isinstance(plan, MergePlan):
            lone_a, lone_s = set(plan.unmatched_archived), set(plan.unmatched_synced)
        else:
            lone_a = set(plan.iter_unmatched("archived"))
            lone_s = set(plan.iter_unmatched("synced"))
        return archived or len(merged_a | lone_a), synced or len(merged_s | lone_s)


class Outcomes:
    """The student outcomes of an apply or undo: added up, passed on, and kept (all of them,
    or the notable ones, at most :data:`MAX_KEPT`)."""

    def __init__(
        self, *, keep_all: bool, on_outcome: Callable[[MergeOutcome], None] | None = None
    ) -> None:
        self.keep_all = keep_all
        self.on_outcome = on_outcome
        self.tally = Tally()
        self.kept: list[MergeOutcome] = []
        self.omitted = 0

    def add(self, outcomes: Iterable[MergeOutcome]) -> None:
        for o in outcomes:
            self.tally.add(o)
            if self.on_outcome is not None:
                self.on_outcome(o)
            if self.keep_all or (o.status in NOTABLE and len(self.kept) < MAX_KEPT):
                self.kept.append(o)
            else:
                self.omitted += 1

    def report(
        self,
        action: str,
        fingerprint: str,
        *,
        dry_run: bool,
        warnings: Sequence[str],
        seconds: float,
        account_outcomes: Sequence[MergeOutcome],
    ) -> ApplyReport:
        return ApplyReport(
            "apply" if action == "apply" else "undo",
            fingerprint,
            self.kept,
            dry_run,
            warnings,
            seconds,
            account_outcomes=account_outcomes,
            totals=self.tally.totals(),
            omitted=self.omitted,
        )
