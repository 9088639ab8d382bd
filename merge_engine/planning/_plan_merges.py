"""The plan's merges in file order, and the merges section's text made from the planner's
columns (:class:`._decided.Decided`).

A row is cut into pieces, each piece taken from a table made once: the JSON of
each id and hash (with the separators around it), of each distinct float, of
each competitor, of each evidence number. A run of rows is then one list of
pieces, interleaved column by column and joined in one call. The text is what
the plan's JSON encoder writes for ``Merge.to_row`` (the tests compare both).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from itertools import compress, repeat

import numpy as np
import numpy.typing as npt

from .._plan_codec import PlanStream
from .._plan_format import dumps, json_string
from ..plan import FieldEvidence, Merge
from ._decided import Assigned, Decided


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

    def chunks(self, stream: PlanStream) -> Iterator[tuple[int, str]]:
        """The rows' JSON text, a run at a time (see :mod:`._merge_text`)."""
        return _merge_chunks(self, stream)

    def evidence_numbers(self, stream: PlanStream) -> npt.NDArray[np.int64]:
        """Each assignment row's evidence numbers in ``stream``'s table (-1 after the last),
        every merge's evidence numbered there as first seen in file order: as numbering
        them row by row would."""
        d = self.decided
        distinct: dict[tuple[str, str, float, float], int] = {}
        values: list[FieldEvidence] = []

        def number(e: FieldEvidence) -> int:
            # 0.0 and -0.0 kept apart here: the stream numbers them as one, written as the
            # one first seen in file order (which the kinds' order need not be).
            key = (e.comparison, e.level, e.bits, math.copysign(1.0, e.bits))
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
        return table[grid[at_decided]]


#: The columns whose pieces :func:`merge_chunks` lays out (a change must change it too).
_LAID_OUT = (
    "archived_id", "synced_id", "decision", "confidence", "match_weight", "margin_bits",
    "evidence", "reasons", "competitors", "duplicates", "archived_hash", "synced_hash",
    "synced_guardians",
)  # fmt: skip
assert Merge.COLUMNS == _LAID_OUT
#: Rows of the assignment's merges made into text at a time.
_RUN = 4096
_DECISION = (',"auto",', ',"review",')


def _merge_chunks(merges: PlanMerges, stream: PlanStream) -> Iterator[tuple[int, str]]:
    """The merges section as (row count, rows joined by ``",\\n"``), in file order; the
    other proposals' rows are made by ``stream``. Evidence is numbered in ``stream``'s
    table as first seen."""
    d = merges.decided
    if not d.kinds:  # no comparisons: rows without evidence (never in a real plan)
        yield from ((1, stream.row_text(m)) for m in merges)
        return
    numbers = merges.evidence_numbers(stream)
    pieces = _Pieces(d, numbers)
    others = merges.others
    # File positions of the other proposals; the assignment's rows fill the runs between.
    other_at = np.flatnonzero(~merges.is_decided).tolist()
    pending: list[str] = []
    count = 0
    done = 0  # assignment rows made
    position = 0
    for other, at in [*zip(others, other_at, strict=True), (None, len(merges))]:
        while position < at:
            stop = min(at, position + _RUN)
            pending.append(pieces.text(done, done + stop - position))
            count += stop - position
            done += stop - position
            position = stop
            if count >= _RUN:
                yield count, ",\n".join(pending)
                pending, count = [], 0
        if other is not None:
            pending.append(stream.row_text(other))
            count += 1
            position += 1
    if count:
        yield count, ",\n".join(pending)


class _Pieces:
    """The tables each row's pieces are taken from, and the text of a run of rows."""

    def __init__(self, d: Decided, numbers: npt.NDArray[np.int64]) -> None:
        self.d = d
        self.n_cols = len(d.kinds)
        self.numbers = numbers
        a_json = list(map(json_string, d.a_ids))
        b_json = list(map(json_string, d.b_ids))
        self.archived = list(map("[%s,".__mod__, a_json))
        self.synced = b_json
        self.archived_hash = list(map("%s,".__mod__, map(json_string, d.hashes.archived)))
        guardians = d.hashes.synced_guardians
        hashes = d.hashes.synced
        self.synced_tail = [
            f"{json_string(hashes[s])},[{','.join(map(json_string, guardians[s]))}]],\n"
            for s in d.target.tolist()
        ]
        self.confidence = _float_pieces(d.confidence, ",")
        self.weight = _float_pieces(d.weight, ",")
        self.margin = _float_pieces(d.margin, ",[")
        top = int(numbers.max(initial=-1)) + 1
        self.first_number = [str(k) for k in range(top)] + [""]
        self.number = [f",{k}" for k in range(top)] + [""]
        # Each row's extra evidence, closing the evidence list.
        n = self.n_cols
        self.extra = {
            i: "".join(self.number[k] for k in numbers[i, n:].tolist()) + "]," for i in d.extra
        }
        self.reasons = {i: dumps(list(r)) + ",[" for i, r in d.reasons.items()}
        self.duplicates = {i: dumps(list(x)) + "," for i, x in d.duplicates.items()}
        conf_texts, conf_codes = _float_pieces(d.competitor_confidence, "]")
        competitors = list(
            map(
                "%s%s,%s".__mod__,
                zip(
                    map(self.archived.__getitem__, d.competitor_archived.tolist()),
                    map(b_json.__getitem__, d.competitor_synced.tolist()),
                    map(conf_texts.__getitem__, conf_codes),
                    strict=True,
                ),
            )
        )
        self.first_rival = [*competitors, ""]
        self.second_rival = [*(f",{c}]," for c in competitors), "],"]
        # A row's competitors without gaps: the second one first when the first is none.
        rivals = d.rivals.copy()
        gap = rivals[:, 0] < 0
        rivals[gap, 0] = rivals[gap, 1]
        rivals[gap, 1] = -1
        self.rivals = rivals

    def text(self, start: int, stop: int) -> str:
        """Rows ``start`` to ``stop`` of the assignment's merges, joined by ``",\\n"``."""
        d, n = self.d, self.n_cols
        a, s = d.archived[start:stop].tolist(), d.target[start:stop].tolist()
        rows = range(start, stop)
        numbers = self.numbers[start:stop]
        columns: list[list[str]] = [
            list(map(self.archived.__getitem__, a)),
            list(map(self.synced.__getitem__, s)),
            list(map(_DECISION.__getitem__, d.review[start:stop].tolist())),
            _taken(self.confidence, start, stop),
            _taken(self.weight, start, stop),
            _taken(self.margin, start, stop),
        ]
        for j in range(n):
            table = self.first_number if j == 0 else self.number
            columns.append(list(map(table.__getitem__, numbers[:, j].tolist())))
        columns.append(list(map(self.extra.get, rows, repeat("],"))))
        columns.append(list(map(self.reasons.get, rows, repeat("[],["))))
        rivals = self.rivals[start:stop]
        columns.append(list(map(self.first_rival.__getitem__, rivals[:, 0].tolist())))
        columns.append(list(map(self.second_rival.__getitem__, rivals[:, 1].tolist())))
        columns.append(list(map(self.duplicates.get, rows, repeat("[],"))))
        columns.append(list(map(self.archived_hash.__getitem__, a)))
        columns.append(self.synced_tail[start:stop])
        return "".join(_interleaved(columns))[:-2]


def _interleaved(columns: Sequence[list[str]]) -> list[str]:
    """The pieces of each row in turn: row 0's of every column, then row 1's..."""
    width = len(columns)
    parts = [""] * (len(columns[0]) * width if columns else 0)
    for k, column in enumerate(columns):
        parts[k::width] = column
    return parts


def _float_pieces(values: Sequence[float | None], suffix: str) -> tuple[list[str], list[int]]:
    """The JSON text of each distinct value (``None``: ``null``), each followed by
    ``suffix``, and each value's index among them. Floats are alike by their bits (-0.0
    is not 0.0): the texts are the encoder's, from one call."""
    if not len(values):
        return [], []
    column = np.array(values, np.float64)  # None: nan
    kinds, inverse = np.unique(column.view(np.int64), return_inverse=True)
    encoded = dumps(kinds.view(np.float64).tolist())[1:-1].split(",")  # no comma in a float
    texts = [t + suffix for t in encoded]
    codes: list[int] = inverse.reshape(-1).tolist()
    nan = np.flatnonzero(np.isnan(column)).tolist()
    if nan:
        texts.append("null" + suffix)
        for i in nan:
            if values[i] is None:
                codes[i] = len(texts) - 1
    return texts, codes


def _taken(pieces: tuple[list[str], list[int]], start: int, stop: int) -> list[str]:
    texts, codes = pieces
    return list(map(texts.__getitem__, codes[start:stop]))
