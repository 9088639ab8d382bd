"""The planner's merges as columns, one row per merge, and the plan's merges in file order.

The assignment's merges (140,000 at 150,000 students) are decided as arrays by
:mod:`._rules`; made into one :class:`~merge_engine.plan.Merge` each and then into a
row of lists for the JSON encoder, they cost seconds. A plan written as it is made
(``merge-engine plan``) takes each row's text from the columns instead, from pieces
made once (the JSON of each id, hash and competitor); :func:`~merge_engine.build_plan`
makes the values. Both give the same bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from .._plan_merge import converted_competitor, converted_merge
from ..plan import Competitor, FieldEvidence, Merge
from ._pairs import I64, _Hashes

Codes = npt.NDArray[np.int32]
#: Rows made into values or text at a time: a plan-wide list of either would be held
#: until the last row is made (tens of MB at 150,000 students).
_CHUNK = 4096


class IdIndex(Mapping[str, int]):
    """The index of each id in a list of ids sorted as the records are (by id), found by
    bisection: a dict of 300,000 ids took a tenth of a second to make, for a few
    thousand lookups. An id listed twice is at its last index (as in a dict)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids

    def __getitem__(self, key: str) -> int:
        i = bisect_right(self.ids, key) - 1
        if i < 0 or self.ids[i] != key:
            raise KeyError(key)
        return i

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self.ids))

    def __len__(self) -> int:
        return len(set(self.ids))


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
