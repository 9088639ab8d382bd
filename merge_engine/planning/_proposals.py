"""Review proposals outside the assignment: a record that lost its synced student to a
possible duplicate of itself, the one leftover child of a family's class, and the second
record of a child typed twice (``auto`` when its own evidence is sure)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from ..matching.assignment import NONE, Assignment
from ..matching.features import EncodedSide
from ..matching.households import (
    Families,
    leftover_pairs,
    second_records,
)
from ..matching.scoring import ScoredPairs
from ..model import Student
from ..plan import Competitor, FieldEvidence, Merge
from ..settings import Settings
from ._pairs import I64, _Hashes, _pair_positions


def _contested_duplicates(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    possible: set[tuple[int, int]],
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
) -> list[Merge]:
    """Review merges for records that lost their best candidate to a possible duplicate.

    Two archived records with the same birth date and household and nearly
    the same name are either one child typed twice or twins. The assignment
    gives the synced student to the stronger one; the weaker is proposed
    for review (never auto) rather than dropped, so the reviewer decides.
    """
    prob = scored.scores.probability
    unassigned = result.synced[groups[scored.archived]] == NONE
    owner_of: dict[int, int] = {}
    for g, s in enumerate(result.synced.tolist()):
        if s != NONE:
            owner_of[s] = g
    members: dict[int, list[int]] = {}
    for idx, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(idx)
    # An unassigned record's best pair with a synced student that a possible duplicate
    # of it took (whatever its own confidence: the record must go somewhere), else its
    # best pair above the review floor.
    best: dict[int, tuple[bool, float, int]] = {}
    with_partner = np.zeros(len(groups), np.bool_)
    with_partner[np.fromiter((x for x, _ in possible), np.int64, count=len(possible))] = True
    wanted = unassigned & (with_partner[scored.archived] | (prob >= settings.review_threshold))
    for k in np.flatnonzero(wanted).tolist():
        a, s = int(scored.archived[k]), int(scored.synced[k])
        winner = owner_of.get(s)
        partner = winner is not None and any((a, m) in possible for m in members[winner])
        if not partner and prob[k] < settings.review_threshold:
            continue
        key = (partner, float(prob[k]), -k)
        if a not in best or key > best[a]:
            best[a] = key
    out = []
    for a, (_, _, minus_k) in sorted(best.items()):
        k = -minus_k
        s = int(scored.synced[k])
        winner = owner_of.get(s)
        if winner is None:
            continue
        twins = [m for m in members[winner] if (a, m) in possible]
        if not twins:
            continue
        out.append(
            _review_merge(
                scored,
                k,
                a_students,
                b_students,
                hashes,
                reasons=[
                    "possible duplicate of archived "
                    + ", ".join(a_students[m].id for m in twins)
                    + ", which takes this synced student: approve only if it is the same "
                    "child, not a twin"
                ],
                competitors=[
                    Competitor(a_students[m].id, b_students[s].id, float(prob[k])) for m in twins
                ],
                duplicates=[a_students[m].id for m in twins],
            )
        )
    return out


def _review_merge(
    scored: ScoredPairs,
    k: int,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    hashes: _Hashes,
    *,
    reasons: list[str],
    competitors: list[Competitor] = [],  # noqa: B006 - never mutated
    duplicates: list[str] = [],  # noqa: B006 - never mutated
) -> Merge:
    """A review merge for scored pair ``k``, proposed outside the assignment."""
    a, s = int(scored.archived[k]), int(scored.synced[k])
    lv = scored.levels.levels
    return Merge(
        archived_id=a_students[a].id,
        synced_id=b_students[s].id,
        confidence=float(scored.scores.probability[k]),
        decision="review",
        match_weight=float(scored.scores.log_odds[k]),
        margin_bits=None,
        evidence=[
            FieldEvidence(c.name, c.levels[lv[k, j]], float(scored.scores.contributions[k, j]))
            for j, c in enumerate(scored.levels.comparisons)
        ],
        reasons=reasons,
        competitors=competitors,
        duplicates=duplicates,
        archived_hash=hashes.archived[a],
        synced_hash=hashes.synced[s],
        synced_guardians=hashes.synced_guardians[s],
    )


#: What makes a second record of a child its own sure match: the given name and surname
#: agree, the class is the expected one and nothing of the child's own disagrees. Inside
#: one family that is one child typed twice: no family names two children alike.
_SECOND_RECORD = (
    ("first_name", ("exact",)),
    ("last_name", ("exact", "compound")),
    ("grade", ("expected",)),
    ("dob", ("missing", "exact")),
    ("middle_name", ("missing", "exact", "initial")),
    ("gender", ("missing", "same")),
    ("identifier", ("missing", "exact")),
)


def _typed_twice(
    proposals: list[Merge],
    families: Families | None,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    auto_threshold: float,
) -> list[Merge]:
    """Second records proposed with their first record's synced student become ``auto``
    when they are in that student's family and their own evidence is sure (confident, and
    every field of :data:`_SECOND_RECORD` agreeing)."""
    if families is None:
        return proposals
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    out = []
    for m in proposals:
        levels = {e.comparison: e.level for e in m.evidence}
        a, s = a_index[m.archived_id], b_index[m.synced_id]
        sure = (
            bool(m.duplicates)
            and m.confidence >= auto_threshold
            and bool(families.same(np.array([a]), np.array([s]))[0])
            and all(levels.get(c) in ok for c, ok in _SECOND_RECORD)
        )
        out.append(attrs.evolve(m, decision="auto", reasons=()) if sure else m)
    return out


_LEFTOVER_REASON = (
    "the only unmatched records of one family and class, with other given names: the same "
    "child under another name (an English school name, the middle name) or a brother or "
    "sister; approve only if it is the same child"
)


def _family_leftovers(
    scored: ScoredPairs,
    families: Families,
    assigned: Sequence[Merge],
    proposed: Sequence[Merge],
    ea: EncodedSide,
    eb: EncodedSide,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
) -> list[Merge]:
    """Review merges for the one unmatched child left on each side of a family's class, and
    for a record whose family's only child of its class another record took.

    ``assigned`` are the assignment's merges, ``proposed`` the other proposals so far: a
    record the assignment placed but whose merge was not proposed (names alone, under
    the auto threshold) is still free here.
    """
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    free_a = np.ones(len(ea), np.bool_)
    free_b = np.ones(len(eb), np.bool_)
    owner = np.full(len(eb), -1, np.int64)
    contested = {m.synced_id for m in proposed}  # one contesting record per synced student
    for m in proposed:
        free_a[a_index[m.archived_id]] = False
    for m in reversed(assigned):  # reversed: the first record of a synced student wins
        free_a[a_index[m.archived_id]] = False
        free_b[b_index[m.synced_id]] = False
        owner[b_index[m.synced_id]] = a_index[m.archived_id]
    ia, ib = leftover_pairs(families, ea, eb, free_a, free_b, settings.grade_progression)
    out = [
        _review_merge(scored, k, a_students, b_students, hashes, reasons=[_LEFTOVER_REASON])
        for k in _pair_positions(scored, ia, ib, len(eb)).tolist()
        if k != NONE
    ]
    free_a[ia] = False
    ia, ib, first = second_records(families, ea, eb, free_a, owner, settings.grade_progression)
    at = _pair_positions(scored, ia, ib, len(eb))
    first_at = _pair_positions(scored, first, ib, len(eb))
    for s, f, k, fk in zip(
        ib.tolist(), first.tolist(), at.tolist(), first_at.tolist(), strict=True
    ):
        if k == NONE or b_students[s].id in contested:
            continue
        contested.add(b_students[s].id)
        first_id = a_students[f].id
        out.append(
            _review_merge(
                scored,
                k,
                a_students,
                b_students,
                hashes,
                reasons=[
                    f"possible duplicate of archived {first_id}: the only child of this "
                    f"class in the family is taken by archived {first_id}; the same child "
                    "typed twice (another given name, a slip) or a twin who left: approve "
                    "only if it is the same child"
                ],
                competitors=[
                    Competitor(
                        first_id,
                        b_students[s].id,
                        float(scored.scores.probability[k if fk == NONE else fk]),
                    )
                ],
                duplicates=[first_id],
            )
        )
    return out
