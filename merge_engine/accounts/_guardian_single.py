"""Levels that need the whole district: a contact detail or an address that names one adult.

Split from :mod:`merge_engine.accounts._guardian_levels`, whose levels compare
two accounts: these also look at every other account of the district and at
the other adults the old account met on its children (see
:data:`merge_engine._catalog.GUARDIAN_COMPARISONS`): ``singled_out`` (a
phone-only account whose number is one adult's, or an unnamed account whose
email spells one adult's full name) and the surname level ``in_email`` (the
old account's own address spells the sync account's surname).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .._catalog import GUARDIAN_COMPARISONS
from ._guardian_columns import _Columns
from ._guardian_pairs import Pairs, _holders

I64 = npt.NDArray[np.int64]

_FIRST = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["first_name"])}
_LAST = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["last_name"])}
_PHONE = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["phone"])}
_EMAIL = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["email"])}
_SINGLED = {level: i for i, level in enumerate(GUARDIAN_COMPARISONS["singled_out"])}
_LETTERS = re.compile(r"[a-z]+")


def full_name_in(email: str, first: str, last: str) -> bool:
    """Whether an address spells the adult's surname with their given name or its initial.

    ``veronica.marquez``, ``marquezveronica``, ``vmarquez``, ``marquezv77``
    for Veronica Marquez; not ``veronica1980`` (a given name alone may be
    another Veronica's) nor ``marquez.family``.
    """
    given = "".join(_LETTERS.findall(first.split(maxsplit=1)[0])) if first else ""
    surnames = {x for x in ("".join(last.split()), *last.split()) if len(x) >= 2}
    if not given or not surnames or not email:
        return False
    words = _LETTERS.findall(email.partition("@")[0])
    forms = {f for x in surnames for f in (given + x, x + given)}
    forms |= {f for x in surnames if len(x) >= 3 for f in (given[0] + x, x + given[0])}
    return any(w in forms for w in words) or (
        len(given) >= 2 and given in words and any(w in surnames for w in words)
    )


def surname_in_email(pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64]) -> None:
    """Turn ``different`` surnames into ``in_email`` where the given names are the same and the
    old account's own email, another than the sync account's, spells the sync account's full
    name (:func:`full_name_in`), an address no third account holds.

    ``vmarquez@outlook.com`` on Veronica Concepcion's old account and the sync's
    Veronica Marquez at ``vmarquez@aol.com``: a teacher typed the child's
    surname ("Mrs. Concepcion"), or the name changed; her own address says who
    she is. The same address on both is only a shared contact, and decides
    nothing about the surname: the rules for a different surname apply.
    """
    last = levels["last_name"]
    where = np.flatnonzero(
        (levels["first_name"] == _FIRST["exact"])
        & (last == _LAST["different"])
        & (levels["email"] != _EMAIL["exact"])
    )
    if not len(where):
        return
    o_email, n_email = old.coded("email"), new.coded("email")
    holders = _holders(o_email, n_email)
    o = pairs.old_ix[pairs.old_of[where]].tolist()
    n = pairs.new_ix[pairs.new_of[where]].tolist()
    spelled = [
        holders[o_email.codes[i]] <= 2 and full_name_in(old.email[i], new.first[j], new.last[j])
        for i, j in zip(o, n, strict=True)
    ]
    last[where[np.array(spelled, np.bool_)]] = _LAST["in_email"]


def singled_out(pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64]) -> I64:
    """The ``singled_out`` level of every pair (``no``, ``phone`` or ``email_name``).

    ``phone`` when the old account has no name and no email (a teacher typed
    a parent's number), its phone is the sync account's and no other
    account's in the district, on either side, and it met other adults on
    its children, each with a phone of their own: the number then tells the
    child's adults apart. With no other adult to tell apart (the only one the
    sync lists), the number may be a home phone of an adult who left.

    ``email_name``: see :func:`_email_name`.
    """
    phone = levels["phone"]
    level = np.full(len(phone), _SINGLED["no"], np.int64)
    _email_name(pairs, old, new, levels, level)
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


def _email_name(
    pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], level: I64
) -> None:
    """Set ``email_name`` where an unnamed old account's email names one adult of its children.

    The old account has no name and its email spells the sync account's
    full name (given name or initial, and surname: :func:`full_name_in`;
    first-name level ``in_email``, so an address no third account holds),
    it spells no other adult the old account met on its children, and its
    phone, if it has one, is not another number. The sync account's own
    email, if it has one, is its alone: a household whose adults share one
    address (often named after one of them) may have typed it for either.
    """
    spelled = levels["first_name"] == _FIRST["in_email"]
    where = np.flatnonzero(spelled)
    if not len(where):
        return
    per_old = np.bincount(pairs.old_of, weights=spelled, minlength=len(pairs.old_ix))
    ok = (per_old[pairs.old_of[where]] == 1) & (levels["phone"][where] != _PHONE["different"])
    email = new.coded("email")
    shared = np.bincount(email.codes, minlength=len(email.values)) > 1
    if email.code_of("") >= 0:
        shared[email.code_of("")] = False  # no email: nothing shared
    o = pairs.old_ix[pairs.old_of[where]]
    n = pairs.new_ix[pairs.new_of[where]]
    ok &= ~shared[email.codes[n]]
    ok &= np.array(
        [
            full_name_in(old.email[i], new.first[j], new.last[j])
            for i, j in zip(o.tolist(), n.tolist(), strict=True)
        ],
        np.bool_,
    )
    level[where[ok]] = _SINGLED["email_name"]
