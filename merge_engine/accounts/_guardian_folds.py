"""One adult, two old accounts: which old accounts are folded into one before pairing.

The old system may know an adult twice: a second login made with a mistyped
email or a phone instead of an email, usually one per child. Both accounts
meet the adult's sync account on merged children, and a one-to-one
assignment can give it to only one of them; the other stays behind with its
history, or the two tie and the pair goes to review.

Old accounts are grouped as one adult only when each of them, on its own,
identifies the same sync account by the rules that make a pair ``auto``
(its given name, or the name its own email spells, with a shared contact;
see :func:`merge_engine.accounts._guardian_rules.reasons`), and nothing
between them says two people: they are never listed on one child (two
accounts on one child's list are two guardians), their given names and
relationships do not disagree, and their SIS ids are not different. A
mother and a father sharing the family email or home phone are not an
identified adult each (a shared contact never identifies anyone), so they
are never grouped.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from ..plan import GuardianFold, GuardianMerge
from ._guardian_columns import _Columns
from ._guardian_decide import decide_kinds
from ._guardian_levels import LEVEL_INDEX, _first_level, _relationship_level, _typo
from ._guardian_pairs import Pairs
from ._guardian_rules import BELOW_THRESHOLD, GuardianRules

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def same_adult_groups(pairs: Pairs, old: _Columns, identified: npt.NDArray[np.bool_]) -> I64:
    """A group number for each of the pairs' old accounts (``pairs.old_ix`` order).

    ``identified``: per pair, whether the old account identifies the sync
    account on its own. Old accounts that identify one sync account, and
    only that one, share a group when every two of them may be one adult;
    every other account is a group of its own.
    """
    n_old = len(pairs.old_ix)
    group = np.arange(n_old, dtype=np.int64)
    at = np.flatnonzero(identified)
    if not len(at):
        return group
    per_old = np.bincount(pairs.old_of[at], minlength=n_old)
    at = at[per_old[pairs.old_of[at]] == 1]  # an account that identifies two is no one's
    per_new = np.bincount(pairs.new_of[at], minlength=len(pairs.new_ix))
    at = at[per_new[pairs.new_of[at]] >= 2]
    if not len(at):
        return group
    order = np.lexsort((pairs.old_of[at], pairs.new_of[at]))
    at = at[order]
    new_of = pairs.new_of[at]
    bounds = np.flatnonzero(np.diff(new_of)) + 1
    children = _children_of(old, pairs.old_ix[pairs.old_of[at]])
    for members in np.split(pairs.old_of[at], bounds):
        accounts = pairs.old_ix[members].tolist()
        if all(
            not children[a] & children[b] and _may_be_one(old, a, b)
            for k, a in enumerate(accounts)
            for b in accounts[k + 1 :]
        ):
            group[members] = members[0]
    _, renumbered = np.unique(group, return_inverse=True)
    result: I64 = renumbered.reshape(-1).astype(np.int64)
    return result


def _children_of(old: _Columns, accounts: I64) -> dict[int, set[int]]:
    """The student codes each of ``accounts`` is linked to (only theirs: a district has many)."""
    rows = np.flatnonzero(np.isin(old.row_account, accounts))
    children: dict[int, set[int]] = {int(a): set() for a in accounts.tolist()}
    for a, student in zip(
        old.row_account[rows].tolist(), old.row_student[rows].tolist(), strict=True
    ):
        children[a].add(student)
    return children


def _may_be_one(old: _Columns, a: int, b: int) -> bool:
    """Whether two old accounts (listed on no common child) may be one adult: nothing
    between them says two people."""
    first = _first_level(old.first[a], old.first[b])
    if first not in ("exact", "nickname", "missing") and not (
        first == "close" and _typo(old.first[a], old.first[b])
    ):
        return False
    if _relationship_level(old.relationships[a], old.relationships[b]) == "conflicting":
        return False
    return not (old.sis[a] and old.sis[b] and old.sis[a] != old.sis[b])


def adult_groups(
    pairs: Pairs,
    old: _Columns,
    new: _Columns,
    levels: Mapping[str, I64],
    combo: I64,
    base: F64,
    met_auto: npt.NDArray[np.bool_],
    rules: GuardianRules,
) -> I64:
    """:func:`same_adult_groups` of the pairs' old accounts, by the rules' identification.

    A pair identifies the adult when the rules find nothing against it
    (confidence and margin aside: they depend on the groups) and its given
    name agrees or is spelled by the old account's email: a shared contact
    with a role alone is a household's, not an identified adult.
    """
    named = np.isin(levels["first_name"], _NAMED)
    # Only a sync account met by two old accounts with agreeing names can group them.
    shared = np.bincount(pairs.new_of, weights=named, minlength=len(pairs.new_ix)) >= 2
    at = np.flatnonzero(shared[pairs.new_of] & named)
    identified = np.zeros(len(pairs.old_of), np.bool_)
    if len(at):
        decided, kind_of = decide_kinds(
            pairs,
            old,
            new,
            levels,
            at,
            (combo, base, np.zeros(len(base))),
            np.full(len(at), np.inf),
            rules,
            met_auto[at],
        )
        clear = [set(d[3]) <= {BELOW_THRESHOLD} for d in decided]
        identified[at] = np.array(clear, np.bool_)[np.array(kind_of, np.int64)]
    return same_adult_groups(pairs, old, identified)


_NAMED = [LEVEL_INDEX["first_name"][x] for x in ("exact", "nickname", "close", "in_email")]


def guardian_folds(
    pairs: Pairs,
    old: _Columns,
    new: _Columns,
    levels: Mapping[str, I64],
    chosen_of: tuple[I64, I64, list[GuardianMerge]],
    scores: tuple[I64, F64, F64],
    met_auto: npt.NDArray[np.bool_],
    rules: GuardianRules,
    met: Callable[[I64], list[tuple[tuple[str, str], ...]]],
) -> list[GuardianFold]:
    """The other old accounts of each adult whose group was merged, folded into its account.

    A fold is ``auto`` when the guardian merge it joins is, and its own pair
    with the sync account would be on its own.
    """
    group, chosen, found = chosen_of
    size = np.bincount(group)
    if not len(size) or size.max() < 2:
        return []
    width = np.int64(len(pairs.new_ix))
    pair_key = pairs.old_of * width + pairs.new_of  # sorted: pairs come in (old, new) order
    members_of: dict[int, list[int]] = {}
    for member in np.flatnonzero(size[group] > 1).tolist():
        members_of.setdefault(int(group[member]), []).append(member)
    at: list[int] = []
    joins: list[int] = []
    grouped = np.flatnonzero(size[group[pairs.old_of[chosen]]] > 1)
    for k, c in zip(grouped.tolist(), chosen[grouped].tolist(), strict=True):
        first = int(pairs.old_of[c])
        for member in members_of.get(int(group[first]), ()):
            if member == first:
                continue
            key = member * width + pairs.new_of[c]
            p = int(np.searchsorted(pair_key, key))
            if p < len(pair_key) and pair_key[p] == key:
                at.append(p)
                joins.append(k)
    if not at:
        return []
    where = np.array(at, np.int64)
    decided, kind_of = decide_kinds(
        pairs, old, new, levels, where, scores, np.full(len(at), np.inf), rules, met_auto[where]
    )
    folds = []
    for p, k, d, students in zip(at, joins, kind_of, met(where), strict=True):
        confidence, _, evidence, reasons = decided[d]
        into = found[k]
        if into.decision != "auto":
            reasons = (*reasons, "the guardian merge it joins is not automatic")
        folds.append(
            GuardianFold(
                old.ids[int(pairs.old_ix[pairs.old_of[p]])],
                into.archived_guardian_id,
                into.synced_guardian_id,
                confidence,
                "review" if reasons else "auto",
                evidence,
                reasons,
                students,
            )
        )
    return sorted(folds, key=operator.attrgetter("archived_guardian_id"))
