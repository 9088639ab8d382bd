"""A plan file read as a stream: its header at once, its rows one at a time.

``MergePlan.read`` builds every merge of a plan in memory; a district of a
million students makes a plan that needs gigabytes that way. A
:class:`PlanFile` reads the file once when opened (hashing it to check the
integrity digest, parsing only the small members), then each section on
demand, one row at a time: ``show``, ``apply``, ``undo`` and the review
export work through it in constant memory. Plans of schema versions 1
and 2, and version-3 files rewritten by a JSON tool, are read whole and
served the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._plan_codec import CHANGED, Decoder, read_document
from ._plan_format import ScannedPlan
from .exceptions import PlanError
from .plan import GuardianAction, GuardianFold, GuardianMerge, Merge, MergePlan, RoleLink

__all__ = ["PlanFile", "shared_targets"]


def shared_targets(merges: Iterable[Merge]) -> dict[str, tuple[str, ...]]:
    """Archived ids per synced id, for the synced students that more than one merge targets."""
    groups: dict[str, list[str]] = {}
    for m in merges:
        groups.setdefault(m.synced_id, []).append(m.archived_id)
    return {s: tuple(ids) for s, ids in groups.items() if len(ids) > 1}


class PlanFile:
    """A plan on disk: the header values of :class:`~merge_engine.MergePlan`, and its
    lists as iterators that read the file again each time (nothing is kept).

    Open one with :meth:`open`; :meth:`read` loads the whole plan instead.
    A file whose digest does not match raises :class:`~merge_engine.PlanError`
    when opened; one without a digest opens with ``verified`` false (apply
    refuses it).
    """

    def __init__(self, path: Path, text: ScannedPlan | None, plan: MergePlan | None) -> None:
        self.path = path
        self._text = text
        self._plan = plan
        self._review: MergePlan | None = None  # for_review, made once
        members: Mapping[str, Any] = text.members if text is not None else {}
        if plan is not None:
            self.schema_version = plan.schema_version
            self.fingerprint: Mapping[str, str] = plan.fingerprint
            self.settings: Mapping[str, Any] = plan.settings
            self.model: Mapping[str, Any] = plan.model
            self.stats: Mapping[str, Any] = plan.stats
            self.verified = plan.verified
            self._summary = plan.summary()
            self._decoder: Decoder | None = None
        else:
            assert text is not None
            self._decoder = Decoder(members, text.rows)
            self.schema_version = int(members["schema_version"])
            self.fingerprint = {
                str(k): str(v) for k, v in self._decoder.mapping("fingerprint").items()
            }
            self.settings = self._decoder.mapping("settings")
            self.model = self._decoder.mapping("model")
            self.stats = self._decoder.mapping("stats")
            self.verified = True
            self._summary = {str(k): int(v) for k, v in self._decoder.mapping("summary").items()}

    @classmethod
    def open(cls, path: str | Path) -> PlanFile:
        """Open a plan file of any readable version (gzip-compressed or not)."""
        try:
            text = ScannedPlan.scan(path)
            if text is None:
                return cls(Path(path), None, MergePlan.from_dict(read_document(path)))
            if not text.digest_ok:
                raise PlanError(CHANGED)
            return cls(Path(path), text, None)
        except PlanError as exc:
            if str(exc).startswith(f"{path}:"):
                raise
            raise PlanError(f"{path}: {exc}") from exc

    # -- Counts ----------------------------------------------------------------------------

    def summary(self) -> dict[str, int]:
        """The counts of each list (``merges``, ``auto``, ``review``, ``unmatched_archived``...)."""
        return dict(self._summary)

    def __repr__(self) -> str:
        s = self._summary
        warnings = self._count("warnings")
        return (
            f"<MergePlan {s['merges']} merges ({s['auto']} auto, {s['review']} for review), "
            f"{s['unmatched_archived']} archived and {s['unmatched_synced']} synced unmatched, "
            f"{warnings} warnings>"
        )

    def _count(self, section: str) -> int:
        if self._text is not None:
            return self._text.counts.get(section, 0)
        assert self._plan is not None
        return len(self._plan.warnings)

    # -- Sections --------------------------------------------------------------------------

    def _rows(self, section: str) -> Iterator[Any]:
        assert self._text is not None
        return self._text.rows(section)

    def iter_merges(self) -> Iterator[Merge]:
        """Every merge, in plan order (by archived id)."""
        if self._decoder is None:
            return iter(self._whole.merges)
        return self._decoder.merges(self._rows("merges"))

    def iter_merges_where(self, keep: Callable[[str, str], bool]) -> Iterator[Merge]:
        """The merges for which ``keep(archived_id, decision)`` is true; the others are not
        built (a cheap pass over a large plan)."""
        if self._decoder is None:
            return (m for m in self._whole.merges if keep(m.archived_id, m.decision))
        a, d = Merge.COLUMNS.index("archived_id"), Merge.COLUMNS.index("decision")
        return self._decoder.merges(self._rows("merges"), lambda row: keep(row[a], row[d]))

    def iter_merges_backwards(self) -> Iterator[Merge]:
        """Every merge, last first (for undo, which goes newest first)."""
        if self._decoder is None:
            return reversed(self._whole.merges)
        assert self._text is not None
        return self._decoder.merges(self._text.rows_backwards("merges"))

    def iter_guardian_merges(self) -> Iterator[GuardianMerge]:
        if self._decoder is None:
            return iter(self._whole.guardian_merges)
        return self._decoder.guardian_merges(self._rows("guardian_merges"))

    def iter_guardian_merges_where(self, keep: Callable[[str], bool]) -> Iterator[GuardianMerge]:
        """The guardian merges whose decision ``keep`` accepts; the others are not built."""
        if self._decoder is None:
            return (g for g in self._whole.guardian_merges if keep(g.decision))
        d = GuardianMerge.COLUMNS.index("decision")
        return self._decoder.guardian_merges(self._rows("guardian_merges"), lambda r: keep(r[d]))

    def iter_guardian_actions(self) -> Iterator[GuardianAction]:
        if self._decoder is None:
            return iter(self._whole.guardian_actions)
        return self._decoder.guardian_actions(self._rows("guardian_actions"))

    def iter_role_links(self) -> Iterator[RoleLink]:
        if self._decoder is None:
            return iter(self._whole.role_links)
        return self._decoder.role_links(self._rows("multiple_role_users"))

    def iter_guardian_folds(self) -> Iterator[GuardianFold]:
        if self._decoder is None:
            return iter(self._whole.guardian_folds)
        return self._decoder.guardian_folds(self._rows("guardian_folds"))

    def iter_unmatched(self, side: str) -> Iterator[str]:
        """The ``archived`` or ``synced`` ids that take part in no merge."""
        if self._decoder is None:
            return iter(getattr(self._whole, f"unmatched_{side}"))
        return self._decoder.ids(f"unmatched_{side}", self._rows(f"unmatched_{side}"))

    def warnings(self) -> list[dict[str, Any]]:
        """The input warnings and planner notes (a short list)."""
        if self._decoder is None:
            return [dict(w) for w in self._whole.warnings]
        return list(self._decoder.warnings(self._rows("warnings")))

    def shared_targets(self) -> dict[str, tuple[str, ...]]:
        """The synced students more than one merge targets, with those merges' archived ids."""
        if self._decoder is None:
            return shared_targets(self._whole.merges)
        return dict(self._decoder.shared_targets(self._rows("shared_targets")))

    @property
    def _whole(self) -> MergePlan:
        assert self._plan is not None
        return self._plan

    # -- Whole plans -----------------------------------------------------------------------

    def read(self) -> MergePlan:
        """The whole plan in memory."""
        if self._plan is not None:
            return self._plan
        assert self._text is not None
        return MergePlan.read(self.path)

    def for_review(self) -> MergePlan:
        """The plan without what no review decision reads (``partial``).

        It holds the review merges, the merges into a synced student that
        another merge targets too, the merges whose students a review account
        step or a guardian action names, the guardian merges and folds left to
        review (not the auto ones: about one per merged student), and every
        guardian action and multiple-role link (a few per hundred students):
        all that review items and approvals read, in memory for a few thousand
        merges where the whole plan holds millions. Apply and undo read the
        auto account steps from the file as they run them.
        """
        if self._plan is not None:
            return self._plan
        if self._review is not None:
            return self._review
        guardian_merges = list(self.iter_guardian_merges_where(lambda d: d != "auto"))
        actions = list(self.iter_guardian_actions())
        folds = [f for f in self.iter_guardian_folds() if f.decision != "auto"]
        wanted = {a for ids in self.shared_targets().values() for a in ids}
        wanted |= {a for g in guardian_merges for a, _ in g.students}
        wanted |= {a for f in folds for a, _ in f.students}
        wanted |= {a.student_id for a in actions}
        kept = self.iter_merges_where(lambda a, decision: decision == "review" or a in wanted)
        self._review = MergePlan(
            merges=kept,
            unmatched_archived=(),
            unmatched_synced=(),
            warnings=self.warnings(),
            settings=self.settings,
            model=self.model,
            stats=self.stats,
            fingerprint=self.fingerprint,
            schema_version=self.schema_version,
            guardian_merges=guardian_merges,
            guardian_actions=actions,
            role_links=list(self.iter_role_links()),
            guardian_folds=folds,
            verified=self.verified,
            partial=True,
        )
        return self._review
