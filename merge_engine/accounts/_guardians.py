"""Guardian accounts across a merge: which old account is which new one.

When an archived student is merged into its synced twin, the archived
student's guardian accounts (old logins, message history) and the synced
student's contacts (accounts the sync created) often describe the same
adults. Pairs are first compared within merged students (siblings share
accounts, so a pair seen on several merged siblings is decided once), then
assigned one to one. An old account that met no counterpart there (its
child left, or a sibling was enrolled in its place) is then paired across
the district, but only with the one sync account that shares an exact
email or phone with it and carries the same name.

Two different adults of one household share a surname and often a phone
or an email: a shared contact detail alone never merges accounts. The
comparisons and facts live in :mod:`merge_engine.accounts._guardian_levels`, the
bits and the rules that make a pair ``auto`` in
:mod:`merge_engine.accounts._guardian_rules`; every number comes from
:class:`merge_engine.Settings`.

Planning works on columns (:class:`_Columns`): a district has hundreds of
thousands of accounts, so values are compared once per distinct pair of
values with numpy, not once per pair of accounts.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._evidence import FieldEvidence, probability, to_tuple
from .._plan_accounts import trusted_merge
from ..matching._arrays import unique as distinct
from ..matching._assignment import NONE, assign
from ..model import Roster
from ..plan import GuardianFold, GuardianMerge
from ._guardian_actions import Assigned, GuardianAction, _column_actions, guardian_actions
from ._guardian_columns import GuardianAccount, _Coded, _Columns
from ._guardian_decide import Decided, decide_kinds, prior_and_cap, score
from ._guardian_folds import adult_groups, guardian_folds
from ._guardian_household import household_confirmed
from ._guardian_levels import (
    GUARDIAN_COMPARISONS,
    LEVEL_INDEX,
    compare_guardians,
    facts,
    levels_of,
)
from ._guardian_pairs import Pairs, _unify
from ._guardian_rules import Decision, GuardianRules, logit

if TYPE_CHECKING:
    from ..plan import Merge
    from ..settings import Settings

__all__ = [
    "GUARDIAN_COMPARISONS",
    "GuardianAccount",
    "GuardianAction",
    "GuardianFold",
    "GuardianMerge",
    "compare_guardians",
    "guardian_accounts",
    "guardian_actions",
    "match_guardians",
    "match_guardians_with_folds",
]

I64 = npt.NDArray[np.int64]


def guardian_accounts(roster: Roster, phone_region: str = "US") -> dict[str, GuardianAccount]:
    """Guardian accounts of a roster, keyed by id; the first non-empty value of each field wins."""
    return _Columns.from_roster(roster, phone_region).accounts()


def match_guardians(
    archived: Roster,
    synced: Roster,
    merges: Sequence[Merge],
    *,
    auto_threshold: float = 0.99,
    review_threshold: float = 0.3,
    accounts: tuple[Mapping[str, GuardianAccount], Mapping[str, GuardianAccount]] | None = None,
    settings: Settings | None = None,
) -> list[GuardianMerge]:
    """Pair old guardian accounts with the accounts the sync created.

    Read-only and deterministic. Each old account goes to at most one new
    account and the other way round; a pair needs an identified adult (see
    :func:`merge_engine.accounts._guardian_rules.reasons`) to be merged automatically.
    ``settings`` (when given) supplies every threshold, the thresholds
    arguments otherwise. An adult's second old account is not among them:
    see :func:`match_guardians_with_folds`.
    """
    return match_guardians_with_folds(
        archived,
        synced,
        merges,
        auto_threshold=auto_threshold,
        review_threshold=review_threshold,
        accounts=accounts,
        settings=settings,
    )[0]


def match_guardians_with_folds(
    archived: Roster,
    synced: Roster,
    merges: Sequence[Merge],
    *,
    auto_threshold: float = 0.99,
    review_threshold: float = 0.3,
    accounts: tuple[Mapping[str, GuardianAccount], Mapping[str, GuardianAccount]] | None = None,
    settings: Settings | None = None,
) -> tuple[list[GuardianMerge], list[GuardianFold]]:
    """:func:`match_guardians`, and the second old accounts of an adult folded into the first.

    An adult with two old accounts that each identify their sync account
    (see :mod:`merge_engine.accounts._guardian_folds`) has one guardian merge
    (into the old account that matches best) and one
    :class:`~merge_engine.plan.GuardianFold` per other old account.
    """
    rules = (
        GuardianRules.from_settings(settings)
        if settings is not None
        else GuardianRules(auto_threshold=auto_threshold, review_threshold=review_threshold)
    )
    if accounts is None:
        old = _Columns.from_roster(archived, rules.phone_region)
        new = _Columns.from_roster(synced, rules.phone_region)
    else:
        old, new = _Columns.from_accounts(accounts[0]), _Columns.from_accounts(accounts[1])
    found, folds, _ = _match_columns(old, new, merges, rules)
    return found, folds


_ARCHIVED_ID = operator.attrgetter("archived_id")
_SYNCED_ID = operator.attrgetter("synced_id")
_UNMET = FieldEvidence("children", "none_merged", 0.0)


def _match_columns(
    old: _Columns,
    new: _Columns,
    merges: Sequence[Assigned],
    rules: GuardianRules,
    merge_a: I64 | None = None,
) -> tuple[list[GuardianMerge], list[GuardianFold], I64]:
    """:func:`match_guardians` on both sides' accounts as columns; also the folds of second
    old accounts and every old account either pairs (the matched ones).

    ``merge_a``: the old side's student code of each merge, when the caller has them.
    """
    found, folds, old_chosen, new_chosen = _match_on_children(old, new, merges, rules, merge_a)
    found_at = old_chosen  # the old account of each of ``found``
    if folds:
        # Ids are sorted: an id's place among them is its account index.
        at = functools.partial(bisect.bisect_left, old.ids)
        folded = np.array([at(f.archived_guardian_id) for f in folds], np.int64)
        old_chosen = np.sort(np.concatenate([old_chosen, folded]))
    more, old_more = _match_district_wide(old, new, old_chosen, new_chosen, rules)
    if not more:
        return found, folds, old_chosen
    # Both lists are in account (id) order: merge them by account index, not by id.
    both = [*found, *more]
    order = np.argsort(np.concatenate([found_at, old_more]), kind="stable").tolist()
    everything = list(map(both.__getitem__, order))
    return everything, folds, np.sort(np.concatenate([old_chosen, old_more]))


def _match_on_children(
    old: _Columns,
    new: _Columns,
    merges: Sequence[Assigned],
    rules: GuardianRules,
    merge_a: I64 | None = None,
) -> tuple[list[GuardianMerge], list[GuardianFold], I64, I64]:
    """Pairs of accounts meeting on merged student pairs, assigned one to one."""
    archived_ids = list(map(_ARCHIVED_ID, merges))
    synced_ids = list(map(_SYNCED_ID, merges))
    if merge_a is None:
        merge_a = old.codes_of(archived_ids)
    merge_s = new.codes_of(synced_ids)
    o_ptr, o_acc = old.by_student()
    n_ptr, n_acc = new.by_student()

    # Every (old account, new account, merge) meeting on a merged student pair.
    o_count = np.where(merge_a >= 0, o_ptr[merge_a + 1] - o_ptr[merge_a], 0)
    n_count = np.where(merge_s >= 0, n_ptr[merge_s + 1] - n_ptr[merge_s], 0)
    per = o_count * n_count
    total = int(per.sum())
    if total == 0:
        empty = np.zeros(0, np.int64)
        return [], [], empty, empty
    which = np.repeat(np.arange(len(merges), dtype=np.int64), per)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    o = o_acc[o_ptr[merge_a[which]] + offset // n_count[which]]
    n = n_acc[n_ptr[merge_s[which]] + offset % n_count[which]]
    width = np.int64(len(new.ids))
    key = o * width + n
    order = np.argsort(key, kind="stable")
    key, which = key[order], which[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.append(starts[1:], len(key))
    pair_key = key[starts]  # one per (old, new) pair, in id order (both sides are sorted)
    pairs = Pairs(pair_key // width, pair_key % width)

    levels = levels_of(pairs, old, new, rules.close)
    combo, base = score(levels, rules)
    # Whether a student merge the pair met on is itself auto (the children surely match).
    auto_merge = np.array([m.decision == "auto" for m in merges], np.bool_)
    met_auto = np.zeros(len(pair_key), np.bool_)
    np.logical_or.at(met_auto, np.repeat(np.arange(len(starts)), ends - starts), auto_merge[which])
    # Old accounts of one adult (see _guardian_folds) compete as one.
    group = adult_groups(pairs, old, new, levels, combo, base, met_auto, rules)
    group_of = group[pairs.old_of]
    bits, capped = prior_and_cap(group_of, pairs.new_of, base, levels, rules)
    n_groups = int(group.max()) + 1 if len(group) else 0

    result = assign(
        group_of,
        pairs.new_of,
        bits,
        n_groups=n_groups,
        n_synced=len(pairs.new_ix),
        floor_bits=logit(rules.review_threshold),
    )
    groups = np.flatnonzero(result.synced != NONE)
    # The group's strongest pair is its merge; the group's other accounts fold into it.
    chosen = result.best_pair(groups, result.synced[groups], len(pairs.new_ix))
    by_id = np.argsort(pairs.old_of[chosen], kind="stable")
    groups, chosen = groups[by_id], chosen[by_id]
    old_chosen = pairs.old_ix[pairs.old_of[chosen]]
    new_chosen = pairs.new_ix[pairs.new_of[chosen]]
    chosen_facts = facts(pairs, old, new, levels, chosen)  # the household pass decides again
    decided, kind_of = decide_kinds(
        pairs,
        old,
        new,
        levels,
        chosen,
        (combo, bits, capped),
        result.margin[groups],
        rules,
        met_auto[chosen],
        chosen_facts,
    )
    decided, kind_of = _household_pass(
        pairs,
        (old, new),
        levels,
        chosen,
        (combo, bits, capped),
        result.margin[groups],
        rules,
        met_auto,
        (decided, kind_of),
        (starts, ends, which, len(merges)),
        chosen_facts,
    )
    # The merged student pairs each guardian pair met on (most met on one).
    met = functools.partial(
        _met_students,
        starts=starts,
        ends=ends,
        which=which,
        merged=(archived_ids, synced_ids),
        in_order=all(map(operator.lt, archived_ids, itertools.islice(archived_ids, 1, None))),
    )
    found = list(
        map(
            trusted_merge,
            map(old.ids.__getitem__, old_chosen.tolist()),
            map(new.ids.__getitem__, new_chosen.tolist()),
            *_decided_columns(decided, kind_of),
            met(chosen),
        )
    )
    folds = guardian_folds(
        pairs, old, new, levels, (group, chosen, found), (combo, bits, capped), met_auto, rules, met
    )
    return found, folds, old_chosen, new_chosen


_HOUSEHOLD = FieldEvidence("children", "household_confirmed", 0.0)


def _household_pass(
    pairs: Pairs,
    sides: tuple[_Columns, _Columns],
    levels: Mapping[str, I64],
    chosen: I64,
    scores: tuple[I64, npt.NDArray[np.float64], npt.NDArray[np.float64]],
    margin: npt.NDArray[np.float64],
    rules: GuardianRules,
    met_auto: npt.NDArray[np.bool_],
    first: tuple[list[Decided], list[int]],
    met: tuple[I64, I64, I64, int],
    chosen_facts: Mapping[str, npt.NDArray[np.bool_]],
) -> tuple[list[Decided], list[int]]:
    """The decisions again, where a co-guardian confirms the household of a review child.

    See :mod:`merge_engine.accounts._guardian_household`. A pair that becomes
    ``auto`` only so carries the evidence ``children=household_confirmed``.
    """
    decided, kind_of = first
    auto = _is_auto(decided, kind_of)
    starts, ends, which, n_merges = met
    confirmed = (
        household_confirmed(pairs, levels, chosen, auto, (starts, ends, which), n_merges)[chosen]
        & ~met_auto[chosen]
        & ~auto
    )
    if not confirmed.any():
        return decided, kind_of
    old, new = sides
    again, again_of = decide_kinds(
        pairs,
        old,
        new,
        levels,
        chosen,
        scores,
        margin,
        rules,
        met_auto[chosen] | confirmed,
        chosen_facts,
    )
    upgraded = confirmed & _is_auto(again, again_of)
    if not upgraded.any():
        return decided, kind_of
    # Upgraded pairs get their own decisions (with the evidence); the others keep theirs.
    merged = list(decided)
    extra: dict[int, int] = {}
    kinds = list(kind_of)
    for p in np.flatnonzero(upgraded).tolist():
        k = again_of[p]
        if k not in extra:
            confidence, decision, evidence, reasons = again[k]
            extra[k] = len(merged)
            merged.append((confidence, decision, (*evidence, _HOUSEHOLD), reasons))
        kinds[p] = extra[k]
    return merged, kinds


def _is_auto(decided: Sequence[Decided], kind_of: Sequence[int]) -> npt.NDArray[np.bool_]:
    """Whether each pair's decision (by its kind) is ``auto``: looked at once per kind."""
    auto = np.array([d[1] == "auto" for d in decided], np.bool_)
    found: npt.NDArray[np.bool_] = auto[np.array(kind_of, np.int64)]
    return found


def _met_students(
    at: I64,
    *,
    starts: I64,
    ends: I64,
    which: I64,
    merged: tuple[list[str], list[str]],
    in_order: bool = False,
) -> list[tuple[tuple[str, str], ...]]:
    """The merged student pairs each of the pairs ``at`` met on (most met on one), sorted.

    ``merged``: the archived and the synced id of each merge; ``in_order``:
    whether the merges are sorted by archived id, each archived student
    once (as a plan's are): a pair's merges (``which``, in merge order) are
    then sorted already. Otherwise they are sorted and made distinct with
    numpy, by their ranks among the merges such pairs meet on, not one set
    and one sort per pair.
    """
    archived, synced = merged
    one = (ends - starts)[at] == 1
    single = which[starts[at][one]].tolist()
    students: list[tuple[tuple[str, str], ...]] = list(
        zip(zip(map(archived.__getitem__, single), map(synced.__getitem__, single), strict=True))
    )
    if one.all():
        return students
    first, size = starts[at][~one], (ends - starts)[at][~one]
    owner = np.repeat(np.arange(len(first), dtype=np.int64), size)
    offset = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
    merge = which[np.repeat(first, size) + offset]
    if in_order:
        # An account listed twice on one child meets its pair twice on one merge.
        again = np.zeros(len(merge), np.bool_)
        again[1:] = (merge[1:] == merge[:-1]) & (owner[1:] == owner[:-1])
        merge, owner = merge[~again], owner[~again]
        listed = merge.tolist()
    else:
        involved = distinct(merge)
        pairs = list(
            zip(
                map(archived.__getitem__, involved.tolist()),
                map(synced.__getitem__, involved.tolist()),
                strict=True,
            )
        )
        # Each involved merge's place among their distinct (archived, synced) pairs.
        order = sorted(range(len(pairs)), key=pairs.__getitem__)
        in_pair_order = list(map(pairs.__getitem__, order))
        new_value = np.fromiter(
            itertools.chain((True,), map(operator.ne, in_pair_order[1:], in_pair_order[:-1])),
            np.bool_,
            len(in_pair_order),
        )
        rank = np.zeros(len(pairs), np.int64)
        rank[np.array(order, np.int64)] = np.cumsum(new_value) - 1
        width = np.int64(len(pairs))
        key = distinct(owner * width + rank[np.searchsorted(involved, merge)])
        owner = key // width
        # A merge of each distinct rank.
        at_rank = np.zeros(len(pairs), np.int64)
        at_rank[rank] = involved
        listed = at_rank[key % width].tolist()
    values = list(
        zip(map(archived.__getitem__, listed), map(synced.__getitem__, listed), strict=True)
    )
    bounds = np.searchsorted(owner, np.arange(len(first) + 1)).tolist()
    several = [tuple(values[b:e]) for b, e in itertools.pairwise(bounds)]
    return _interleave(students, several, one.tolist())


def _decided_columns(
    decided: Sequence[Decided], kind_of: Sequence[int]
) -> tuple[Iterator[float], Iterator[Decision], Iterator[Any], Iterator[tuple[str, ...]]]:
    """The confidence, decision, evidence and reasons of each pair, by its kind (``kind_of``),
    as a merge keeps them: each kind's confidence rounded once (see
    :func:`~merge_engine._plan_accounts.trusted_merge`)."""
    kinds = [(probability(c), d, to_tuple(e), to_tuple(r)) for c, d, e, r in decided]
    columns = [[k[f] for k in kinds] for f in range(4)]
    return tuple(map(columns[f].__getitem__, kind_of) for f in range(4))  # type: ignore[return-value]


def _interleave(first: list[Any], second: list[Any], take_first: list[bool]) -> list[Any]:
    """Merge two lists in order: the next of ``first`` where ``take_first``, else of ``second``."""
    a, b = iter(first), iter(second)
    return [next(a) if flag else next(b) for flag in take_first]


_WIDE = "met on no merged student: paired across the district"


def _match_district_wide(
    old: _Columns, new: _Columns, old_taken: I64, new_taken: I64, rules: GuardianRules
) -> tuple[list[GuardianMerge], I64]:
    """Old accounts no merged child paired, with the one free sync account that is the adult.

    A parent whose older child left and whose younger child just enrolled
    keeps the old login: the two accounts share no merged child. Pairs are
    formed only by an exact email or phone, and kept only when each account
    has exactly one such counterpart with an agreeing given name (the same,
    or spelled by an account's email); they are ``auto`` only when the full
    name agrees too and nothing else stands in the way.
    """
    free_old = np.ones(len(old.ids), np.bool_)
    free_old[old_taken] = False
    free_new = np.ones(len(new.ids), np.bool_)
    free_new[new_taken] = False
    o_list: list[int] = []
    n_list: list[int] = []
    for column, usable in (("email", old.plain_email()), ("phone_key", None)):
        o_coded, n_coded = old.coded(column), new.coded(column)
        n_codes = _unify_codes(o_coded, n_coded)
        holders: dict[int, list[int]] = {}
        for j in np.flatnonzero(free_new).tolist():
            holders.setdefault(int(n_codes[j]), []).append(j)
        empty = o_coded.code_of("")
        wanted = free_old if usable is None else free_old & usable
        for i in np.flatnonzero(wanted).tolist():
            code = int(o_coded.codes[i])
            if code != empty:
                for j in holders.get(code, ()):
                    o_list.append(i)
                    n_list.append(j)
    if not o_list:
        return [], np.zeros(0, np.int64)
    width = len(new.ids)
    pair_key = distinct(np.array(o_list, np.int64) * width + np.array(n_list, np.int64))
    pairs = Pairs(pair_key // width, pair_key % width)
    levels = levels_of(pairs, old, new, rules.close)
    first_ok = np.isin(
        levels["first_name"],
        [LEVEL_INDEX["first_name"][x] for x in ("exact", "nickname", "in_email")],
    )
    keep = np.flatnonzero(first_ok)
    # Exactly one agreeing counterpart on each side, or nothing is proposed.
    unique = (
        np.bincount(pairs.old_of[keep], minlength=len(pairs.old_ix))[pairs.old_of[keep]] == 1
    ) & (np.bincount(pairs.new_of[keep], minlength=len(pairs.new_ix))[pairs.new_of[keep]] == 1)
    chosen = keep[unique]
    if not len(chosen):
        return [], np.zeros(0, np.int64)
    combo, bits = score(levels, rules)
    bits = bits + rules.prior_bits(np.ones(len(bits), np.int64))
    # Across the district only a full name (or the name the email spells) identifies the adult.
    wide = ~(
        (levels["first_name"][chosen] == LEVEL_INDEX["first_name"]["exact"])
        & np.isin(
            levels["last_name"][chosen],
            [LEVEL_INDEX["last_name"][x] for x in ("exact", "compound")],
        )
    ) & ~(levels["first_name"][chosen] == LEVEL_INDEX["first_name"]["in_email"])
    margin = np.full(len(chosen), np.inf)
    decided, kind_of = decide_kinds(
        pairs,
        old,
        new,
        levels,
        chosen,
        (combo, bits, np.zeros(len(bits))),
        margin,
        rules,
        np.zeros(len(chosen), np.bool_),
    )
    found, matched = [], []
    old_of = pairs.old_ix[pairs.old_of[chosen]].tolist()
    new_of = pairs.new_ix[pairs.new_of[chosen]].tolist()
    for i, j, d, partial in zip(old_of, new_of, kind_of, wide.tolist(), strict=True):
        confidence, _, evidence, reasons = decided[d]
        if confidence < rules.review_threshold:
            continue
        if partial:
            reasons = (*reasons, "the full name does not agree")
        if reasons:
            reasons = (*reasons, _WIDE)
        decision: Decision = "review" if reasons else "auto"
        found.append(
            GuardianMerge(
                old.ids[i], new.ids[j], confidence, decision, (*evidence, _UNMET), reasons
            )
        )
        matched.append(i)
    return found, np.array(matched, np.int64)


def _unify_codes(old: _Coded, new: _Coded) -> I64:
    """The code of each new account's value in the code space of ``old.values + new.values``."""
    codes: I64 = _unify(old, new)[new.codes]
    return codes


def _plan_guardians(
    archived: Roster, synced: Roster, merges: Sequence[Assigned], settings: Settings
) -> tuple[list[GuardianMerge], list[GuardianFold], list[GuardianAction], _Columns]:
    """Guardian merges, folds and old-guardian actions for a plan, reading each roster once.

    The same as :func:`match_guardians` (under ``keep_old``) and
    :func:`guardian_actions`; also returns the synced accounts as columns
    for :func:`merge_engine.accounts._roles.find_multiple_roles`.
    """
    rules = GuardianRules.from_settings(settings)
    old = _Columns.from_roster(archived, rules.phone_region)
    new = _Columns.from_roster(synced, rules.phone_region)
    found: list[GuardianMerge] = []
    folds: list[GuardianFold] = []
    matched = np.zeros(0, np.int64)
    merge_a = old.codes_of(list(map(_ARCHIVED_ID, merges)))  # both steps look them up
    if settings.guardian_policy == "keep_old":
        found, folds, matched = _match_columns(old, new, merges, rules, merge_a)
    actions = _column_actions(
        old, merges, matched, settings.guardian_policy, settings.unmatched_old_guardians, merge_a
    )
    return found, folds, actions, new
