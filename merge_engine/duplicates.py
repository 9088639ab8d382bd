"""Archived duplicates: the same child typed in twice before the sync.

Two teachers may each have added the same child. Such records must all
go to the same synced student, so they are grouped before assignment.
Grouping is deliberately strict: the given name must agree exactly or
as a nickname, the surname exactly or as a compound, no field may
contradict, and either the birth dates agree or (one is missing and) the
two records share a guardian contact or an address. Looser look-alikes
are left apart; they then compete for the same synced student and the
margin rule sends them to review.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .blocking import generate_candidates
from .comparisons import COMPARISONS
from .features import EncodedSide, Vocabulary
from .fellegi_sunter import MatchModel
from .scoring import compare, score
from .settings import Settings

__all__ = ["archived_groups"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def archived_groups(
    side: EncodedSide,
    names: Vocabulary,
    model: MatchModel,
    frequencies: dict[str, F64],
    settings: Settings,
) -> tuple[I64, int]:
    """A group label per archived record, and how many pairs were compared."""
    n = len(side)
    candidates = generate_candidates(
        side, side, names, rules=settings.blocking_rules, max_block_pairs=settings.max_block_pairs
    )
    upper = candidates.archived < candidates.synced
    ia, ib = candidates.archived[upper], candidates.synced[upper]
    levels = compare(side, side, ia, ib, names, settings, grade_progression=0)
    scored = score(side, side, ia, ib, levels, model, frequencies)
    lv = levels.levels

    def at(name: str, *allowed: str) -> npt.NDArray[np.bool_]:
        j = next(i for i, c in enumerate(COMPARISONS) if c.name == name)
        codes = [COMPARISONS[j].levels.index(x) for x in allowed]
        return np.isin(lv[:, j], codes)

    same_name = at("first_name", "exact", "nickname") & at("last_name", "exact", "compound")
    no_conflict = (
        at("dob", "missing", "exact")
        & at("gender", "missing", "same")
        & at("identifier", "missing", "exact")
        & at("middle_name", "missing", "exact", "initial")
        & at("grade", "missing", "expected")
    )
    anchored = at("dob", "exact") | at("guardian", "phone_and_email", "phone_or_email") | at(
        "address", "exact"
    ) | at("identifier", "exact")
    confident = scored.scores.probability >= settings.auto_threshold
    dup = same_name & no_conflict & anchored & confident
    graph = sparse.coo_matrix((np.ones(int(dup.sum())), (ia[dup], ib[dup])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64), len(ia)
