"""A comparison that needs the whole district: a contact detail that singles out one adult.

Split from :mod:`merge_engine.accounts._guardian_levels`: the other levels
compare two accounts; ``singled_out`` also looks at every other account of
the district and at the other adults the old account met on its children
(see :data:`merge_engine._catalog.GUARDIAN_COMPARISONS`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .._catalog import GUARDIAN_COMPARISONS
from ._guardian_columns import _Columns
from ._guardian_pairs import Pairs, _holders

I64 = npt.NDArray[np.int64]

_PHONE = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["phone"])}
_SINGLED = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["singled_out"])}


def singled_out(pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64]) -> I64:
    """The ``singled_out`` level of every pair, from the pairs' ``phone`` levels.

    ``phone`` when the old account has no name and no email (a teacher typed
    a parent's number), its phone is the sync account's and no other
    account's in the district, on either side, and it met other adults on
    its children, each with a phone of their own: the number then tells the
    child's adults apart. With no other adult to tell apart (the only one the
    sync lists), the number may be a home phone of an adult who left: ``no``.
    """
    phone = levels["phone"]
    level = np.full(len(phone), _SINGLED["no"], np.int64)
    where = np.flatnonzero(phone == _PHONE["exact"])
    if not len(where):
        return level
    o = pairs.old_ix[pairs.old_of[where]]
    bare = np.array([not old.first[i] and not old.email[i] for i in o.tolist()], np.bool_)
    where, o = where[bare], o[bare]
    if not len(where):
        return level
    o_phone, n_phone = old.coded("phone_key"), new.coded("phone_key")
    alone = _holders(o_phone, n_phone)[o_phone.codes[o]] == 2
    # Other adults, and every other pair of the old account with a phone that differs.
    n_old = len(pairs.old_ix)
    open_ = np.bincount(pairs.old_of, weights=phone != _PHONE["different"], minlength=n_old)
    adults = np.bincount(pairs.old_of, minlength=n_old)
    of = pairs.old_of[where]
    level[where[alone & (open_[of] == 1) & (adults[of] >= 2)]] = _SINGLED["phone"]
    return level
