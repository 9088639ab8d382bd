"""merge-engine: merge archived school rosters into their newly synced twins.

The public API is small: read rosters, build a plan, inspect and write it.

>>> import merge_engine as me
>>> plan = me.build_plan(me.read_roster("archived/"), me.read_roster("synced/"))  # doctest: +SKIP
>>> plan.write("plan.json")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .exceptions import (
    InputError,
    MergeEngineError,
    MissingDependencyError,
    PlanError,
    SettingsError,
)
from .model import Contact, InputWarning, Roster, StaffMember, Student
from .plan import FieldEvidence, Merge, MergePlan
from .planner import build_plan
from .readers import read_roster, write_roster
from .settings import Settings

try:
    __version__ = version("merge-engine")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Contact",
    "FieldEvidence",
    "InputError",
    "InputWarning",
    "Merge",
    "MergeEngineError",
    "MergePlan",
    "MissingDependencyError",
    "PlanError",
    "Roster",
    "Settings",
    "SettingsError",
    "StaffMember",
    "Student",
    "__version__",
    "build_plan",
    "read_roster",
    "write_roster",
]
