"""Household agreement: a guardian pair met only on student merges in review, confirmed by a
co-guardian.

A guardian pair without a shared contact (a parent who changed email) is
identified by its full name only on a child whose own merge is sure (see
:func:`merge_engine.accounts._guardian_rules.reasons`, ``auto_child``): on a
student merge in review the two children might be two different families,
and two adults of one name in two families are not one adult.

When another guardian of the same merged pair of children is identified by
a shared email, phone or SIS id and its full name, the two children's
records belong to one household whatever the student decision (a wrong
student merge inside a household is a sibling's, and siblings share their
adults). Within one household, the same full name is the same adult: such a
pair is decided as if its child's merge were sure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from ._guardian_levels import LEVEL_INDEX
from ._guardian_pairs import Pairs

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

_ANCHORS = ("email", "phone", "sis_id")
_FIRST = [LEVEL_INDEX["first_name"][x] for x in ("exact", "nickname")]
_LAST = [LEVEL_INDEX["last_name"][x] for x in ("exact", "compound")]


def household_confirmed(
    pairs: Pairs,
    levels: Mapping[str, I64],
    chosen: I64,
    auto: Flags,
    met: tuple[I64, I64, I64],
    n_merges: int,
) -> Flags:
    """Per pair, whether a student merge it met on has a co-guardian pair that confirms it.

    ``chosen``: the assigned pairs, ``auto``: whether each of them is
    ``auto``; ``met``: ``(starts, ends, which)``, the student merges each
    pair met on (``which[starts[p]:ends[p]]``). A confirming pair is an
    assigned ``auto`` pair that shares an exact email, phone or SIS id and
    whose given name and surname agree.
    """
    starts, ends, which = met
    anchored = np.zeros(len(pairs.old_of), np.bool_)
    for name in _ANCHORS:
        anchored |= levels[name] == LEVEL_INDEX[name]["exact"]
    named = np.isin(levels["first_name"], _FIRST) & np.isin(levels["last_name"], _LAST)
    confirming = np.zeros(len(pairs.old_of), np.bool_)
    confirming[chosen[auto]] = True
    confirming &= anchored & named
    pair_at = np.repeat(np.arange(len(starts), dtype=np.int64), ends - starts)
    merges = np.zeros(n_merges, np.bool_)
    merges[which[confirming[pair_at]]] = True
    confirmed = np.zeros(len(pairs.old_of), np.bool_)
    np.logical_or.at(confirmed, pair_at, merges[which])
    return confirmed
