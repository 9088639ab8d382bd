"""The audit log read a batch at a time: what apply and undo need to know of earlier merges.

Apply needs, for an archived student already merged into its synced student
by another plan, that plan (a re-run moves late history into its journal
entry); undo needs when each merge of a batch, and of its siblings, was last
applied. Both read the audit records of the batch's students
(``Capability.AUDIT_LOOKUP``), so memory does not grow with the audit log;
an adapter without that read has its whole log read once instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import attrs

from ..plan import Merge
from ..storage._base import AuditLookup, AuditRecord, StorageAdapter, Transaction
from ..storage.adapter import Capability, capabilities_of
from ._applying import parse_audit_note, retrying
from ._sweep import is_sweep, merged_by_plan

__all__ = ["Applied", "AppliedRecords", "OtherPlans"]


def _looks_up(storage: StorageAdapter, max_retries: int) -> bool:
    """Whether the storage's transactions read the audit by student."""

    def lookup() -> bool:
        with storage.transaction() as tx:
            return Capability.AUDIT_LOOKUP in capabilities_of(tx)

    return retrying(lookup, max_retries)


@attrs.frozen
class Applied:
    """When (audit order) a merge was last applied, and the synced student's rows before it."""

    order: int
    synced_rows: Mapping[str, int]


class OtherPlans:
    """Which other plan's merge is in force for each archived student of a batch.

    Read from the audit records of the batch's students (``Capability.AUDIT_LOOKUP``),
    or, for an adapter without that read, from the whole audit log once.
    """

    def __init__(self, storage: StorageAdapter, fp: str, max_retries: int) -> None:
        self.fp = fp
        self.whole: dict[str, tuple[str, str]] | None = None
        if not _looks_up(storage, max_retries):
            records = retrying(lambda: list(storage.audit_records()), max_retries)
            self.whole = self._others(records)

    def _others(self, records: Iterable[AuditRecord]) -> dict[str, tuple[str, str]]:
        return {a: v for a, v in merged_by_plan(records).items() if v[0] != self.fp}

    def of(self, tx: Transaction, batch: Sequence[Merge]) -> Mapping[str, tuple[str, str]]:
        if self.whole is not None:
            return self.whole
        ids = [m.archived_id for m in batch]
        return self._others(cast(AuditLookup, tx).audit_records_of(ids))


class AppliedRecords:
    """When (in audit order) each merge of a batch, and its siblings, was last applied by
    the plan, with the synced student's rows before it.

    Read from the audit records of the batch's students (``Capability.AUDIT_LOOKUP``),
    or, for an adapter without that read, from the whole audit log once.
    """

    def __init__(
        self,
        storage: StorageAdapter,
        fp: str,
        siblings: Mapping[str, tuple[str, ...]],
        max_retries: int,
    ) -> None:
        self.fp = fp
        self.siblings = siblings
        self.whole: dict[str, Applied] | None = None
        if not _looks_up(storage, max_retries):
            self.whole = retrying(lambda: self._latest(storage.audit_records()), max_retries)

    def _latest(self, records: Iterable[AuditRecord]) -> dict[str, Applied]:
        latest: dict[str, Applied] = {}
        for i, record in enumerate(records):
            mine = record.action == "apply" and record.plan_fingerprint == self.fp
            if mine and not is_sweep(record):
                notes = parse_audit_note(record.note, "synced_rows")
                latest[record.archived_id] = Applied(i, notes)
        return latest

    def of(self, tx: Transaction, batch: Sequence[Merge]) -> Mapping[str, Applied]:
        if self.whole is not None:
            return self.whole
        ids = {m.archived_id for m in batch}
        ids.update(a for m in batch for a in self.siblings.get(m.synced_id, ()))
        return self._latest(cast(AuditLookup, tx).audit_records_of(sorted(ids)))
