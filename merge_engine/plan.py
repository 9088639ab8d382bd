"""The merge plan: a reviewable, deterministic JSON document.

A plan holds ids, levels and numbers only: no names, birth dates or
contact details, so it can be shared for review without spreading PII.
Its ``fingerprint`` covers both inputs, and each merge carries a short
hash of each student record, so a stale plan can be refused per merge.
The file format (one row per line, read as a stream) is in
:mod:`._plan_codec` and :mod:`._plan_format`; :class:`~merge_engine.plan_file.PlanFile`
streams a plan file without loading it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from ._evidence import FieldEvidence, to_tuple
from ._gc import gc_paused
from ._plan_accounts import (
    ActionKind,
    GuardianAction,
    GuardianFold,
    GuardianMerge,
    LinkKind,
    RoleLink,
    Verdict,
)
from ._plan_codec import (
    CHANGED,
    LAYOUT,
    RECREATE,
    SCHEMA_VERSION,
    decode_fields,
    legacy_fields,
    read_document,
    write_plan,
)
from ._plan_format import ScannedPlan, canonical_digest, legacy_digest
from ._plan_merge import Competitor, Decision, Merge, merge_row
from .exceptions import PlanError

__all__ = [
    "APPLICABLE_VERSION",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "ActionKind",
    "Competitor",
    "Decision",
    "FieldEvidence",
    "GuardianAction",
    "GuardianFold",
    "GuardianMerge",
    "LinkKind",
    "Merge",
    "MergePlan",
    "RoleLink",
    "Verdict",
    "merge_row",
    "write_plan",
]

#: Versions read (for showing, applying and undoing): 1 and 2 are single documents.
READABLE_VERSIONS = (1, 2, 3)
#: The oldest version apply accepts: version 1 plans hash records differently.
APPLICABLE_VERSION = 2


@frozen
class MergePlan:
    """Everything the planner decided, and how: read-only, serialisable."""

    merges: tuple[Merge, ...] = field(converter=to_tuple)
    unmatched_archived: tuple[str, ...] = field(converter=to_tuple)
    unmatched_synced: tuple[str, ...] = field(converter=to_tuple)
    warnings: tuple[dict[str, Any], ...] = field(converter=to_tuple)
    settings: Mapping[str, Any]
    model: Mapping[str, Any]
    stats: Mapping[str, Any]
    fingerprint: Mapping[str, str]
    schema_version: int = SCHEMA_VERSION
    guardian_merges: tuple[GuardianMerge, ...] = field(default=(), converter=to_tuple)
    guardian_actions: tuple[GuardianAction, ...] = field(default=(), converter=to_tuple)
    role_links: tuple[RoleLink, ...] = field(default=(), converter=to_tuple)
    guardian_folds: tuple[GuardianFold, ...] = field(default=(), converter=to_tuple)
    #: False for a plan read without an integrity digest: apply refuses it.
    verified: bool = field(default=True, eq=False, repr=False)
    #: True for a plan read for its review items only (some auto merges left out):
    #: neither written nor applied (see :meth:`merge_engine.plan_file.PlanFile.for_review`).
    partial: bool = field(default=False, eq=False, repr=False)

    @property
    def auto(self) -> tuple[Merge, ...]:
        return tuple(m for m in self.merges if m.decision == "auto")

    @property
    def review(self) -> tuple[Merge, ...]:
        return tuple(m for m in self.merges if m.decision == "review")

    def __repr__(self) -> str:
        return (
            f"<MergePlan {len(self.merges)} merges ({len(self.auto)} auto, "
            f"{len(self.review)} for review), {len(self.unmatched_archived)} archived and "
            f"{len(self.unmatched_synced)} synced unmatched, {len(self.warnings)} warnings>"
        )

    def _repr_html_(self) -> str:
        """Notebook view: counts and the first review merges (ids only: a plan holds no names)."""
        from .views._notebook import plan_html  # noqa: PLC0415

        return plan_html(self)

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per merge, with ``<comparison>_level`` and
        ``<comparison>_bits`` columns (needs the ``pandas`` extra)."""
        from .views._notebook import plan_to_pandas  # noqa: PLC0415

        return plan_to_pandas(self)

    def graph(self) -> Any:
        """The scored bipartite graph as a :class:`networkx.Graph` (see
        :func:`merge_engine.views._notebook.plan_graph`)."""
        from .views._notebook import plan_graph  # noqa: PLC0415

        return plan_graph(self)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per merge (for a DataFrame or a CSV review sheet)."""
        rows = []
        for m in self.merges:
            row = merge_row(m)
            for e in m.evidence:
                row[e.comparison] = e.level
            rows.append(row)
        return rows

    def summary(self) -> dict[str, int]:
        """The counts of each list (the plan file's ``summary``)."""
        return {
            "merges": len(self.merges),
            "auto": len(self.auto),
            "review": len(self.review),
            "unmatched_archived": len(self.unmatched_archived),
            "unmatched_synced": len(self.unmatched_synced),
            "guardian_merges": len(self.guardian_merges),
            "guardian_merges_auto": sum(g.decision == "auto" for g in self.guardian_merges),
            "guardian_actions": len(self.guardian_actions),
            "multiple_role_users": len(self.role_links),
            "guardian_folds": len(self.guardian_folds),
        }

    def to_dict(self) -> dict[str, Any]:
        """The plan file's JSON document (without its digest): see ``docs/plan.md``."""
        data: dict[str, Any] = json.loads(self.to_json())
        del data["digest"]
        return data

    def to_json(self) -> str:
        """The plan file's text: deterministic (same inputs and settings, same bytes).

        The text ends with an integrity ``digest`` over everything before it,
        so a plan edited by hand is refused by apply (see :meth:`from_dict`).
        """
        return self._write(None)

    def write(self, path: str | Path) -> None:
        """Write the plan as it is encoded, atomically (a temporary file renamed into place);
        gzip-compressed when the name ends in ``.gz``."""
        self._write(path)

    def _write(self, path: str | Path | None) -> str:
        if self.partial:
            raise PlanError("a partial plan (read for its review items) cannot be written")
        return write_plan(
            path,
            fingerprint=self.fingerprint,
            settings=self.settings,
            model=self.model,
            stats=self.stats,
            merges=self.merges,
            guardian_merges=self.guardian_merges,
            guardian_actions=self.guardian_actions,
            role_links=self.role_links,
            guardian_folds=self.guardian_folds,
            unmatched_archived=self.unmatched_archived,
            unmatched_synced=self.unmatched_synced,
            warnings=self.warnings,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergePlan:
        """A plan from its JSON document, checking the integrity digest when there is one.

        A plan whose ``digest`` does not match its content was edited by hand
        and raises :class:`PlanError`; one without a digest (written by an
        older version, or with the digest deleted) is read with
        ``verified=False``, and apply refuses it. The digest covers the
        content, not the layout: a document re-indented by a JSON tool reads
        the same.
        """
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise PlanError(
                f"plan schema version {version!r} is not supported (expected {SCHEMA_VERSION}); "
                "re-create the plan with this version of merge-engine"
            )
        digest = data.get("digest")
        if version != SCHEMA_VERSION:
            content = {k: v for k, v in data.items() if k != "digest"}
            if digest is not None and digest != legacy_digest(content):
                raise PlanError(CHANGED)
            return cls(**legacy_fields(data, int(version)), verified=digest is not None)
        unknown = sorted(set(data) - {k for k, _ in LAYOUT} - {"schema_version", "digest"})
        if unknown:
            raise PlanError(f"malformed plan: unknown key {unknown[0]!r}; {RECREATE}")
        if digest is not None and digest != canonical_digest(data, LAYOUT):
            raise PlanError(CHANGED)

        def rows(section: str) -> Iterable[Any]:
            items = data.get(section, [])
            if not isinstance(items, list):
                raise PlanError(f"malformed plan: {section!r} must be a list; {RECREATE}")
            return items

        return cls(**decode_fields(data, rows), verified=digest is not None)

    @classmethod
    def read(cls, path: str | Path) -> MergePlan:
        """Read a plan file, whole (see :meth:`from_dict` for the digest; :meth:`open`
        streams it instead)."""
        try:
            text = ScannedPlan.scan(path)
            if text is None:  # an older version, or rewritten by a JSON tool
                return cls.from_dict(read_document(path))
            if not text.digest_ok:
                raise PlanError(CHANGED)
            with gc_paused():
                return cls(**decode_fields(text.members, text.rows))
        except PlanError as exc:
            if str(exc).startswith(f"{path}:"):
                raise
            raise PlanError(f"{path}: {exc}") from exc
