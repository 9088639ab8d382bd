"""The merge plan: a reviewable, deterministic JSON document.

A plan holds ids, levels and numbers only: no names, birth dates or
contact details, so it can be shared for review without spreading PII.
Its ``fingerprint`` covers both inputs, and each merge carries a short
hash of each student record, so a stale plan can be refused per merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from attrs import field, frozen

from ._evidence import FieldEvidence, bits, optional_bits, probability, to_tuple
from ._gc import gc_paused
from .exceptions import PlanError

__all__ = [
    "SCHEMA_VERSION",
    "FieldEvidence",
    "GuardianAction",
    "GuardianFold",
    "GuardianMerge",
    "Merge",
    "MergePlan",
    "RoleLink",
]

#: Version 2 adds the integrity digest and ``synced_guardians`` (hashes changed meaning).
SCHEMA_VERSION = 2
#: Versions read for showing and undoing; apply refuses a plan without a digest.
READABLE_VERSIONS = (1, 2)
Decision = Literal["auto", "review"]


@frozen
class Competitor:
    """Another candidate for one side of a merge, for the reviewer."""

    archived_id: str
    synced_id: str
    confidence: float = field(converter=probability)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archived_id": self.archived_id,
            "synced_id": self.synced_id,
            "confidence": self.confidence,
        }


@frozen
class Merge:
    """Merge archived student ``archived_id`` into synced student ``synced_id``.

    ``reasons`` say why a merge needs review (empty for ``auto``);
    ``duplicates`` lists the other archived records of the same child.
    """

    archived_id: str
    synced_id: str
    confidence: float = field(converter=probability)
    decision: Decision
    match_weight: float = field(converter=bits)
    margin_bits: float | None = field(converter=optional_bits)
    evidence: tuple[FieldEvidence, ...] = field(converter=to_tuple)
    reasons: tuple[str, ...] = field(default=(), converter=to_tuple)
    competitors: tuple[Competitor, ...] = field(default=(), converter=to_tuple)
    duplicates: tuple[str, ...] = field(default=(), converter=to_tuple)
    archived_hash: str = ""
    synced_hash: str = ""
    synced_guardians: tuple[str, ...] = field(default=(), converter=to_tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archived_id": self.archived_id,
            "synced_id": self.synced_id,
            "confidence": self.confidence,
            "decision": self.decision,
            "match_weight": self.match_weight,
            "margin_bits": self.margin_bits,
            "evidence": [e.to_dict() for e in self.evidence],
            "reasons": list(self.reasons),
            "competitors": [c.to_dict() for c in self.competitors],
            "duplicates": list(self.duplicates),
            "archived_hash": self.archived_hash,
            "synced_hash": self.synced_hash,
            "synced_guardians": list(self.synced_guardians),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Merge:
        margin = data.get("margin_bits")
        return cls(
            archived_id=str(data["archived_id"]),
            synced_id=str(data["synced_id"]),
            confidence=float(data["confidence"]),
            decision=_decision(data["decision"]),
            match_weight=float(data.get("match_weight", 0.0)),
            margin_bits=None if margin is None else float(margin),
            evidence=[
                FieldEvidence(e["comparison"], e["level"], float(e["bits"]))
                for e in data.get("evidence", [])
            ],
            reasons=[str(r) for r in data.get("reasons", [])],
            competitors=[
                Competitor(str(c["archived_id"]), str(c["synced_id"]), float(c["confidence"]))
                for c in data.get("competitors", [])
            ],
            duplicates=[str(d) for d in data.get("duplicates", [])],
            archived_hash=str(data.get("archived_hash", "")),
            synced_hash=str(data.get("synced_hash", "")),
            synced_guardians=[str(g) for g in data.get("synced_guardians", [])],
        )

    def __repr__(self) -> str:
        reasons = f", {len(self.reasons)} review reasons" if self.reasons else ""
        return (
            f"<Merge {self.archived_id} -> {self.synced_id} {self.decision} "
            f"confidence={self.confidence:.4f} weight={self.match_weight:+.1f} bits{reasons}>"
        )

    def _repr_html_(self) -> str:
        """Notebook view: ids, decision, confidence, reasons and the evidence waterfall."""
        from .views._notebook import merge_html  # noqa: PLC0415

        return merge_html(self)

    def explain(self) -> str:
        """A few readable lines: decision, confidence and each field's contribution."""
        lines = [
            f"{self.archived_id} -> {self.synced_id}: {self.decision} "
            f"(confidence {self.confidence:.4f}, {self.match_weight:+.1f} bits)"
        ]
        lines += [f"  {e.comparison:<12} {e.level:<16} {e.bits:+6.2f}" for e in self.evidence]
        lines += [f"  review: {r}" for r in self.reasons]
        return "\n".join(lines)


def _decision(value: object) -> Decision:
    if value == "auto":
        return "auto"
    if value == "review":
        return "review"
    raise PlanError(f"unknown decision {value!r}; expected 'auto' or 'review'")


ActionKind = Literal["keep", "flag", "detach", "review"]
LinkKind = Literal["staff_guardian", "guardian_guardian"]
Verdict = Literal["same_person", "possible"]


def _sorted(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Evidence sorted by field, as JSON with sorted keys reads it back."""
    return tuple(sorted(value))


@frozen
class GuardianMerge:
    """Merge the sync-created account into the old one (the guardian keeps the old login)."""

    archived_guardian_id: str
    synced_guardian_id: str
    confidence: float = field(converter=probability)
    decision: Decision
    evidence: tuple[FieldEvidence, ...] = field(converter=to_tuple)
    reasons: tuple[str, ...] = field(default=(), converter=to_tuple)
    students: tuple[tuple[str, str], ...] = field(default=(), converter=to_tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "archived_guardian_id": self.archived_guardian_id,
            "synced_guardian_id": self.synced_guardian_id,
            "confidence": self.confidence,
            "decision": self.decision,
            "evidence": [e.to_dict() for e in self.evidence],
            "reasons": list(self.reasons),
            "students": [list(pair) for pair in self.students],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianMerge:
        return cls(
            archived_guardian_id=str(data["archived_guardian_id"]),
            synced_guardian_id=str(data["synced_guardian_id"]),
            confidence=float(data["confidence"]),
            decision="auto" if data["decision"] == "auto" else "review",
            evidence=[FieldEvidence.from_dict(e) for e in data.get("evidence", [])],
            reasons=[str(r) for r in data.get("reasons", [])],
            students=[(str(a), str(b)) for a, b in data.get("students", [])],
        )


@frozen
class GuardianFold:
    """Fold a second old account of one adult into the first, the account a guardian merge keeps.

    An adult the old system knew twice (a second login made with a mistyped
    email, one per child) has two old accounts that each identify the same
    sync-created account ``synced_guardian_id``: the second one
    (``archived_guardian_id``) joins the first (``into_guardian_id``), so the
    adult ends with one account and all of their history. ``evidence`` is the
    second account's comparison with the sync account.
    """

    archived_guardian_id: str
    into_guardian_id: str
    synced_guardian_id: str
    confidence: float = field(converter=probability)
    decision: Decision
    evidence: tuple[FieldEvidence, ...] = field(converter=to_tuple)
    reasons: tuple[str, ...] = field(default=(), converter=to_tuple)
    students: tuple[tuple[str, str], ...] = field(default=(), converter=to_tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "archived_guardian_id": self.archived_guardian_id,
            "into_guardian_id": self.into_guardian_id,
            "synced_guardian_id": self.synced_guardian_id,
            "confidence": self.confidence,
            "decision": self.decision,
            "evidence": [e.to_dict() for e in self.evidence],
            "reasons": list(self.reasons),
            "students": [list(pair) for pair in self.students],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianFold:
        return cls(
            archived_guardian_id=str(data["archived_guardian_id"]),
            into_guardian_id=str(data["into_guardian_id"]),
            synced_guardian_id=str(data["synced_guardian_id"]),
            confidence=float(data["confidence"]),
            decision="auto" if data["decision"] == "auto" else "review",
            evidence=[FieldEvidence.from_dict(e) for e in data.get("evidence", [])],
            reasons=[str(r) for r in data.get("reasons", [])],
            students=[(str(a), str(b)) for a, b in data.get("students", [])],
        )


@frozen
class GuardianAction:
    """What happens to an old guardian link of a merged student under the district's policy."""

    action: ActionKind
    guardian_id: str
    student_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "guardian_id": self.guardian_id,
            "student_id": self.student_id,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianAction:
        action = str(data["action"])
        if action not in ("keep", "flag", "detach", "review"):
            raise ValueError(f"unknown guardian action {action!r}")
        return cls(action, str(data["guardian_id"]), str(data["student_id"]), str(data["reason"]))  # type: ignore[arg-type]


@frozen
class RoleLink:
    """Two accounts that belong to one adult, with the fields that differ between them."""

    kind: LinkKind
    first_id: str
    second_id: str
    verdict: Verdict
    evidence: tuple[tuple[str, str], ...] = field(converter=_sorted)  # (field, level)
    differs: tuple[str, ...] = field(converter=to_tuple)
    action: Literal["report", "keep_apart", "link", "merge", "review"] = "report"

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "first_id": self.first_id,
            "second_id": self.second_id,
            "verdict": self.verdict,
            "evidence": dict(self.evidence),
            "differs": list(self.differs),
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoleLink:
        kind = str(data["kind"])
        verdict = str(data["verdict"])
        if kind not in ("staff_guardian", "guardian_guardian") or verdict not in (
            "same_person",
            "possible",
        ):
            raise ValueError("unknown role link kind or verdict")
        return cls(
            kind,  # type: ignore[arg-type]
            str(data["first_id"]),
            str(data["second_id"]),
            verdict,  # type: ignore[arg-type]
            [(str(k), str(v)) for k, v in dict(data.get("evidence", {})).items()],
            [str(x) for x in data.get("differs", [])],
            str(data.get("action", "report")),  # type: ignore[arg-type]
        )


def merge_row(m: Merge) -> dict[str, Any]:
    """A merge's ids, decision, confidence, weight, margin and reasons as one flat row."""
    return {
        "archived_id": m.archived_id,
        "synced_id": m.synced_id,
        "decision": m.decision,
        "confidence": m.confidence,
        "match_weight": m.match_weight,
        "margin_bits": m.margin_bits,
        "reasons": "; ".join(m.reasons),
    }


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "fingerprint": dict(self.fingerprint),
            "settings": dict(self.settings),
            "model": dict(self.model),
            "stats": dict(self.stats),
            "summary": {
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
            },
            "merges": [m.to_dict() for m in self.merges],
            "unmatched_archived": list(self.unmatched_archived),
            "unmatched_synced": list(self.unmatched_synced),
            "warnings": list(self.warnings),
            "guardian_merges": [g.to_dict() for g in self.guardian_merges],
            "guardian_actions": [a.to_dict() for a in self.guardian_actions],
            "multiple_role_users": [r.to_dict() for r in self.role_links],
            "guardian_folds": [f.to_dict() for f in self.guardian_folds],
        }

    def to_json(self) -> str:
        """Deterministic JSON: same inputs and settings give the same bytes.

        The text ends with an integrity ``digest`` over everything before it,
        so a plan edited by hand is refused by apply (see :meth:`from_dict`).
        """
        body, tail = self._encoded()
        return (body[:-1] + tail).decode("utf-8")

    def _encoded(self) -> tuple[bytes, bytes]:
        """The canonical body (its closing brace is replaced by the tail) and the tail: the
        digest that closes the document."""
        body = _canonical(self.to_dict()).encode("utf-8")
        return body, f',"digest":"{_digest(body)}"}}\n'.encode()

    def write(self, path: str | Path) -> None:
        """Write the plan atomically (a temporary file renamed into place)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        with gc_paused():
            body, tail = self._encoded()
        with tmp.open("wb") as out:
            out.write(memoryview(body)[:-1])
            out.write(tail)
        del body
        tmp.replace(target)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergePlan:
        """A plan from its JSON form, checking the integrity digest when there is one.

        A plan whose ``digest`` does not match its content was edited by hand
        and raises :class:`PlanError`; one without a digest (written by an
        older version, or with the digest deleted) is read with
        ``verified=False``, and apply refuses it.
        """
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise PlanError(
                f"plan schema version {version!r} is not supported (expected {SCHEMA_VERSION}); "
                "re-create the plan with this version of merge-engine"
            )
        content = {k: v for k, v in data.items() if k != "digest"}
        digest = data.get("digest")
        if digest is not None and digest != _digest(_canonical(content).encode("utf-8")):
            raise PlanError(
                "the plan was changed after it was written (its integrity digest does not "
                "match): approve review merges with an approval file (apply --approve) instead "
                "of editing the plan, or re-create it with `merge-engine plan`"
            )
        try:
            return cls(
                merges=_entries(data, "merges", Merge.from_dict),
                unmatched_archived=[str(x) for x in data.get("unmatched_archived", [])],
                unmatched_synced=[str(x) for x in data.get("unmatched_synced", [])],
                warnings=list(data.get("warnings", [])),
                settings=dict(data.get("settings", {})),
                model=dict(data.get("model", {})),
                stats=dict(data.get("stats", {})),
                fingerprint={str(k): str(v) for k, v in data.get("fingerprint", {}).items()},
                schema_version=int(version),
                guardian_merges=_entries(data, "guardian_merges", GuardianMerge.from_dict),
                guardian_actions=_entries(data, "guardian_actions", GuardianAction.from_dict),
                role_links=_entries(data, "multiple_role_users", RoleLink.from_dict),
                guardian_folds=_entries(data, "guardian_folds", GuardianFold.from_dict),
                verified=digest is not None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, PlanError):
                raise
            raise PlanError(
                f"malformed plan: {exc!r}; re-create it with `merge-engine plan`"
            ) from exc

    @classmethod
    def read(cls, path: str | Path) -> MergePlan:
        """Read a plan written by :meth:`write` (see :meth:`from_dict` for the digest)."""
        try:
            with gc_paused():
                data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(f"{path}: cannot read plan ({exc.strerror})") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PlanError(f"{path}: not a JSON plan ({exc})") from exc
        if not isinstance(data, dict):
            raise PlanError(f"{path}: not a JSON plan object")
        try:
            with gc_paused():
                return cls.from_dict(data)
        except PlanError as exc:
            raise PlanError(f"{path}: {exc}") from exc


def _canonical(data: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace: deterministic, and written by json's C encoder (an
    indented dump of a 150,000-merge plan takes five times as long)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(canonical: bytes) -> str:
    """The integrity digest of a plan's canonical UTF-8 text (without the digest itself)."""
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


_T = TypeVar("_T")


def _entries(
    data: Mapping[str, Any], key: str, parse: Callable[[Mapping[str, Any]], _T]
) -> list[_T]:
    """Parse the list ``data[key]``, naming the entry and the key that is wrong."""
    items = data.get(key, [] if key != "merges" else None)
    if not isinstance(items, list):
        raise PlanError(
            f"malformed plan: {key!r} must be a list; re-create it with `merge-engine plan`"
        )
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise PlanError(
                f"malformed plan: {key}[{i}] is {_kind(item)}, not an object; "
                "re-create the plan with `merge-engine plan`"
            )
        try:
            out.append(parse(item))
        except PlanError as exc:
            raise PlanError(f"malformed plan: {key}[{i}]: {exc}") from exc
        except KeyError as exc:
            raise PlanError(
                f"malformed plan: {key}[{i}] has no {exc.args[0]!r}; "
                "re-create the plan with `merge-engine plan`"
            ) from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise PlanError(
                f"malformed plan: {key}[{i}] has a value of the wrong type ({type(exc).__name__}); "
                "re-create the plan with `merge-engine plan`"
            ) from exc
    return out


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
