"""The account decisions of a plan: guardian merges and folds, old-guardian actions, roles.

Frozen values like the student merges (:mod:`merge_engine.plan` re-exports
them), each with its plan-file row: a list in the order of its ``COLUMNS``,
evidence as indices into the plan's evidence table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from attrs import field, fields, frozen

from ._evidence import FieldEvidence, probability, to_tuple

__all__ = [
    "ActionKind",
    "GuardianAction",
    "GuardianFold",
    "GuardianMerge",
    "LinkKind",
    "RoleLink",
    "Verdict",
]

Decision = Literal["auto", "review"]

ActionKind = Literal["keep", "flag", "detach", "review"]
LinkKind = Literal["staff_guardian", "guardian_guardian"]
Verdict = Literal["same_person", "possible"]


def _sorted(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Evidence sorted by field, as JSON with sorted keys reads it back."""
    return tuple(sorted(value))


def _decided_dict(v: GuardianMerge | GuardianFold) -> dict[str, object]:
    """The keys a guardian merge and a fold share, after their ids."""
    return {
        "confidence": v.confidence,
        "decision": v.decision,
        "evidence": [e.to_dict() for e in v.evidence],
        "reasons": list(v.reasons),
        "students": [list(pair) for pair in v.students],
    }


def _decided_row(
    v: GuardianMerge | GuardianFold, index: Callable[[Sequence[FieldEvidence]], list[int]]
) -> list[Any]:
    """The plan-file columns a guardian merge and a fold share, after their ids."""
    return [
        v.decision, v.confidence, index(v.evidence), list(v.reasons), list(map(list, v.students)),
    ]  # fmt: skip


def _decided_from_row(tail: Sequence[Any], evidence: Sequence[FieldEvidence]) -> dict[str, Any]:
    decision, confidence, used, reasons, students = tail
    return {
        "confidence": float(confidence),
        "decision": "auto" if decision == "auto" else "review",
        "evidence": [evidence[i] for i in used],
        "reasons": [str(r) for r in reasons],
        "students": [(str(x), str(y)) for x, y in students],
    }


def _decided_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "confidence": float(data["confidence"]),
        "decision": "auto" if data["decision"] == "auto" else "review",
        "evidence": [FieldEvidence.from_dict(e) for e in data.get("evidence", [])],
        "reasons": [str(r) for r in data.get("reasons", [])],
        "students": [(str(a), str(b)) for a, b in data.get("students", [])],
    }


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
            **_decided_dict(self),
        }

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "archived_guardian_id", "synced_guardian_id", "decision", "confidence", "evidence",
        "reasons", "students",
    )  # fmt: skip

    def to_row(self, index: Callable[[Sequence[FieldEvidence]], list[int]]) -> list[Any]:
        """The plan-file row (``COLUMNS``); ``index`` numbers the evidence in the plan's
        table."""
        # The columns of _decided_row, inline: a district writes a hundred thousand rows.
        return [
            self.archived_guardian_id, self.synced_guardian_id, self.decision, self.confidence,
            index(self.evidence), list(self.reasons), list(map(list, self.students)),
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any], evidence: Sequence[FieldEvidence]) -> GuardianMerge:
        return cls(str(row[0]), str(row[1]), **_decided_from_row(row[2:], evidence))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianMerge:
        return cls(
            archived_guardian_id=str(data["archived_guardian_id"]),
            synced_guardian_id=str(data["synced_guardian_id"]),
            **_decided_from_dict(data),
        )


_NEW = object.__new__
# The slots of a GuardianMerge, set directly (see trusted_merge).
_SLOTS = [GuardianMerge.__dict__[f.name].__set__ for f in fields(GuardianMerge)]
_SET_ARCHIVED, _SET_SYNCED, _SET_CONFIDENCE, _SET_DECISION = _SLOTS[:4]
_SET_EVIDENCE, _SET_REASONS, _SET_STUDENTS = _SLOTS[4:]


def trusted_merge(
    archived_guardian_id: str,
    synced_guardian_id: str,
    confidence: float,
    decision: Decision,
    evidence: tuple[FieldEvidence, ...],
    reasons: tuple[str, ...],
    students: tuple[tuple[str, str], ...],
) -> GuardianMerge:
    """A :class:`GuardianMerge` of values already as it keeps them: ``confidence`` rounded
    by :func:`~merge_engine._evidence.probability`, the rest tuples.

    No converter runs: a district's hundred thousand guardian merges share a
    few decisions, each converted once by the caller, and the converters
    were most of the cost of making the merges.
    """
    merge: GuardianMerge = _NEW(GuardianMerge)
    _SET_ARCHIVED(merge, archived_guardian_id)
    _SET_SYNCED(merge, synced_guardian_id)
    _SET_CONFIDENCE(merge, confidence)
    _SET_DECISION(merge, decision)
    _SET_EVIDENCE(merge, evidence)
    _SET_REASONS(merge, reasons)
    _SET_STUDENTS(merge, students)
    return merge


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

    COLUMNS: ClassVar[tuple[str, ...]] = ("action", "guardian_id", "student_id", "reason")

    def to_row(self) -> list[str]:
        return [self.action, self.guardian_id, self.student_id, self.reason]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> GuardianAction:
        action, guardian_id, student_id, reason = row
        return cls.from_dict(
            {"action": action, "guardian_id": guardian_id, "student_id": student_id,
             "reason": reason}
        )  # fmt: skip

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

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "kind", "first_id", "second_id", "verdict", "action", "evidence", "differs",
    )  # fmt: skip

    def to_row(self) -> list[Any]:
        return [
            self.kind, self.first_id, self.second_id, self.verdict, self.action,
            dict(self.evidence), list(self.differs),
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RoleLink:
        kind, first_id, second_id, verdict, action, evidence, differs = row
        return cls.from_dict(
            {"kind": kind, "first_id": first_id, "second_id": second_id, "verdict": verdict,
             "action": action, "evidence": evidence, "differs": differs}
        )  # fmt: skip

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

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "archived_guardian_id", "into_guardian_id", "synced_guardian_id", "decision",
        "confidence", "evidence", "reasons", "students",
    )  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return {
            "archived_guardian_id": self.archived_guardian_id,
            "into_guardian_id": self.into_guardian_id,
            "synced_guardian_id": self.synced_guardian_id,
            **_decided_dict(self),
        }

    def to_row(self, index: Callable[[Sequence[FieldEvidence]], list[int]]) -> list[Any]:
        """The plan-file row (``COLUMNS``); ``index`` numbers the evidence in the plan's
        table."""
        return [
            self.archived_guardian_id, self.into_guardian_id, self.synced_guardian_id,
            *_decided_row(self, index),
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any], evidence: Sequence[FieldEvidence]) -> GuardianFold:
        a, into, s = (str(v) for v in row[:3])
        return cls(a, into, s, **_decided_from_row(row[3:], evidence))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianFold:
        return cls(
            archived_guardian_id=str(data["archived_guardian_id"]),
            into_guardian_id=str(data["into_guardian_id"]),
            synced_guardian_id=str(data["synced_guardian_id"]),
            **_decided_from_dict(data),
        )
