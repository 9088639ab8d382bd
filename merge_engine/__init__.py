"""merge-engine: merge archived school rosters into their newly synced twins.

The public API is small: read rosters, build a plan, inspect and write it.

>>> import merge_engine as me
>>> plan = me.build_plan(me.read_roster("archived/"), me.read_roster("synced/"))  # doctest: +SKIP
>>> plan.write("plan.json")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .exceptions import (
    InputError,
    MappingError,
    MergeEngineError,
    MissingDependencyError,
    PlanError,
    PlanLockedError,
    SafetyValveError,
    SettingsError,
    StorageError,
    TransientConflict,
)
from .model import Contact, InputWarning, Roster, StaffMember, Student
from .plan import FieldEvidence, Merge, MergePlan
from .settings import Settings

if TYPE_CHECKING:
    from .accounts._contact_audit import AuditReport, audit_contacts
    from .applying._apply import ApplyReport, MergeOutcome, apply_plan, audit_history
    from .applying._journal import PlanSummary, plan_summaries
    from .applying._many import DistrictApplied, DistrictApply, apply_many
    from .applying._undo import undo_plan, undo_plan_id
    from .plan_file import PlanFile
    from .planning._many import District, DistrictResult, plan_many
    from .planning._planner import build_plan
    from .readers import read_roster, write_roster
    from .storage import load_rosters, open_storage

# The matcher (numpy, scipy), the readers and the storage adapters load on
# first use, so `import merge_engine` and reading a plan stay light.
_LAZY = {
    "AuditReport": "accounts._contact_audit",
    "audit_contacts": "accounts._contact_audit",
    "ApplyReport": "applying._apply",
    "MergeOutcome": "applying._apply",
    "apply_plan": "applying._apply",
    "audit_history": "applying._apply",
    "DistrictApply": "applying._many",
    "DistrictApplied": "applying._many",
    "apply_many": "applying._many",
    "PlanSummary": "applying._journal",
    "plan_summaries": "applying._journal",
    "undo_plan": "applying._undo",
    "undo_plan_id": "applying._undo",
    "build_plan": "planning._planner",
    "PlanFile": "plan_file",
    "District": "planning._many",
    "DistrictResult": "planning._many",
    "plan_many": "planning._many",
    "read_roster": "readers",
    "write_roster": "readers",
    "load_rosters": "storage",
    "open_storage": "storage",
}


__version__: str  # bound on first use, by __getattr__


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def _version() -> str:
    """The installed distribution's version, read on first use: ``importlib.metadata``
    brings email, zipfile, csv and tempfile along (3 MB a process that plans never needs)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("merge-engine")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


__all__ = [
    "ApplyReport",
    "AuditReport",
    "Contact",
    "District",
    "DistrictApplied",
    "DistrictApply",
    "DistrictResult",
    "FieldEvidence",
    "InputError",
    "InputWarning",
    "MappingError",
    "Merge",
    "MergeEngineError",
    "MergeOutcome",
    "MergePlan",
    "MissingDependencyError",
    "PlanError",
    "PlanFile",
    "PlanLockedError",
    "PlanSummary",
    "Roster",
    "SafetyValveError",
    "Settings",
    "SettingsError",
    "StaffMember",
    "StorageError",
    "Student",
    "TransientConflict",
    "__version__",
    "apply_many",
    "apply_plan",
    "audit_contacts",
    "audit_history",
    "build_plan",
    "load_rosters",
    "open_storage",
    "plan_many",
    "plan_summaries",
    "read_roster",
    "undo_plan",
    "undo_plan_id",
    "write_roster",
]
