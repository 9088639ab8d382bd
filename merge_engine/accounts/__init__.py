"""Adults: guardian accounts paired across rosters, multiple-role users, the contact audit.

``_guardians`` pairs old and sync-created guardian accounts (its private
``_guardian_*`` modules hold the columns, levels, decision rules and the
district's policy for old links); ``_roles`` finds one adult behind staff and
guardian accounts; ``_contact_audit`` lists, by id, contacts that will cause
duplicate or unreachable accounts. The values they put in a plan live in
:mod:`merge_engine.plan`.
"""

from __future__ import annotations

from ._contact_audit import AuditReport, audit_contacts
from ._guardians import guardian_accounts, match_guardians
from ._roles import find_multiple_roles

__all__ = [
    "AuditReport",
    "audit_contacts",
    "find_multiple_roles",
    "guardian_accounts",
    "match_guardians",
]
