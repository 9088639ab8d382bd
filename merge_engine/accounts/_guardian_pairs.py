"""Pairs of guardian accounts as indices into both sides' columns, and values counted in both.

Split from :mod:`merge_engine.accounts._guardian_levels` so that the modules
computing levels and district-wide facts share them without importing each
other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ._guardian_columns import _Coded

I64 = npt.NDArray[np.int64]


class Pairs:
    """Pairs of accounts, as indices into the sides' columns (each side's distinct accounts)."""

    __slots__ = ("new_ix", "new_of", "old_ix", "old_of")

    def __init__(self, old_account: I64, new_account: I64) -> None:
        self.old_ix, old_of = np.unique(old_account, return_inverse=True)
        self.new_ix, new_of = np.unique(new_account, return_inverse=True)
        self.old_of = old_of.reshape(-1).astype(np.int64)
        self.new_of = new_of.reshape(-1).astype(np.int64)

    def codes(
        self, old: _Coded, new: _Coded, empty: Any, at: I64 | None = None
    ) -> tuple[I64, I64, list[Any], int]:
        """Both sides' codes of one column for every pair (or the pairs ``at``), in one space.

        The space is ``values``; also the code of ``empty`` (``-1`` when no account has it).
        """
        old_of, new_of = (
            (self.old_of, self.new_of) if at is None else (self.old_of[at], self.new_of[at])
        )
        in_old = _unify(old, new)
        co = old.codes[self.old_ix][old_of]
        cn = in_old[new.codes[self.new_ix]][new_of]
        empty_code = old.code_of(empty)
        if empty_code < 0 and new.code_of(empty) >= 0:
            empty_code = int(in_old[new.code_of(empty)])
        return co, cn, old.values + new.values, empty_code


def _unify(old: _Coded, new: _Coded) -> I64:
    """The code of each new value in the code space ``old.values + new.values``.

    Made once per pair of columns: levels and facts ask for it again and again,
    and each time is a dictionary look-up per distinct value.
    """
    found = old._unified.get(id(new))
    if found is not None and found[0] is new:
        return found[1]
    in_old = old.codes_of(new.values)
    unified: I64 = np.where(in_old >= 0, in_old, len(old.values) + np.arange(len(new.values)))
    old._unified[id(new)] = (new, unified)
    return unified


def _holders(old: _Coded, new: _Coded) -> I64:
    """How many accounts of both sides hold each value, in the pairs' code space."""
    every = np.concatenate([old.codes, _unify(old, new)[new.codes]])
    return np.bincount(every, minlength=len(old.values) + len(new.values))


def _per_pair(co: I64, cn: I64, values: list[Any], function: Callable[[Any, Any], int]) -> I64:
    """``function(old value, new value)`` for every pair, called once per distinct pair."""
    width = len(values)
    distinct, inverse = np.unique(co * width + cn, return_inverse=True)
    table = [function(*map(values.__getitem__, divmod(k, width))) for k in distinct.tolist()]
    result: I64 = np.array(table, np.int64)[inverse.reshape(-1)]
    return result
