"""The planner's merges as columns, one row per merge, and the plan's merges in file order.

The assignment's merges (140,000 at 150,000 students) are decided as arrays by
:mod:`._rules`; made into one :class:`~merge_engine.plan.Merge` each and then into a
row of lists for the JSON encoder, they cost seconds. A plan written as it is made
(``merge-engine plan``) takes each row's text from the columns instead, from pieces
made once (the JSON of each id, hash and competitor); :func:`~merge_engine.build_plan`
makes the values. Both give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import compress, repeat
from typing import Any, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from .._plan_codec import PlanStream
from .._plan_format import dumps, json_string
from .._plan_merge import converted_competitor, converted_merge
from ..plan import Competitor, FieldEvidence, Merge
from ._pairs import I64, _Hashes

Codes = npt.NDArray[np.int32]
#: Rows made into values or text at a time: a plan-wide list of either would be held
#: until the last row is made (tens of MB at 150,000 students).
_CHUNK = 4096
#: A merge row's JSON text from the JSON of its columns (``Merge.COLUMNS``).
_ROW = "[" + ",".join(["%s"] * len(Merge.COLUMNS)) + "]"
_DECISION_TEXT = (dumps("auto"), dumps("review"))


class Assigned(NamedTuple):
    """A merge as the account steps read it (all that is kept of a written merge)."""

    archived_id: str
    synced_id: str
    decision: str


@attrs.frozen
class Decided:
    """The assignment's merges: row ``i`` merges archived record ``archived[i]`` into synced
    record ``target[i]``, rows in archived order.

    Floats are rounded as the :class:`Merge` converters round them. A row's evidence is
    one value per comparison (``kinds[j][codes[i, j]]``), then ``extra[i]``; its
    competitors are ``rivals[i]`` (indices into the ``competitor_*`` columns, -1 for
    none). Reasons and duplicates are kept for the few rows that have them."""

    archived: I64
    target: I64
    review: npt.NDArray[np.bool_]
    confidence: list[float]
    weight: list[float]
    margin: list[float | None]
    codes: Codes
    kinds: list[npt.NDArray[np.object_]]
    extra: dict[int, tuple[FieldEvidence, ...]]
    reasons: dict[int, tuple[str, ...]]
    rivals: Codes
    competitor_archived: I64
    competitor_synced: I64
    competitor_confidence: list[float]
    duplicates: dict[int, tuple[str, ...]]
    #: Each row's given-name level (its code in the comparison's levels).
    first_name: npt.NDArray[np.int8]
    a_ids: Sequence[str]
    b_ids: Sequence[str]
    hashes: _Hashes

    def __len__(self) -> int:
        return len(self.archived)

    def take(self, rows: I64) -> Decided:
        """The rows ``rows`` (increasing), in that order."""
        at = np.full(len(self), -1, np.int64)
        at[rows] = np.arange(len(rows))

        def moved(values: dict[int, Any]) -> dict[int, Any]:
            return {int(at[i]): v for i, v in values.items() if at[i] >= 0}

        picked = rows.tolist()
        return attrs.evolve(
            self,
            archived=self.archived[rows],
            target=self.target[rows],
            review=self.review[rows],
            confidence=list(map(self.confidence.__getitem__, picked)),
            weight=list(map(self.weight.__getitem__, picked)),
            margin=list(map(self.margin.__getitem__, picked)),
            codes=self.codes[rows],
            extra=moved(self.extra),
            reasons=moved(self.reasons),
            rivals=self.rivals[rows],
            duplicates=moved(self.duplicates),
            first_name=self.first_name[rows],
        )

    def without(self, keep: npt.NDArray[np.bool_]) -> Decided:
        """The rows ``keep`` marks (all of them: the same value)."""
        return self if keep.all() else self.take(np.flatnonzero(keep))

    def with_duplicates(self, more: Mapping[int, Sequence[str]]) -> Decided:
        """Each row whose archived record is a key of ``more`` (record index) with those
        archived ids among its duplicates too (the duplicates sorted)."""
        if not more:
            return self
        duplicates = dict(self.duplicates)
        for i, a in enumerate(self.archived.tolist()):
            if a in more:
                duplicates[i] = tuple(sorted({*duplicates.get(i, ()), *more[a]}))
        return attrs.evolve(self, duplicates=duplicates)

    def open_records(
        self, groups: I64, same_name: Sequence[int]
    ) -> tuple[npt.NDArray[np.bool_], dict[int, tuple[float, bool]]]:
        """Records a second-record proposal may take: those without a merge, and those alone
        in their group with only a review merge (by record index: that merge's log-odds, and
        whether its given-name level is one of ``same_name``)."""
        open_a = np.ones(len(groups), np.bool_)
        alone = np.bincount(groups)[groups] == 1 if len(groups) else np.ones(0, np.bool_)
        own_row = self.review & alone[self.archived]
        open_a[self.archived[~own_row]] = False
        rows = np.flatnonzero(own_row)
        named = np.isin(self.first_name[rows], list(same_name)).tolist()
        own = {
            a: (self.weight[i], same)
            for a, i, same in zip(self.archived[rows].tolist(), rows.tolist(), named, strict=True)
        }
        return open_a, own

    def _competitors(self) -> list[Competitor | None]:
        """Every competitor value, then None (code -1)."""
        made: list[Competitor | None] = list(
            map(
                converted_competitor,
                map(self.a_ids.__getitem__, self.competitor_archived.tolist()),
                map(self.b_ids.__getitem__, self.competitor_synced.tolist()),
                self.competitor_confidence,
            )
        )
        made.append(None)
        return made

    def merges(self) -> Iterator[Merge]:
        """The rows as :class:`Merge` values."""
        made = self._competitors()
        pick = repeat(made.__getitem__)
        a_ids, b_ids, hashes = self.a_ids, self.b_ids, self.hashes
        decision = ("auto", "review")
        for start in range(0, len(self), _CHUNK):
            stop = min(start + _CHUNK, len(self))
            chunk = self.codes[start:stop]
            columns = [kinds[chunk[:, j]].tolist() for j, kinds in enumerate(self.kinds)]
            evidence = zip(*columns, strict=True) if columns else repeat(())
            # Each row's competitors, -1 (None) left out: in C (map, filter), not a frame per row.
            rivals = map(
                tuple, map(filter, repeat(None), map(map, pick, self.rivals[start:stop].tolist()))
            )
            for i, a, s, review, row, competitors in zip(
                range(start, stop),
                self.archived[start:stop].tolist(),
                self.target[start:stop].tolist(),
                self.review[start:stop].tolist(),
                evidence,
                rivals,
                strict=False,
            ):
                yield converted_merge(
                    a_ids[a],
                    b_ids[s],
                    self.confidence[i],
                    decision[review],
                    self.weight[i],
                    self.margin[i],
                    row + self.extra[i] if i in self.extra else row,
                    self.reasons.get(i, ()),
                    competitors,
                    self.duplicates.get(i, ()),
                    hashes.archived[a],
                    hashes.synced[s],
                    hashes.synced_guardians[s],
                )


class PlanMerges:
    """Every merge of a plan in file order (by archived id, then synced id): the
    assignment's as columns, the other proposals (a few thousand at most) as values.

    What :meth:`~merge_engine._plan_codec.PlanStream.encoded_merges` writes, and what
    :func:`~merge_engine.build_plan` makes values of."""

    def __init__(
        self,
        decided: Decided,
        others: Sequence[Merge],
        a_index: Mapping[str, int],
        b_index: Mapping[str, int],
    ) -> None:
        self.decided = decided
        nb = np.int64(max(len(decided.b_ids), 1))
        other_a = np.array([a_index[m.archived_id] for m in others], np.int64)
        other_b = np.array([b_index[m.synced_id] for m in others], np.int64)
        # Ids are sorted as the records are: a record index pair sorts as its ids. Stable,
        # the assignment's first: as a sort of the assignment's merges then the others.
        keys = np.concatenate([decided.archived * nb + decided.target, other_a * nb + other_b])
        order = np.argsort(keys, kind="stable")
        self.is_decided = order < len(decided)
        self.others = [others[i] for i in (order[~self.is_decided] - len(decided)).tolist()]
        self.archived = np.concatenate([decided.archived, other_a])[order]
        self.synced = np.concatenate([decided.target, other_b])[order]

    def __len__(self) -> int:
        return len(self.is_decided)

    def __iter__(self) -> Iterator[Merge]:
        """The merges as values, in file order."""
        decided, others = self.decided.merges(), iter(self.others)
        for is_decided in self.is_decided.tolist():
            yield next(decided) if is_decided else next(others)

    def _reviews(self) -> list[bool]:
        review = np.empty(len(self), np.bool_)
        review[self.is_decided] = self.decided.review
        review[~self.is_decided] = [m.decision == "review" for m in self.others]
        return review.tolist()

    def assigned(self) -> list[Assigned]:
        """Each merge's ids and decision, in file order."""
        a_ids, b_ids = self.decided.a_ids, self.decided.b_ids
        return list(
            map(
                Assigned,
                map(a_ids.__getitem__, self.archived.tolist()),
                map(b_ids.__getitem__, self.synced.tolist()),
                map(("auto", "review").__getitem__, self._reviews()),
            )
        )

    def unmatched(self) -> tuple[list[str], list[str]]:
        """The ids of the archived and the synced records without a merge, in id order."""
        a_ids, b_ids = self.decided.a_ids, self.decided.b_ids
        free_a = np.ones(len(a_ids), np.bool_)
        free_a[self.archived] = False
        free_b = np.ones(len(b_ids), np.bool_)
        free_b[self.synced] = False
        return list(compress(a_ids, free_a.tolist())), list(compress(b_ids, free_b.tolist()))

    # -- Written as text (``EncodedMerges``) -----------------------------------------------

    def decisions(self) -> dict[str, int]:
        review = int(np.count_nonzero(self.decided.review))
        review += sum(m.decision == "review" for m in self.others)
        return {"auto": len(self) - review, "review": review}

    def shared_targets(self) -> dict[str, list[str]]:
        a_ids, b_ids = self.decided.a_ids, self.decided.b_ids
        shared: dict[str, list[str]] = {}
        if not len(self):
            return shared
        rows = np.flatnonzero(np.bincount(self.synced)[self.synced] > 1)
        for a, s in zip(self.archived[rows].tolist(), self.synced[rows].tolist(), strict=True):
            shared.setdefault(b_ids[s], []).append(a_ids[a])
        return shared

    def lines(self, stream: PlanStream) -> Iterator[str]:
        """Each merge's row as JSON text, numbering its evidence in ``stream``'s table."""
        d = self.decided
        numbers = self._evidence_numbers(stream)
        piece = [f",{k}" for k in range(int(numbers.max(initial=-1)) + 1)]
        piece.append("")  # number -1: no evidence there
        get = piece.__getitem__
        a_text = list(map(json_string, d.a_ids))
        b_text = list(map(json_string, d.b_ids))
        competitors = list(
            map(
                ",[%s,%s,%s]".__mod__,
                zip(
                    map(a_text.__getitem__, d.competitor_archived.tolist()),
                    map(b_text.__getitem__, d.competitor_synced.tolist()),
                    _texts(d.competitor_confidence),
                    strict=True,
                ),
            )
        )
        competitors.append("")
        rival = competitors.__getitem__
        reasons = {i: dumps(list(r)) for i, r in d.reasons.items()}
        duplicates = {i: dumps(list(x)) for i, x in d.duplicates.items()}
        guardians = d.hashes.synced_guardians
        before = np.r_[0, np.cumsum(self.is_decided)].tolist()
        others = iter(self.others)
        for start in range(0, len(self), _CHUNK):
            stop = min(start + _CHUNK, len(self))
            d0, d1 = before[start], before[stop]
            a, s = d.archived[d0:d1].tolist(), d.target[d0:d1].tolist()
            flags = self.is_decided[start:stop]
            evidence = [
                "[" + "".join(map(get, row))[1:] + "]"
                for row in numbers[start:stop][flags].tolist()
            ]
            rows = list(
                map(
                    _ROW.__mod__,
                    zip(
                        map(a_text.__getitem__, a),
                        map(b_text.__getitem__, s),
                        map(_DECISION_TEXT.__getitem__, d.review[d0:d1].tolist()),
                        _texts(d.confidence[d0:d1]),
                        _texts(d.weight[d0:d1]),
                        _texts(d.margin[d0:d1]),
                        evidence,
                        map(reasons.get, range(d0, d1), repeat("[]")),
                        [
                            "[" + "".join(map(rival, pair))[1:] + "]"
                            for pair in d.rivals[d0:d1].tolist()
                        ],
                        map(duplicates.get, range(d0, d1), repeat("[]")),
                        map(json_string, map(d.hashes.archived.__getitem__, a)),
                        map(json_string, map(d.hashes.synced.__getitem__, s)),
                        [
                            "[" + ",".join(map(json_string, g)) + "]"
                            for g in map(guardians.__getitem__, s)
                        ],
                        strict=True,
                    ),
                )
            )
            if len(rows) == stop - start:
                yield from rows
                continue
            mine = iter(rows)
            for is_decided in flags.tolist():
                yield next(mine) if is_decided else stream.row_text(next(others))

    def _evidence_numbers(self, stream: PlanStream) -> npt.NDArray[np.int64]:
        """Each row's evidence numbers in ``stream``'s table (-1 after the last), numbered
        there as first seen in file order: as numbering them row by row would."""
        d = self.decided
        distinct: dict[tuple[str, str, float], int] = {}
        values: list[FieldEvidence] = []

        def number(e: FieldEvidence) -> int:
            key = (e.comparison, e.level, e.bits)
            found = distinct.get(key)
            if found is None:
                found = distinct[key] = len(values)
                values.append(e)
            return found

        kind_numbers = [np.array([number(e) for e in kinds], np.int64) for kinds in d.kinds]
        extra = {i: [number(e) for e in evidence] for i, evidence in d.extra.items()}
        other = [[number(e) for e in m.evidence] for m in self.others]
        n_cols = len(d.kinds)
        width = max([n_cols + max(map(len, extra.values()), default=0), *map(len, other)])
        grid = np.full((len(self), max(width, 1)), -1, np.int64)
        at_decided = np.flatnonzero(self.is_decided)
        for j, kinds in enumerate(kind_numbers):
            grid[at_decided, j] = kinds[d.codes[:, j]]
        for i, found in extra.items():
            grid[at_decided[i], n_cols : n_cols + len(found)] = found
        for at, found in zip(np.flatnonzero(~self.is_decided).tolist(), other, strict=True):
            grid[at, : len(found)] = found
        flat = grid.reshape(-1)
        used = np.flatnonzero(flat >= 0)
        first = np.full(len(values), len(flat), np.int64)
        np.minimum.at(first, flat[used], used)
        seen = np.argsort(first, kind="stable")[: int(np.count_nonzero(first < len(flat)))]
        table = np.full(len(values) + 1, -1, np.int64)
        table[seen] = stream.evidence_numbers([values[i] for i in seen.tolist()])
        return table[grid]


def _texts(values: Sequence[float | None]) -> list[str]:
    """Each value's JSON text as the plan's encoder writes it, from one encoder call (a
    float's text holds no comma)."""
    return dumps(list(values))[1:-1].split(",") if len(values) else []
