"""The adapter contract suite, for a platform's own adapter: one class, and pytest runs it.

::

    from merge_engine.testing.contract import AdapterContract

    class TestMyAdapter(AdapterContract):
        make_storage = staticmethod(my_factory)  # (district, tmp_path) -> a storage holding it

``my_factory`` receives a :class:`ContractDistrict` (a few students, their
guardian accounts and history rows) and a fresh temporary directory, and
returns the adapter over a new database holding exactly that district.
Every test of the suite then runs on it: the ones the engine needs to apply
and undo student merges, and (when the transactions declare
``Capability.ACCOUNTS``) those of guardian merges and multiple-role links.
Set ``student_fields``, ``contact_fields`` or ``reads_staff`` when the
platform stores less than the model holds.

The suite compares what the adapter reads before and after a transaction
that failed; override :meth:`~ContractBase.state` to compare more (the
built-in adapters add their whole database). This module needs pytest
(``pip install "merge-engine[test]"``); ``import merge_engine`` never loads it.
"""

from __future__ import annotations

from ._contract_accounts import AccountContract
from ._contract_base import CONTRACT_DISTRICT, ContractBase, ContractDistrict
from ._contract_students import StudentContract

__all__ = ["CONTRACT_DISTRICT", "AdapterContract", "ContractBase", "ContractDistrict"]


class AdapterContract(StudentContract, AccountContract):
    """Every contract test; subclass it with ``make_storage`` set (see the module docstring)."""
