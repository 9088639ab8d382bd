"""Writing and decoding plan files: what each member, section and row of the layout means.

:mod:`._plan_format` holds the bytes (lines, digest, gzip); this module the
plan's parts. Version 3 (written) keeps each section as rows of its
``columns`` and the evidence as one table; versions 1 and 2 (read only)
are single documents with every merge an object.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ._evidence import FieldEvidence
from ._gc import gc_paused
from ._plan_accounts import GuardianAction, GuardianFold, GuardianMerge, RoleLink
from ._plan_format import PlanWriter, dumps, kind, open_plan_bytes, parse_entries
from ._plan_merge import Merge
from .exceptions import PlanError

__all__ = [
    "CHANGED",
    "COLUMNS",
    "LAYOUT",
    "RECREATE",
    "SCHEMA_VERSION",
    "Decoder",
    "EncodedMerges",
    "PlanStream",
    "decode_fields",
    "legacy_fields",
    "read_document",
    "write_plan",
]

#: Version 3: one row per line, evidence as a table (version 2 added the digest).
SCHEMA_VERSION = 3
_T = TypeVar("_T")
_EVIDENCE = ("comparison", "level", "bits")

#: The message for a plan whose digest does not match.
CHANGED = (
    "the plan was changed after it was written (its integrity digest does not match): approve "
    "review merges with an approval file (apply --approve) instead of editing the plan, or "
    "re-create it with `merge-engine plan`"
)
RECREATE = "re-create it with `merge-engine plan`"
_SECTIONS = (
    "merges", "guardian_merges", "guardian_actions", "multiple_role_users", "guardian_folds",
    "unmatched_archived", "unmatched_synced", "warnings", "shared_targets", "evidence",
)  # fmt: skip
#: The keys of a version-3 plan file in writing order, each with whether it is a section.
LAYOUT: tuple[tuple[str, bool], ...] = (
    *((k, False) for k in ("fingerprint", "settings", "model", "stats", "columns")),
    *((k, True) for k in _SECTIONS),
    ("summary", False),
)
#: The row columns of each section of rows (the file's ``columns`` member).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "merges": Merge.COLUMNS,
    "guardian_merges": GuardianMerge.COLUMNS,
    "guardian_actions": GuardianAction.COLUMNS,
    "multiple_role_users": RoleLink.COLUMNS,
    "guardian_folds": GuardianFold.COLUMNS,
}


def write_plan(
    path: str | Path | None,
    *,
    fingerprint: Mapping[str, str],
    settings: Mapping[str, Any],
    model: Mapping[str, Any],
    stats: Mapping[str, Any],
    merges: Iterable[Merge],
    guardian_merges: Iterable[GuardianMerge] = (),
    guardian_actions: Iterable[GuardianAction] = (),
    role_links: Iterable[RoleLink] = (),
    guardian_folds: Iterable[GuardianFold] = (),
    unmatched_archived: Iterable[str] = (),
    unmatched_synced: Iterable[str] = (),
    warnings: Iterable[Mapping[str, Any]] = (),
) -> str:
    """Write a plan file from its parts, each list encoded as it is taken from its iterable.

    ``merges`` must come sorted by archived id (as :func:`~merge_engine.build_plan` makes
    them). Returns the digest; with ``path=None`` the text instead.
    """
    stream = PlanStream(path)
    try:
        stream.head(fingerprint, settings, model, stats)
        stream.merges(merges)
        stream.accounts(guardian_merges, guardian_actions, role_links, guardian_folds)
        return stream.close(unmatched_archived, unmatched_synced, warnings)
    except BaseException:
        stream.abort()
        raise


class PlanStream:
    """A plan file written part by part, in file order, while the plan is produced.

    :meth:`head`, :meth:`merges`, :meth:`accounts` and :meth:`close` must be
    called once each, in that order; each part is encoded as it is taken from
    its iterable, so the planner can drop what it wrote (the merges of a 150k
    plan hold over 100 MB). :func:`write_plan` is this, all at once: both give
    the same bytes. With a ``path`` the file is written to ``<path>.tmp`` and
    renamed into place by :meth:`close`; :meth:`abort` removes it (an error
    while planning).
    """

    def __init__(self, path: str | Path | None) -> None:
        self._writer = PlanWriter(path)
        self._table = _EvidenceTable()
        # A 150k plan numbers 2,000,000 pieces of evidence, and the planner shares one
        # value among all pairs with the same (comparison, level, bits): numbered by the
        # value's id once its key has been looked up, in C. The values are kept alive
        # (``_seen``) so that no id is reused for another value while writing.
        self._by_id: dict[int, int] = {}
        self._seen: list[FieldEvidence] = []
        #: The plan file's ``summary`` member, counted as the rows are written.
        self.summary: dict[str, int] = dict.fromkeys(("auto", "review", "guardian_merges_auto"), 0)
        self._targets: dict[str, list[str]] = {}
        self._done = 0  # parts written: head, merges, accounts, close
        #: What :meth:`close` returned: the digest (without a path: the text).
        self.result: str | None = None
        #: The head's fingerprint and stats, and how many warnings :meth:`close` wrote:
        #: what a caller reports once the file is written.
        self.fingerprint: dict[str, str] = {}
        self.stats: dict[str, Any] = {}
        self.warnings = 0

    def _next(self, part: int) -> None:
        """Refuse a part out of its place: the file would not be a plan."""
        if self._done != part:
            raise RuntimeError(f"plan part {part} written after {self._done} parts")
        self._done += 1

    def _number(self, e: FieldEvidence) -> int:
        found = self._by_id.get(id(e))
        if found is None:
            found = self._by_id[id(e)] = self._table[_evidence_key(e)]
            self._seen.append(e)
        return found

    def _index(self, evidence: Sequence[FieldEvidence]) -> list[int]:
        found = list(map(self._by_id.get, map(id, evidence)))
        if None in found:  # a value not seen before (else no None: the ignore below)
            return list(map(self._number, evidence))
        return found  # type: ignore[return-value]

    def head(
        self,
        fingerprint: Mapping[str, str],
        settings: Mapping[str, Any],
        model: Mapping[str, Any],
        stats: Mapping[str, Any],
    ) -> None:
        """The members before the sections."""
        self._next(0)
        self.fingerprint, self.stats = dict(fingerprint), dict(stats)
        writer = self._writer
        for key, value in (("fingerprint", fingerprint), ("settings", settings),
                           ("model", model), ("stats", stats)):  # fmt: skip
            writer.member(key, dict(value))
        writer.member("columns", {k: list(v) for k, v in COLUMNS.items()})

    def encoded_merges(self, merges: EncodedMerges) -> None:
        """The merges section, from merges that make their own rows' text (the planner's)."""
        self._next(1)
        with gc_paused():
            self.summary["merges"] = self._writer.joined("merges", merges.chunks(self))
        for decision, count in merges.decisions().items():
            self.summary[decision] += count
        self._targets.update(merges.shared_targets())

    def evidence_numbers(self, evidence: Iterable[FieldEvidence]) -> list[int]:
        """The numbers of ``evidence`` in the plan's table, each value not seen before
        numbered next, in order."""
        return list(map(self._number, evidence))

    def row_text(self, merge: Merge) -> str:
        """A merge's row as JSON text (its evidence numbered in the plan's table)."""
        return dumps(merge.to_row(self._index))

    def merges(self, merges: Iterable[Merge]) -> None:
        """The merges section (sorted by archived id)."""
        self._next(1)
        summary, targets, index = self.summary, self._targets, self._index

        def rows() -> Iterator[list[Any]]:
            for m in merges:
                summary[m.decision] += 1
                targets.setdefault(m.synced_id, []).append(m.archived_id)
                yield m.to_row(index)

        with gc_paused():
            summary["merges"] = self._writer.section("merges", rows())

    def accounts(
        self,
        guardian_merges: Iterable[GuardianMerge],
        guardian_actions: Iterable[GuardianAction],
        role_links: Iterable[RoleLink],
        guardian_folds: Iterable[GuardianFold],
    ) -> None:
        """The sections of the account steps."""
        self._next(2)
        summary, writer, index = self.summary, self._writer, self._index

        def guardian_rows() -> Iterator[list[Any]]:
            for g in guardian_merges:
                summary["guardian_merges_auto"] += g.decision == "auto"
                yield g.to_row(index)

        with gc_paused():
            summary["guardian_merges"] = writer.section("guardian_merges", guardian_rows())
        summary["guardian_actions"] = writer.section(
            "guardian_actions", (a.to_row() for a in guardian_actions)
        )
        summary["multiple_role_users"] = writer.section(
            "multiple_role_users", (r.to_row() for r in role_links)
        )
        summary["guardian_folds"] = writer.section(
            "guardian_folds", (f.to_row(index) for f in guardian_folds)
        )

    def close(
        self,
        unmatched_archived: Iterable[str],
        unmatched_synced: Iterable[str],
        warnings: Iterable[Mapping[str, Any]],
    ) -> str:
        """The last sections, the summary and the digest; returns the digest (without a path:
        the text). The file is in place only now."""
        self._next(3)
        summary, writer = self.summary, self._writer
        summary["unmatched_archived"] = writer.section("unmatched_archived", unmatched_archived)
        summary["unmatched_synced"] = writer.section("unmatched_synced", unmatched_synced)
        self.warnings = writer.section("warnings", (dict(w) for w in warnings))
        shared = ([s, ids] for s, ids in sorted(self._targets.items()) if len(ids) > 1)
        writer.section("shared_targets", shared)
        writer.section("evidence", (list(e) for e in self._table))
        writer.member("summary", dict(sorted(summary.items())))
        self.result = writer.close()
        return self.result

    def abort(self) -> None:
        """Drop the partly written file."""
        self._writer.abort()


class EncodedMerges(Protocol):
    """Merges, sorted by archived id, that make their own rows' text (the planner's columns:
    no :class:`Merge` each)."""

    def chunks(self, stream: PlanStream) -> Iterable[tuple[int, str]]:
        """The rows as :meth:`PlanStream.row_text` would make them, a run at a time: how
        many, and their text joined by ``",\\n"``."""
        ...

    def decisions(self) -> Mapping[str, int]:
        """How many merges are ``auto`` and how many ``review``."""
        ...

    def shared_targets(self) -> Mapping[str, list[str]]:
        """The archived ids of the merges into each synced id that more than one targets."""
        ...


#: A piece of evidence as a tuple: hashed and compared in C (an attrs class's ``__hash__`` is a
#: Python call).
_evidence_key = operator.attrgetter(*_EVIDENCE)


class _EvidenceTable(dict[tuple[str, str, float], int]):
    """The plan's evidence table: each distinct (comparison, level, bits) numbered as first
    seen."""

    def __missing__(self, key: tuple[str, str, float]) -> int:
        number = self[key] = len(self)
        return number


def decode_fields(
    members: Mapping[str, Any], rows: Callable[[str], Iterable[Any]]
) -> dict[str, Any]:
    """A version-3 plan's :class:`~merge_engine.plan.MergePlan` fields, from its members and
    a reader of its sections' rows."""
    decode = Decoder(members, rows)
    return dict(
        merges=decode.merges(rows("merges")),
        unmatched_archived=decode.ids("unmatched_archived", rows("unmatched_archived")),
        unmatched_synced=decode.ids("unmatched_synced", rows("unmatched_synced")),
        warnings=decode.warnings(rows("warnings")),
        settings=decode.mapping("settings"),
        model=decode.mapping("model"),
        stats=decode.mapping("stats"),
        fingerprint={str(k): str(v) for k, v in decode.mapping("fingerprint").items()},
        schema_version=SCHEMA_VERSION,
        guardian_merges=decode.guardian_merges(rows("guardian_merges")),
        guardian_actions=decode.guardian_actions(rows("guardian_actions")),
        role_links=decode.role_links(rows("multiple_role_users")),
        guardian_folds=decode.guardian_folds(rows("guardian_folds")),
    )


class Decoder:
    """Turns a version-3 plan's rows into values, naming the row that is malformed."""

    def __init__(self, members: Mapping[str, Any], rows: Callable[[str], Iterable[Any]]) -> None:
        self.members = members
        columns = members.get("columns")
        if not isinstance(columns, Mapping) or any(
            list(columns.get(k, ())) != list(v) for k, v in COLUMNS.items()
        ):
            raise PlanError(f"malformed plan: unknown row columns; {RECREATE}")
        table = parse_entries("evidence", rows("evidence"), _list(FieldEvidence, _EVIDENCE))
        self.evidence: tuple[FieldEvidence, ...] = tuple(table)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.members.get(key, {})
        if not isinstance(value, Mapping):
            raise PlanError(f"malformed plan: {key!r} must be an object; {RECREATE}")
        return dict(value)

    def merges(
        self, rows: Iterable[Any], where: Callable[[list[Any]], bool] | None = None
    ) -> Iterator[Merge]:
        """The merges of ``rows``; with ``where``, only those whose raw row it accepts (the
        others are parsed as JSON only)."""
        evidence = self.evidence
        parse = _list(lambda *r: Merge.from_row(r, evidence), Merge.COLUMNS)
        return _where("merges", rows, parse, len(Merge.COLUMNS), where)

    def guardian_merges(
        self, rows: Iterable[Any], where: Callable[[list[Any]], bool] | None = None
    ) -> Iterator[GuardianMerge]:
        """The guardian merges of ``rows``; with ``where``, only those whose raw row it
        accepts."""
        evidence = self.evidence
        parse = _list(lambda *r: GuardianMerge.from_row(r, evidence), GuardianMerge.COLUMNS)
        return _where("guardian_merges", rows, parse, len(GuardianMerge.COLUMNS), where)

    def guardian_actions(self, rows: Iterable[Any]) -> Iterator[GuardianAction]:
        parse = _list(lambda *r: GuardianAction.from_row(r), GuardianAction.COLUMNS)
        return parse_entries("guardian_actions", rows, parse)

    def role_links(self, rows: Iterable[Any]) -> Iterator[RoleLink]:
        parse = _list(lambda *r: RoleLink.from_row(r), RoleLink.COLUMNS)
        return parse_entries("multiple_role_users", rows, parse)

    def guardian_folds(self, rows: Iterable[Any]) -> Iterator[GuardianFold]:
        evidence = self.evidence
        parse = _list(lambda *r: GuardianFold.from_row(r, evidence), GuardianFold.COLUMNS)
        return parse_entries("guardian_folds", rows, parse)

    def ids(self, key: str, rows: Iterable[Any]) -> Iterator[str]:
        return parse_entries(key, rows, _string)

    def warnings(self, rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
        return parse_entries("warnings", rows, _object(dict))

    def shared_targets(self, rows: Iterable[Any]) -> Iterator[tuple[str, tuple[str, ...]]]:
        def parse(synced: Any, archived: Any) -> tuple[str, tuple[str, ...]]:
            return str(synced), tuple(str(a) for a in archived)

        return parse_entries("shared_targets", rows, _list(parse, ("synced_id", "archived_ids")))


def _where(
    key: str,
    rows: Iterable[Any],
    parse: Callable[[Any], _T],
    width: int,
    where: Callable[[list[Any]], bool] | None,
) -> Iterator[_T]:
    """``parse`` on the rows of section ``key`` that ``where`` accepts (all without it); the
    others are parsed as JSON only."""
    if where is None:
        return parse_entries(key, rows, parse)

    def wanted(row: Any) -> _T | None:
        if isinstance(row, list) and len(row) == width and not where(row):
            return None
        return parse(row)  # malformed rows are parsed, to be named

    return (x for x in parse_entries(key, rows, wanted) if x is not None)


def _list(parse: Callable[..., _T], columns: tuple[str, ...]) -> Callable[[Any], _T]:
    """A row parser: a list of exactly ``columns``, given to ``parse`` as arguments."""

    def one(row: Any) -> _T:
        if not isinstance(row, list):
            raise PlanError(f"it is {kind(row)}, not a list")
        if len(row) != len(columns):
            raise PlanError(
                f"it has {len(row)} values, not the {len(columns)} of its columns "
                f"({', '.join(columns)})"
            )
        return parse(*row)

    return one


def _object(parse: Callable[[Mapping[str, Any]], _T]) -> Callable[[Any], _T]:
    def one(item: Any) -> _T:
        if not isinstance(item, Mapping):
            raise PlanError(f"it is {kind(item)}, not an object")
        return parse(item)

    return one


def _string(item: Any) -> str:
    if not isinstance(item, str):
        raise PlanError(f"it is {kind(item)}, not a string")
    return item


def read_document(path: str | Path) -> dict[str, Any]:
    """A plan file parsed as one JSON document (an older version, or a rewritten one)."""
    try:
        with open_plan_bytes(path) as f, gc_paused():
            data = json.load(f)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read plan ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
        raise PlanError(f"{path}: not a JSON plan ({exc})") from exc
    if not isinstance(data, dict):
        raise PlanError(f"{path}: not a JSON plan object")
    return data


def legacy_fields(data: Mapping[str, Any], version: int) -> dict[str, Any]:
    """The plan fields of schema version 1 or 2 (merges as objects, the digest over sorted
    keys)."""

    def entries(key: str, parse: Callable[[Mapping[str, Any]], _T]) -> list[_T]:
        items = data.get(key, [] if key != "merges" else None)
        if not isinstance(items, list):
            raise PlanError(f"malformed plan: {key!r} must be a list; {RECREATE}")
        return list(parse_entries(key, items, _object(parse)))

    try:
        return dict(
            merges=entries("merges", Merge.from_dict),
            unmatched_archived=[str(x) for x in data.get("unmatched_archived", [])],
            unmatched_synced=[str(x) for x in data.get("unmatched_synced", [])],
            warnings=list(data.get("warnings", [])),
            settings=dict(data.get("settings", {})),
            model=dict(data.get("model", {})),
            stats=dict(data.get("stats", {})),
            fingerprint={str(k): str(v) for k, v in data.get("fingerprint", {}).items()},
            schema_version=version,
            guardian_merges=entries("guardian_merges", GuardianMerge.from_dict),
            guardian_actions=entries("guardian_actions", GuardianAction.from_dict),
            role_links=entries("multiple_role_users", RoleLink.from_dict),
            guardian_folds=entries("guardian_folds", GuardianFold.from_dict),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanError(f"malformed plan: {exc!r}; {RECREATE}") from exc
