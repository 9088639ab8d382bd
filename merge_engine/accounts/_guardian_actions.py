"""What happens to the old guardian links of merged students under the district's policy.

Split from :mod:`merge_engine.accounts._guardians` (which pairs accounts): an old
account of a merged student that the matcher did not pair is kept and
flagged, detached or sent to review (``unmatched_old_guardians``), and
under ``remove_old`` every old link of a merged student is detached.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..model import Roster
from ..plan import ActionKind, GuardianAction
from ._guardian_columns import GuardianAccount, _Columns

if TYPE_CHECKING:
    from ..plan import GuardianFold, GuardianMerge, Merge

__all__ = ["Assigned", "GuardianAction", "guardian_actions"]

I64 = npt.NDArray[np.int64]


class Assigned(Protocol):
    """What the account steps read of a student merge: its ids and decision (a plan
    written as it is made keeps only these of each merge while it plans the accounts)."""

    @property
    def archived_id(self) -> str: ...

    @property
    def synced_id(self) -> str: ...

    @property
    def decision(self) -> str: ...


_ARCHIVED_ID = operator.attrgetter("archived_id")


def guardian_actions(
    archived: Roster,
    merges: Sequence[Merge],
    guardian_merges: Sequence[GuardianMerge | GuardianFold],
    *,
    policy: Literal["keep_old", "remove_old"] = "keep_old",
    unmatched: Literal["keep", "remove", "review"] = "keep",
    accounts: Mapping[str, GuardianAccount] | None = None,
) -> list[GuardianAction]:
    """What to do with each old guardian link of each merged student, by the district's policy.

    ``guardian_merges``: the plan's guardian merges and folds (an old account
    either pairs is handled by it, under ``keep_old``).
    """
    if accounts is None:
        old = _Columns.from_roster(archived)
        index = dict(zip(old.ids, itertools.count(), strict=False))
        found = (index.get(m.archived_guardian_id, -1) for m in guardian_merges)
        merged_accounts = np.array([i for i in found if i >= 0], np.int64)
        return _column_actions(old, merges, merged_accounts, policy, unmatched)
    matched = {m.archived_guardian_id for m in guardian_merges}
    merged_students = {m.archived_id for m in merges}
    links = []
    for gid, account in accounts.items():
        if policy == "remove_old" or gid not in matched:
            links += [(gid, sid) for sid in account.student_ids if sid in merged_students]
    return _action_list(links, policy, unmatched)


def _column_actions(
    old: _Columns,
    merges: Sequence[Assigned],
    matched: I64,
    policy: str,
    unmatched: str,
    codes: I64 | None = None,
) -> list[GuardianAction]:
    """:func:`guardian_actions` on the old accounts as columns (``matched``: merged accounts;
    ``codes``: each merge's archived student code, when the caller has them)."""
    merged = np.zeros(len(old.student_id), np.bool_)
    if codes is None:
        codes = old.codes_of(list(map(_ARCHIVED_ID, merges)))
    merged[codes[codes >= 0]] = True
    rows = np.flatnonzero(merged[old.row_student])
    if policy != "remove_old":  # a matched guardian is handled by its guardian merge
        is_matched = np.zeros(len(old.ids), np.bool_)
        is_matched[matched] = True
        rows = rows[~is_matched[old.row_account[rows]]]
    ids, sid = old.ids, old.student_id
    links = sorted(
        {
            (account, sid[code])
            for account, code in zip(
                old.row_account[rows].tolist(), old.row_student[rows].tolist(), strict=True
            )
        }
    )
    return _action_list([(ids[account], student) for account, student in links], policy, unmatched)


def _action_list(
    links: Sequence[tuple[str, str]], policy: str, unmatched: str
) -> list[GuardianAction]:
    """One action per (old guardian, merged student) link that needs one, in the given order."""
    action: ActionKind
    if policy == "remove_old":
        action, reason = "detach", "district removes old guardians"
    elif unmatched == "remove":
        action, reason = "detach", "no counterpart among synced contacts"
    elif unmatched == "review":
        action, reason = "review", "no counterpart among synced contacts"
    else:
        action, reason = "flag", "kept; no counterpart among synced contacts"
    return [GuardianAction(action, gid, sid, reason) for gid, sid in links]
