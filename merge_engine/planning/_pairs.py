"""Candidate pairs as scored arrays: adding, removing and joining them, and the record
hashes every merge carries. Shared by the planner, its rules and its proposals."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..matching._arrays import isin
from ..matching._assignment import NONE, Assignment
from ..matching._features import EncodedSide, Vocabularies
from ..matching._scoring import PairWeights, ScoredPairs, compare, score
from ..model import Student
from ..settings import Settings

I64 = npt.NDArray[np.int64]


@attrs.frozen
class _Hashes:
    """Per student, what a merge records to refuse it if the record changes before apply."""

    archived: list[str]
    synced: list[str]  # own fields only: the synced student's guardian ids are listed apart
    synced_guardians: list[tuple[str, ...]]


def _with_group_pairs(
    scored: ScoredPairs,
    groups: I64,
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """Add the pairs between every member of a duplicate group and its group's candidates."""
    sizes = np.bincount(groups)
    multi = sizes[groups[scored.archived]] > 1
    if not multi.any():
        return scored
    members: dict[int, list[int]] = {}
    for idx in np.flatnonzero(sizes[groups] > 1).tolist():
        members.setdefault(int(groups[idx]), []).append(idx)
    nb = np.int64(max(len(eb), 1))
    wanted: set[int] = set()
    for a, b in zip(scored.archived[multi].tolist(), scored.synced[multi].tolist(), strict=True):
        for member in members[int(groups[a])]:
            wanted.add(member * int(nb) + b)
    # Those not scored yet, by a sorted search: a set of every scored pair's code would
    # take gigabytes at a million students.
    codes = np.fromiter(wanted, np.int64, count=len(wanted))
    codes = codes[~isin(codes, scored.archived * nb + scored.synced)]
    return _with_pairs(scored, set(codes.tolist()), ea, eb, vocab, model, freqs, settings)


def _with_partner_pairs(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    possible: set[tuple[int, int]],
    open_a: npt.NDArray[np.bool_],
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """Score each open record (no merge, or only one for review) against the synced students
    its possible duplicates took.

    A child typed twice whose second record has too little of its own to be a
    candidate (a nickname, other contacts) must still be proposed with the
    first one's synced student, for review; that needs the pair's evidence.
    """
    if not possible:
        return scored
    nb = np.int64(max(len(eb), 1))
    flat = np.fromiter((x for pair in possible for x in pair), np.int64, count=2 * len(possible))
    a, m = flat[0::2], flat[1::2]
    s = result.synced[groups[m]]
    keep = open_a[a] & (s != NONE)
    codes = a[keep] * nb + s[keep]
    existing = scored.archived * nb + scored.synced
    extra = set(codes.tolist()) - set(existing[isin(existing, codes)].tolist())
    return _with_pairs(scored, extra, ea, eb, vocab, model, freqs, settings)


def _with_pairs(
    scored: ScoredPairs,
    codes: set[int],
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """``scored`` plus the pairs coded ``archived * len(eb) + synced``, compared and scored."""
    if not codes:
        return scored
    nb = np.int64(max(len(eb), 1))
    ordered = np.array(sorted(codes), np.int64)
    ia, ib = ordered // nb, ordered % nb
    levels = compare(ea, eb, ia, ib, vocab, settings)
    added = score(ea, eb, ia, ib, levels, model, freqs)  # type: ignore[arg-type]
    return _concat(scored, added)


def _pair_positions(scored: ScoredPairs, archived: I64, synced: I64, n_synced: int) -> I64:
    """The position in ``scored`` of each (archived, synced) pair, ``NONE`` when not scored
    (the last one if a pair was scored twice). A sorted search: no dict of every pair."""
    nb = np.int64(max(n_synced, 1))
    codes = scored.archived * nb + scored.synced
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    wanted = archived * nb + synced
    at = np.searchsorted(ordered, wanted, side="right") - 1
    found = (at >= 0) & (ordered[np.maximum(at, 0)] == wanted)
    return np.where(found, order[np.maximum(at, 0)], NONE)


def _pair_codes(
    pairs: Collection[tuple[str, str]], a_students: Sequence[Student], b_students: Sequence[Student]
) -> I64:
    """Codes ``archived * len(synced) + synced`` of the id pairs both rosters hold."""
    if not pairs:  # the usual plan: no rejections, no index of every student to build
        return np.empty(0, np.int64)
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    nb = max(len(b_students), 1)
    return np.array(
        sorted(a_index[a] * nb + b_index[s] for a, s in pairs if a in a_index and s in b_index),
        np.int64,
    )


def _without_pairs(scored: ScoredPairs, codes: I64, n_synced: int) -> ScoredPairs:
    """``scored`` less the pairs coded in ``codes``."""
    if not len(codes):
        return scored
    keep = ~isin(scored.archived * np.int64(max(n_synced, 1)) + scored.synced, codes)
    return _take(scored, keep)


def _take(x: ScoredPairs, index: npt.NDArray[Any]) -> ScoredPairs:
    from ..matching._comparisons import LevelMatrix  # noqa: PLC0415

    return ScoredPairs(
        x.archived[index],
        x.synced[index],
        LevelMatrix(x.levels.levels[index], x.levels.comparisons),
        PairWeights(
            x.scores.adjustment[index], x.scores.log_odds[index], x.scores.probability[index]
        ),
        x.weighing,
    )


def _concat(x: ScoredPairs, y: ScoredPairs) -> ScoredPairs:
    from ..matching._comparisons import LevelMatrix  # noqa: PLC0415

    if x.weighing.model is not y.weighing.model:  # pragma: no cover - a planner bug
        raise ValueError("pairs scored with different models cannot be joined")
    return ScoredPairs(
        np.concatenate([x.archived, y.archived]),
        np.concatenate([x.synced, y.synced]),
        LevelMatrix(np.concatenate([x.levels.levels, y.levels.levels]), x.levels.comparisons),
        PairWeights(
            np.concatenate([x.scores.adjustment, y.scores.adjustment]),
            np.concatenate([x.scores.log_odds, y.scores.log_odds]),
            np.concatenate([x.scores.probability, y.scores.probability]),
        ),
        x.weighing,
    )
