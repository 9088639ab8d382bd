"""Archived duplicates: the same child typed in twice before the sync.

Two teachers may each have added the same child. Such records must all
go to the same synced student, so they are grouped before assignment.
Grouping is deliberately strict: the given name must agree exactly or
as a nickname, the surname exactly or as a compound, no field may
contradict, and either the birth dates agree or (one is missing and) the
two records share a guardian contact, a guardian account or an address. Looser look-alikes
are left apart; they then compete for the same synced student and the
margin rule sends them to review.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..settings import Settings
from ._arrays import component_labels, isin, unique
from ._blocking import DUPLICATE_RULES, generate_candidates
from ._comparisons import COMPARISONS, shared_values
from ._features import EncodedSide, Vocabularies
from ._fellegi_sunter import MatchModel
from ._scoring import compare, score

__all__ = ["archived_groups", "rival_pairs"]

#: A synced student with more candidates than this is a common name, not a duplicate hint.
_MAX_RIVALS = 4

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def archived_groups(
    side: EncodedSide,
    vocab: Vocabularies,
    model: MatchModel,
    frequencies: dict[str, F64],
    settings: Settings,
    rivals: tuple[I64, I64] | None = None,
) -> tuple[I64, set[tuple[int, int]], int]:
    """Group labels per archived record, possible duplicates, and pairs compared.

    Possible duplicates are pairs that look like one child typed twice but
    not surely (a typo in the given name, twins look the same way): they are
    not grouped, but a record that loses its synced twin to one of them is
    proposed for review instead of being dropped. ``rivals`` are more pairs to
    compare (records that are candidates of one synced student, see
    :func:`rival_pairs`), besides those the duplicate blocking rules find.
    """
    n = len(side)
    candidates = generate_candidates(
        side,
        side,
        vocab.names,
        rules=[r for r in settings.blocking_rules if r in DUPLICATE_RULES],
        max_block_pairs=settings.max_block_pairs,
        grade_progression=0,
        upper_only=True,
    )
    ia, ib = candidates.archived, candidates.synced
    blocked = ia * np.int64(n) + ib
    if rivals is not None and len(rivals[0]):
        codes = unique(np.concatenate([blocked, rivals[0] * np.int64(n) + rivals[1]]))
        ia, ib = codes // n, codes % n
    upper = ia < ib
    ia, ib = ia[upper], ib[upper]
    rival_only = ~isin(ia * np.int64(n) + ib, blocked)
    levels = compare(side, side, ia, ib, vocab, settings, grade_progression=0)
    scored = score(side, side, ia, ib, levels, model, frequencies)
    lv = levels.levels

    def at(name: str, *allowed: str) -> npt.NDArray[np.bool_]:
        j = next(i for i, c in enumerate(COMPARISONS) if c.name == name)
        wanted = np.zeros(len(COMPARISONS[j].levels), np.bool_)  # per level code
        wanted[[COMPARISONS[j].levels.index(x) for x in allowed]] = True
        found: npt.NDArray[np.bool_] = wanted[lv[:, j]]
        return found

    same_name = at("first_name", "exact", "nickname") & at("last_name", "exact")
    no_conflict = (
        at("dob", "missing", "exact")
        & at("gender", "missing", "same")
        & at("identifier", "missing", "exact")
        & at("middle_name", "missing", "exact", "initial")
        & at("grade", "missing", "expected")
        & at("school", "missing", "same")
    )
    # Siblings share guardians and addresses, and nickname-equivalent sibling
    # names exist (Ellie and Eleanor): a household anchor needs an exact name. One
    # guardian account linked to both records is a household too, whatever its contacts.
    household = (
        at("guardian", "phone_and_email", "phone_or_email")
        | at("address", "exact")
        | shared_values(side.guardian_accounts, side.guardian_accounts, ia, ib)
    )
    anchored = (
        at("dob", "exact") | at("identifier", "exact") | (household & at("first_name", "exact"))
    )
    confident = scored.scores.probability >= settings.auto_threshold
    dup = same_name & no_conflict & anchored & confident
    labels = component_labels(n, ia[dup], ib[dup])
    # A loosely similar given name in another class of one household is a brother or
    # sister (Mason and Grayson), not a slip: it needs the class or the birth date.
    loose = at("first_name", "similar") & ~(at("grade", "missing", "expected") | at("dob", "exact"))
    # Records that only compete for one synced student (no key of their own in common)
    # are a child typed twice only with the given name and the class agreeing.
    rival = at("first_name", "exact", "nickname") & at("grade", "missing", "expected")
    possible = (
        at("first_name", "exact", "nickname", "middle", "close", "similar")
        & ~loose
        & (~rival_only | rival)
        # A surname typed as its initial (Abigail H.) only inside the household.
        & (at("last_name", "exact", "compound", "close") | (at("last_name", "initial") & household))
        & at("dob", "missing", "exact", "day_month_swap", "one_digit")
        & at("grade", "missing", "expected", "adjacent")
        & (at("dob", "exact") | household | at("school", "same"))
        & ~dup
    )
    pairs = {
        (int(x), int(y)) for x, y in zip(ia[possible].tolist(), ib[possible].tolist(), strict=True)
    }
    return labels.astype(np.int64), pairs | {(y, x) for x, y in pairs}, len(ia)


def rival_pairs(archived: I64, synced: I64, likely: npt.NDArray[np.bool_]) -> tuple[I64, I64]:
    """Pairs of archived records that are both ``likely`` candidates of one synced student.

    A child typed twice whose records share no blocking key (a surname slip in one, the
    parent's email typed differently in the other) still has both records competing for
    its synced student. A student with more than a few such candidates has a common
    name, and its candidates are left to the blocking rules.

    The pairs come synced student by synced student, each student's in the order of its
    candidates (by record): sorted as one int64 key, laid out by array indexing.
    """
    a, s = archived[likely], synced[likely]
    if not len(a):
        empty = np.empty(0, np.int64)
        return empty, empty
    width = np.int64(int(a.max()) + 1)
    key = np.sort(s.astype(np.int64) * width + a)  # by synced student, then by record
    a = key % width
    s = key // width
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[starts, len(s)])
    some = (sizes >= 2) & (sizes <= _MAX_RIVALS)
    starts, sizes = starts[some], sizes[some]
    n_pairs = sizes * (sizes - 1) // 2
    block = np.repeat(np.arange(len(starts)), n_pairs)
    within = np.arange(len(block)) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    first = starts[block]
    size = sizes[block]
    return a[first + _FIRST_OF[size, within]], a[first + _SECOND_OF[size, within]]


def _pair_tables() -> tuple[I64, I64]:
    """For a block of ``k`` records (up to ``_MAX_RIVALS``), the two offsets of its ``j``-th
    pair, pairs in order (0, 1), (0, 2), ... (1, 2), ...: ``[k, j]``."""
    first = np.zeros((_MAX_RIVALS + 1, _MAX_RIVALS * (_MAX_RIVALS - 1) // 2), np.int64)
    second = np.zeros_like(first)
    for k in range(2, _MAX_RIVALS + 1):
        pairs = [(x, y) for x in range(k) for y in range(x + 1, k)]
        first[k, : len(pairs)] = [x for x, _ in pairs]
        second[k, : len(pairs)] = [y for _, y in pairs]
    return first, second


_FIRST_OF, _SECOND_OF = _pair_tables()
