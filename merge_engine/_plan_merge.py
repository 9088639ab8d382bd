"""A student merge of a plan and its competitors: frozen values (re-exported by
:mod:`merge_engine.plan`), each with its plan-file row.

A row is a list in the order of ``Merge.COLUMNS``; the evidence is a list of
indices into the plan's evidence table, since the same comparison, level
and bits recur across thousands of merges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from attrs import field, fields, frozen

from ._evidence import FieldEvidence, bits, optional_bits, probability, to_tuple
from .exceptions import PlanError

__all__ = ["Competitor", "Decision", "Merge", "merge_row"]

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

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "archived_id", "synced_id", "decision", "confidence", "match_weight", "margin_bits",
        "evidence", "reasons", "competitors", "duplicates", "archived_hash", "synced_hash",
        "synced_guardians",
    )  # fmt: skip

    def to_row(self, index: Callable[[Sequence[FieldEvidence]], list[int]]) -> list[Any]:
        """The plan-file row (``COLUMNS``); ``index`` numbers the evidence in the plan's
        table."""
        return [
            self.archived_id, self.synced_id, self.decision, self.confidence, self.match_weight,
            self.margin_bits, index(self.evidence), list(self.reasons),
            [[c.archived_id, c.synced_id, c.confidence] for c in self.competitors],
            list(self.duplicates), self.archived_hash, self.synced_hash,
            list(self.synced_guardians),
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any], evidence: Sequence[FieldEvidence]) -> Merge:
        """The merge of a plan-file row, its evidence looked up in the plan's table."""
        a, s, decision, confidence, weight, margin, used, reasons, rivals, dups, ah, sh, gs = row
        return cls(
            str(a),
            str(s),
            float(confidence),
            _decision(decision),
            float(weight),
            None if margin is None else float(margin),
            [evidence[i] for i in used],
            [str(r) for r in reasons],
            [Competitor(str(x), str(y), float(c)) for x, y, c in rivals],
            [str(d) for d in dups],
            str(ah),
            str(sh),
            [str(g) for g in gs],
        )

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


def _setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    return tuple(getattr(cls, a.name).__set__ for a in fields(cls))


_MERGE_SETTERS = _setters(Merge)
_COMPETITOR_SETTERS = _setters(Competitor)


def converted_merge(*values: Any) -> Merge:
    """A :class:`Merge` of its fields' values (in field order) as its converters would
    make them: floats rounded as ``bits`` and ``probability`` round, sequences tuples.

    For the planner, which makes one per archived record and rounds its floats a whole
    array at once: the converters' calls were a third of each merge's cost. Anything
    else builds merges with ``Merge(...)``."""
    merge: Merge = object.__new__(Merge)
    for put, value in zip(_MERGE_SETTERS, values, strict=True):
        put(merge, value)
    return merge


def converted_competitor(archived_id: str, synced_id: str, confidence: float) -> Competitor:
    """A :class:`Competitor` whose ``confidence`` is already rounded (see
    :func:`converted_merge`)."""
    competitor: Competitor = object.__new__(Competitor)
    _put_archived(competitor, archived_id)  # three fields: unrolled, not a loop
    _put_synced(competitor, synced_id)
    _put_confidence(competitor, confidence)
    return competitor


_put_archived, _put_synced, _put_confidence = _COMPETITOR_SETTERS


def _decision(value: object) -> Decision:
    if value == "auto":
        return "auto"
    if value == "review":
        return "review"
    raise PlanError(f"unknown decision {value!r}; expected 'auto' or 'review'")


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
