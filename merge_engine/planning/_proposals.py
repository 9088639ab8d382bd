"""Review proposals outside the assignment: a record that lost its synced student to a
possible duplicate of itself, the one leftover child of a family's class, and the second
record of a child typed twice (``auto`` when its own evidence is sure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from ..matching._assignment import NONE, Assignment
from ..matching._comparisons import COMPARISONS
from ..matching._features import EncodedSide
from ..matching._households import (
    Families,
    leftover_pairs,
    second_records,
)
from ..matching._scoring import ScoredPairs
from ..model import Student
from ..plan import Competitor, FieldEvidence, Merge
from ..settings import Settings
from ._pairs import I64, _Hashes, _pair_positions

#: Given-name levels that name the same child outright (not a typo, which a twin shares).
_SAME_GIVEN_NAME = ("exact", "nickname")


def _contested_duplicates(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    possible: set[tuple[int, int]],
    open_a: npt.NDArray[np.bool_],
    own: dict[int, tuple[float, bool]],
    alike_synced: npt.NDArray[np.bool_] | None,
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

    ``open_a`` marks the records that may be proposed here: those without a merge and
    those with only a review merge (``own``: its log-odds, and whether its given names
    agree). The assignment gives such a record another candidate when its first record
    (a typo in the name, no birth date, last year's grade) took the synced student both
    fit: a second, weaker child, often a brother or sister of that student. Its pair with
    its possible duplicate's student replaces that merge when it is stronger and either
    its given names agree where the merge's do not (Antonio with Antonio rather than
    Antonia; not when the student has a twin named alike, Braden and Brayden, whom a
    spelling cannot tell apart) or it is ``margin_bits`` stronger; a near tie keeps the
    assignment's choice. ``alike_synced`` marks those students (None without families).
    """
    prob = scored.scores.probability
    bits = scored.scores.log_odds
    lv = scored.levels.levels
    first_j = next(j for j, c in enumerate(scored.levels.comparisons) if c.name == "first_name")
    same_name = {scored.levels.comparisons[first_j].levels.index(x) for x in _SAME_GIVEN_NAME}
    owner_of: dict[int, int] = {}
    for g, s in enumerate(result.synced.tolist()):
        if s != NONE:
            owner_of[s] = g
    members: dict[int, list[int]] = {}
    for idx, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(idx)
    # An open record's best pair with a synced student that a possible duplicate of it
    # took (whatever its own confidence: the record must go somewhere), else, for a
    # record without a merge, its best pair above the review floor.
    best: dict[int, tuple[bool, float, int]] = {}
    with_partner = np.zeros(len(groups), np.bool_)
    with_partner[np.fromiter((x for x, _ in possible), np.int64, count=len(possible))] = True
    wanted = open_a[scored.archived] & (
        with_partner[scored.archived] | (prob >= settings.review_threshold)
    )
    for k in np.flatnonzero(wanted).tolist():
        a, s = int(scored.archived[k]), int(scored.synced[k])
        winner = owner_of.get(s)
        partner = (
            winner is not None
            and winner != groups[a]
            and any((a, m) in possible for m in members[winner])
        )
        if a in own:
            own_bits, own_name = own[a]
            named = not own_name and lv[k, first_j] in same_name
            if alike_synced is not None and alike_synced[s]:
                named = False  # a twin named alike: a spelling tells nothing
            better = bits[k] >= own_bits + settings.margin_bits or (bits[k] > own_bits and named)
            if not partner or not better:
                continue
        elif not partner and prob[k] < settings.review_threshold:
            continue
        key = (partner, float(prob[k]), -k)
        if a not in best or key > best[a]:
            best[a] = key
    chosen: list[tuple[int, list[int]]] = []  # each proposal's pair and the twins it contests
    for a, (_, _, minus_k) in sorted(best.items()):
        k = -minus_k
        s = int(scored.synced[k])
        winner = owner_of.get(s)
        if winner is None:
            continue
        twins = [m for m in members[winner] if (a, m) in possible]
        if not twins:
            continue
        chosen.append((k, twins))
    # The evidence of every proposal scored at once (one numpy pass, not one per pair).
    contributions = scored.contributions(np.array([k for k, _ in chosen], np.int64)).tolist()
    out = []
    for (k, twins), bits in zip(chosen, contributions, strict=True):
        s = int(scored.synced[k])
        out.append(
            _review_merge(
                scored,
                k,
                a_students,
                b_students,
                hashes,
                bits=bits,
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
    bits: list[float] | None = None,
) -> Merge:
    """A review merge for scored pair ``k``, proposed outside the assignment (``bits``: the
    pair's contributions, when already computed with others')."""
    a, s = int(scored.archived[k]), int(scored.synced[k])
    lv = scored.levels.levels
    if bits is None:
        bits = scored.contributions(np.array([k]))[0].tolist()
    return Merge(
        archived_id=a_students[a].id,
        synced_id=b_students[s].id,
        confidence=float(scored.scores.probability[k]),
        decision="review",
        match_weight=float(scored.scores.log_odds[k]),
        margin_bits=None,
        evidence=[
            FieldEvidence(c.name, c.levels[lv[k, j]], bits[j])
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


_HOUSEHOLD_GUARDIAN = ("phone_and_email", "phone_or_email", "name_only")


def _typed_twice(
    proposals: list[Merge],
    families: Families | None,
    a_index: Mapping[str, int],
    b_index: Mapping[str, int],
    auto_threshold: float,
) -> list[Merge]:
    """Second records proposed with their first record's synced student become ``auto``
    when they are in that student's household and their own evidence is sure (confident,
    every field of :data:`_SECOND_RECORD` agreeing, and, when that student has a twin
    named alike, a middle name or an identifier agreeing too)."""
    if families is None:
        return proposals
    out = []
    for m in proposals:
        levels = {e.comparison: e.level for e in m.evidence}
        a, s = a_index[m.archived_id], b_index[m.synced_id]
        # Twins named alike (Braden and Brayden) break "no family names two children
        # alike": then only what belongs to the child alone makes the record sure.
        alike = families.alike_synced is not None and bool(families.alike_synced[s])
        own = levels.get("middle_name") in ("exact", "initial") or levels.get("identifier") in (
            "exact",
            "one_edit",
        )
        # The student's household: its family, or a guardian of its own by phone, email or
        # full name (a child typed in twice, each time with the other parent).
        household = levels.get("guardian") in _HOUSEHOLD_GUARDIAN or bool(
            families.same(np.array([a]), np.array([s]))[0]
        )
        sure = (
            bool(m.duplicates)
            and m.confidence >= auto_threshold
            and household
            and all(levels.get(c) in ok for c, ok in _SECOND_RECORD)
            and (own or not alike)
        )
        out.append(attrs.evolve(m, decision="auto", reasons=()) if sure else m)
    return out


_FIRST_NAME_LEVELS = next(c.levels for c in COMPARISONS if c.name == "first_name")


def _nearer_name(level: int, other: int) -> bool:
    """Whether given-name level ``level`` agrees strictly better than ``other`` (exact, then
    nickname, middle name, swapped, close, similar, initial, different; missing is last)."""
    missing = _FIRST_NAME_LEVELS.index("missing")
    return level != missing and (other == missing or level < other)


_LEFTOVER_REASON = (
    "the only unmatched records of one family and class, with other given names: the same "
    "child under another name (an English school name, the middle name) or a brother or "
    "sister; approve only if it is the same child"
)


def _family_leftovers(
    scored: ScoredPairs,
    families: Families,
    assigned: tuple[I64, I64],
    proposed: Sequence[Merge],
    ea: EncodedSide,
    eb: EncodedSide,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
    a_index: Mapping[str, int],
    b_index: Mapping[str, int],
) -> list[Merge]:
    """Review merges for the one unmatched child left on each side of a family's class, and
    for a record whose family's only child of its class another record took.

    ``assigned`` are the assignment's merges (archived and synced records, in plan order),
    ``proposed`` the other proposals so far: a record the assignment placed but whose
    merge was not proposed (names alone, under the auto threshold) is still free here.
    """
    free_a = np.ones(len(ea), np.bool_)
    free_b = np.ones(len(eb), np.bool_)
    owner = np.full(len(eb), -1, np.int64)
    contested = {m.synced_id for m in proposed}  # one contesting record per synced student
    for m in proposed:
        free_a[a_index[m.archived_id]] = False
    taken_a, taken_b = assigned
    free_a[taken_a] = False
    free_b[taken_b] = False
    # The first record of a synced student owns it.
    students, first = np.unique(taken_b, return_index=True)
    owner[students] = taken_a[first]
    lv = scored.levels.levels
    first_j = next(j for j, c in enumerate(scored.levels.comparisons) if c.name == "first_name")
    sa, sb, sf = second_records(families, ea, eb, free_a, owner, settings.grade_progression)
    s_at = _pair_positions(scored, sa, sb, len(eb))
    second_name = {
        a: int(lv[k, first_j]) for a, k in zip(sa.tolist(), s_at.tolist(), strict=True) if k != NONE
    }
    ia, ib = leftover_pairs(families, ea, eb, free_a, free_b, settings.grade_progression)
    out = []
    for a, k in zip(ia.tolist(), _pair_positions(scored, ia, ib, len(eb)).tolist(), strict=True):
        if k == NONE:
            continue
        # The first record's child under the same (or a nearer) given name is more likely
        # than a brother or sister under another name: the record goes as a second record.
        if a in second_name and _nearer_name(second_name[a], int(lv[k, first_j])):
            continue
        free_a[a] = False
        out.append(
            _review_merge(scored, k, a_students, b_students, hashes, reasons=[_LEFTOVER_REASON])
        )
    first_at = _pair_positions(scored, sf, sb, len(eb))
    for a, s, f, k, fk in zip(
        sa.tolist(), sb.tolist(), sf.tolist(), s_at.tolist(), first_at.tolist(), strict=True
    ):
        if k == NONE or not free_a[a] or b_students[s].id in contested:
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
