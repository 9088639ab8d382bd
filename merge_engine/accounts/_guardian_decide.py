"""Guardian pairs scored and decided: bits per pair, the prior, and one decision per kind of pair.

Split from :mod:`merge_engine.accounts._guardians` (which finds and assigns pairs)
so that :mod:`merge_engine.accounts._guardian_folds` decides pairs the same way.
The bits of each level and the rules come from
:class:`~merge_engine.accounts._guardian_rules.GuardianRules`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .._evidence import FieldEvidence
from ._guardian_columns import _Columns
from ._guardian_levels import (
    FACTS,
    GUARDIAN_COMPARISONS,
    LEVEL_INDEX,
    NAMES,
    RADIX,
    combination,
    facts,
)
from ._guardian_pairs import Pairs
from ._guardian_rules import Decision, GuardianRules

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Decided = tuple[float, Decision, tuple[FieldEvidence, ...], tuple[str, ...]]

_RULE_FACTS = (*FACTS, "auto_child")  # auto_child: met on a student merge that is auto


def score(levels: Mapping[str, I64], rules: GuardianRules) -> tuple[I64, F64]:
    """Each pair's combined level code (see :func:`combination`) and its evidence in bits."""
    arrays = rules.bit_arrays(GUARDIAN_COMPARISONS)
    size = len(next(iter(levels.values())))
    combo = np.zeros(size, np.int64)
    bits = np.zeros(size)
    for name, radix in zip(NAMES, RADIX, strict=True):
        combo = combo * radix + levels[name]
        bits = bits + arrays[name][levels[name]]
    return combo, bits


def prior_and_cap(
    group_of: I64,
    new_of: I64,
    base: F64,
    levels: Mapping[str, I64],
    rules: GuardianRules,
) -> tuple[F64, F64]:
    """Each pair's bits with its prior (counted in adults: groups of old accounts) and the cap.

    Returns the bits and, per pair, what the cap took off (0 where none).
    """
    per_group = np.bincount(group_of)
    per_new = np.bincount(new_of)
    # Pairs are distinct (old, new): only a group of several old accounts repeats an edge.
    big = np.flatnonzero(per_group[group_of] > 1)
    if len(big):
        width = np.int64(len(per_new))
        _, first = np.unique(group_of[big] * width + new_of[big], return_index=True)
        extra = np.ones(len(big), np.bool_)
        extra[first] = False
        per_group = per_group - np.bincount(group_of[big[extra]], minlength=len(per_group))
        per_new = per_new - np.bincount(new_of[big[extra]], minlength=len(per_new))
    candidates = np.maximum(per_group[group_of], per_new[new_of])
    bits = rules.prior_bits(candidates) + base
    # Two adults of one household share contacts; a different given name wins.
    cap = rules.cap_bits()
    over = (levels["first_name"] == LEVEL_INDEX["first_name"]["different"]) & (bits > cap)
    capped = np.where(over, cap - bits, 0.0)
    return np.where(over, cap, bits), capped


def decide_kinds(
    pairs: Pairs,
    old: _Columns,
    new: _Columns,
    levels: Mapping[str, I64],
    chosen: I64,
    scores: tuple[I64, F64, F64],
    margin: F64,
    rules: GuardianRules,
    auto_child: npt.NDArray[np.bool_],
    chosen_facts: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> tuple[list[Decided], list[int]]:
    """The decision of each chosen pair, made once per kind of pair (most pairs share a few).

    ``chosen_facts``: the :func:`facts` of ``chosen`` when the caller has them
    (a second decision of the same pairs: the facts are the costly part).
    Returns the decisions and, for each chosen pair, the index of its own.
    """
    combo, bits, capped = scores
    found = dict(facts(pairs, old, new, levels, chosen) if chosen_facts is None else chosen_facts)
    found["auto_child"] = auto_child
    # Everything but the ids and students depends on a few values: key on them.
    kind = np.unique(bits[chosen], return_inverse=True)[1].reshape(-1).astype(np.int64)
    kind = (kind * int(combo.max() + 1) + combo[chosen]) * 2 + (capped[chosen] != 0)
    kind = kind * 2 + (margin < rules.margin_bits)
    for fact in _RULE_FACTS:
        kind = kind * 2 + found[fact]
    _, first, kind_of = np.unique(kind, return_index=True, return_inverse=True)
    at = chosen[first]  # one pair of each kind
    decided = []
    for code, b, cut, near, *flags in zip(
        combo[at].tolist(),
        bits[at].tolist(),
        capped[at].tolist(),
        margin[first].tolist(),
        *(found[fact][first].tolist() for fact in _RULE_FACTS),
        strict=True,
    ):
        decided.append(
            rules.decide(
                combination(code), b, cut, near, dict(zip(_RULE_FACTS, flags, strict=True))
            )
        )
    return decided, kind_of.reshape(-1).tolist()
