"""The account part of the contract: guardian merges, folds, detaches and multiple-role links.

They need a few more operations than student merges: guardian merge state,
a guardian's links across students, guardian-owned history and account
links. Each test skips for an adapter that does not declare
``Capability.ACCOUNTS`` (see :mod:`.contract`).
"""

from __future__ import annotations

import pytest

from ..applying._account_apply import run_account_steps
from ..applying._account_steps import AccountStep
from ..exceptions import StorageError
from ..storage import (
    AccountLink,
    GuardianLink,
    HistoryRow,
    JournalEntry,
    StorageAdapter,
    StoredGuardian,
)
from ..storage._base import (
    ACCOUNT_BULK,
    ACCOUNT_METHODS,
    BulkAccountTransaction,
    BulkTransaction,
)
from ._contract_base import CONTRACT_DISTRICT, ContractBase

__all__ = ["AccountContract"]


class AccountContract(ContractBase):
    """The tests of an adapter that declares ``Capability.ACCOUNTS``."""

    def test_an_adapter_declaring_accounts_has_the_account_methods(
        self, storage: StorageAdapter
    ) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            self.accounts(tx)
            assert all(callable(getattr(tx, name, None)) for name in ACCOUNT_METHODS)

    def test_guardians_returns_merge_state_of_known_ids(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            found = self.accounts(tx).guardians(["g1", "g4", "nobody", "g1"])
        assert found == {"g1": StoredGuardian("g1"), "g4": StoredGuardian("g4")}

    def test_guardian_merged_into_is_set_and_cleared(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        roster_before = storage.read_roster("synced")
        with storage.transaction() as tx:
            self.accounts(tx).set_guardian_merged_into("g4", "g1")
            assert self.accounts(tx).guardians(["g4"])["g4"].merged_into == "g1"
        with storage.transaction() as tx:
            assert self.accounts(tx).guardians(["g4"])["g4"] == StoredGuardian("g4", "g1")
        # Merge state does not change who is linked to whom: links move explicitly.
        assert storage.read_roster("synced") == roster_before
        with storage.transaction() as tx:
            self.accounts(tx).set_guardian_merged_into("g4", None)
            self.accounts(tx).set_guardian_merged_into("g2", None)  # not merged: nothing happens
        with storage.transaction() as tx:
            assert self.accounts(tx).guardians(["g4", "g2"]) == {
                "g2": StoredGuardian("g2"),
                "g4": StoredGuardian("g4"),
            }

    @pytest.mark.parametrize(("guardian", "into"), [("nobody", "g1"), ("g4", "nobody")])
    def test_guardian_merged_into_unknown_accounts_raise(
        self, storage: StorageAdapter, guardian: str, into: str
    ) -> None:
        self.require_accounts(storage)
        before = self.state(storage)
        with pytest.raises(StorageError, match="no guardian"), storage.transaction() as tx:
            self.accounts(tx).set_guardian_merged_into(guardian, into)
        assert self.state(storage) == before

    def test_guardian_history_tables_are_apart_from_student_ones(
        self, storage: StorageAdapter
    ) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            assert tuple(tx.history_tables()) == CONTRACT_DISTRICT.history
            assert (
                tuple(self.accounts(tx).guardian_history_tables())
                == CONTRACT_DISTRICT.guardian_history
            )

    def test_guardian_history_rows_move_and_round_trip(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            rows = tx.history_rows("guardian_messages", "g4")
            assert [(r.key, r.values["body"]) for r in rows] == [((2,), "new account")]
            assert tx.move_rows("guardian_messages", [(2,)], "g1") == 1
            assert [r.key for r in tx.history_rows("guardian_messages", "g1")] == [(1,), (2,)]
            assert tx.history_rows("guardian_messages", "g4") == []
        with storage.transaction() as tx:
            row = tx.history_rows("guardian_messages", "g1")[1]
            assert tx.remove_rows("guardian_messages", [row.key]) == 1
            tx.insert_rows([HistoryRow(row.table, row.key, {**row.values, "guardian_id": "g4"})])
            assert tx.history_rows("guardian_messages", "g4")[0].values["body"] == "new account"

    def test_moving_guardian_rows_to_an_unknown_guardian_raises(
        self, storage: StorageAdapter
    ) -> None:
        self.require_accounts(storage)
        before = self.state(storage)
        with pytest.raises(StorageError), storage.transaction() as tx:
            tx.move_rows("guardian_messages", [(2,)], "nobody")
        assert self.state(storage) == before

    def test_links_of_guardian_cover_every_student(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            acc = self.accounts(tx)
            assert acc.links_of_guardian("g1") == [
                GuardianLink("a1", "g1", "Mother"),
                GuardianLink("s1", "g1", "Mother"),
            ]
            tx.add_guardian_link(GuardianLink("a2", "g1", "Aunt"))
            tx.remove_guardian_link(GuardianLink("s1", "g1"))
            assert [(x.student_id, x.relationship) for x in acc.links_of_guardian("g1")] == [
                ("a1", "Mother"),
                ("a2", "Aunt"),
            ]
            assert acc.links_of_guardian("nobody") == []
            assert acc.links_of_guardian("g3") == [GuardianLink("a2", "g3", None)]

    def test_account_links_add_read_remove(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        staff_link = AccountLink("staff_guardian", "t1", "g1")
        merge_link = AccountLink("guardian_guardian", "g1", "g4", "merge")
        with storage.transaction() as tx:
            acc = self.accounts(tx)
            assert acc.account_links("g1") == []
            acc.add_account_link(staff_link)
            acc.add_account_link(merge_link)
        with storage.transaction() as tx:
            acc = self.accounts(tx)
            assert acc.account_links("g1") == [merge_link, staff_link]
            assert acc.account_links("t1") == [staff_link]
            assert acc.account_links("g4") == [merge_link]
            acc.remove_account_link(staff_link)
            acc.remove_account_link(staff_link)  # already gone: nothing happens
        with storage.transaction() as tx:
            assert self.accounts(tx).account_links("t1") == []
            assert self.accounts(tx).account_links("g1") == [merge_link]

    @pytest.mark.parametrize(
        ("link", "message"),
        [
            (AccountLink("staff_guardian", "nobody", "g1"), "no staff"),
            (AccountLink("staff_guardian", "t1", "nobody"), "no guardian"),
            (AccountLink("guardian_guardian", "nobody", "g1"), "no guardian"),
        ],
    )
    def test_add_account_link_refuses_unknown_accounts(
        self, storage: StorageAdapter, link: AccountLink, message: str
    ) -> None:
        self.require_accounts(storage)
        before = self.state(storage)
        with pytest.raises(StorageError, match=message), storage.transaction() as tx:
            self.accounts(tx).add_account_link(link)
        assert self.state(storage) == before

    def test_add_account_link_twice_raises_and_rolls_back(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        link = AccountLink("staff_guardian", "t2", "g4", "merge")
        with storage.transaction() as tx:
            self.accounts(tx).add_account_link(link)
        before = self.state(storage)
        with pytest.raises(StorageError, match="already linked"), storage.transaction() as tx:
            self.accounts(tx).set_guardian_merged_into("g4", "g1")
            self.accounts(tx).add_account_link(AccountLink("staff_guardian", "t2", "g4", "link"))
        assert self.state(storage) == before

    def test_account_writes_roll_back_together(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        before = self.state(storage)
        archived_before = storage.read_roster("archived")
        with pytest.raises(RuntimeError), storage.transaction() as tx:
            acc = self.accounts(tx)
            acc.set_guardian_merged_into("g4", "g1")
            acc.add_account_link(AccountLink("staff_guardian", "t1", "g1"))
            tx.move_rows("guardian_messages", [(2,)], "g1")
            tx.remove_guardian_link(GuardianLink("a1", "g1"))
            raise RuntimeError("boom")
        assert self.state(storage) == before
        assert storage.read_roster("archived").students[0] == self.stored(
            archived_before.students[0]
        )

    def test_journal_keeps_removed_links_and_account_links(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        entry = JournalEntry(
            "plan-1",
            "guardian:g4",
            "guardian:g1",
            {"guardian_messages": ((2,),)},
            links_added=[GuardianLink("s1", "g1", "Mother")],
            links_removed=[GuardianLink("s1", "g4", None)],
            accounts_linked=[AccountLink("staff_guardian", "t1", "g1", "merge")],
        )
        with storage.transaction() as tx:
            tx.write_journal(entry)
        with storage.transaction() as tx:
            assert tx.journal("plan-1", "guardian:g4") == entry
            assert tx.journal("plan-1", "g4") is None

    def test_bulk_account_methods_equal_the_per_item_ones(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            self.bulk(tx)
            assert isinstance(tx, BulkAccountTransaction)
            assert all(callable(getattr(tx, name)) for name in ACCOUNT_BULK)
            many = tx.links_of_guardians(["g1", "g4", "nobody", "g3"])
            assert many == {g: tx.links_of_guardian(g) for g in ["g1", "g4", "nobody", "g3"]}
            tx.set_guardian_merged_into_many([("g4", "g1"), ("g2", "g1"), ("g2", None)])
            assert tx.guardians(["g4", "g2"]) == {
                "g2": StoredGuardian("g2"),
                "g4": StoredGuardian("g4", "g1"),
            }
            tx.set_guardian_merged_into_many([])
            assert tx.links_of_guardians([]) == {}

    def test_bulk_guardian_merge_marks_refuse_unknown_accounts(
        self, storage: StorageAdapter
    ) -> None:
        self.require_accounts(storage)
        before = self.state(storage)
        with pytest.raises(StorageError, match="no guardian"), storage.transaction() as tx:
            self.bulk(tx)
            assert isinstance(tx, BulkAccountTransaction)
            tx.set_guardian_merged_into_many([("g4", "g1"), ("g2", "nobody")])
        assert self.state(storage) == before

    def test_bulk_history_methods_work_on_guardian_tables(self, storage: StorageAdapter) -> None:
        self.require_accounts(storage)
        with storage.transaction() as tx:
            self.bulk(tx)
            assert isinstance(tx, BulkTransaction)
            rows = tx.history_rows_many("guardian_messages", ["g1", "g4", "g2"])
            assert {g: [r.key for r in v] for g, v in rows.items()} == {
                "g1": [(1,)],
                "g4": [(2,)],
                "g2": [],
            }
            assert tx.move_rows_many("guardian_messages", [([(2,)], "g1"), ([(1,)], "g2")]) == 2
            assert [r.key for r in tx.history_rows("guardian_messages", "g1")] == [(2,)]

    # -- A guardian merge and the fold of an adult's second old account, end to end ----------

    _MERGE = AccountStep(
        "guardian_merge", "guardian:g4", "guardian:g1", guardian_id="g4", into_id="g1"
    )
    _FOLD = AccountStep(
        "guardian_fold", "fold:g3", "guardian:g1", guardian_id="g3", into_id="g1", joins="g4"
    )

    def test_a_fold_applies_with_its_guardian_merge_and_undo_restores_everything(
        self, storage: StorageAdapter
    ) -> None:
        """g4 (sync-created) into g1 (old), then g3 (a second old account) into g1, in one
        transaction; undo in one transaction restores every account, link and row."""
        self.require_accounts(storage)
        # What the contract reads (an override may add the whole database, bookkeeping too).
        before = ContractBase.state(self, storage)
        steps = [self._MERGE, self._FOLD]
        out = run_account_steps(storage, "plan-1", steps, undo=False, batch_size=2, max_retries=0)
        assert [(o.kind, o.status) for o in out] == [
            ("guardian_merge", "applied"),
            ("guardian_fold", "applied"),
        ]
        with storage.transaction() as tx:
            acc = self.accounts(tx)
            assert acc.guardians(["g3", "g4"]) == {
                "g3": StoredGuardian("g3", "g1"),
                "g4": StoredGuardian("g4", "g1"),
            }
            assert acc.links_of_guardian("g3") == acc.links_of_guardian("g4") == []
            assert sorted(x.student_id for x in acc.links_of_guardian("g1")) == ["a1", "a2", "s1"]
            bodies = [r.values["body"] for r in tx.history_rows("guardian_messages", "g1")]
            assert bodies == ["old account", "new account"]
            entry = tx.journal("plan-1", "fold:g3")
            assert entry is not None and entry.synced_id == "guardian:g1" and not entry.undone
            assert [(x.student_id, x.guardian_id) for x in entry.links_removed] == [("a2", "g3")]
        again = run_account_steps(storage, "plan-1", steps, undo=False, batch_size=2, max_retries=0)
        assert [o.status for o in again] == ["already_applied", "already_applied"]
        undone = run_account_steps(
            storage, "plan-1", steps[::-1], undo=True, batch_size=2, max_retries=0
        )
        assert [o.status for o in undone] == ["undone", "undone"]
        after = ContractBase.state(self, storage)
        for bookkeeping in ("journal", "audit"):
            del before[bookkeeping], after[bookkeeping]
        assert after == before

    def test_a_fold_without_its_guardian_merge_writes_nothing(
        self, storage: StorageAdapter
    ) -> None:
        """The adult's sync-created account was not merged into the old one: no fold."""
        self.require_accounts(storage)
        before = self.state(storage)
        out = run_account_steps(
            storage, "plan-1", [self._FOLD], undo=False, batch_size=1, max_retries=0
        )
        assert [(o.status, o.reason) for o in out] == [
            ("skipped", "the guardian merge it joins is not applied")
        ]
        assert self.state(storage) == before
