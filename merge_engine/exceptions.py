"""The one exception hierarchy of merge-engine.

Every message says what to do next. Messages never contain student or
guardian PII: they name files, lines, columns and record ids only.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "MappingError",
    "MergeEngineError",
    "MissingDependencyError",
    "OutputExistsError",
    "PlanError",
    "PlanLockedError",
    "SafetyValveError",
    "SettingsError",
    "StorageError",
    "TransientConflict",
]


class MergeEngineError(Exception):
    """Base class of every error merge-engine raises on purpose."""


class InputError(MergeEngineError, ValueError):
    """A roster file cannot be read as given.

    Carries the file, line (1-based, counting the header as line 1) and
    column, so the admin can open the file at the right place.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = message
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SettingsError(MergeEngineError, ValueError):
    """Settings are invalid or cannot be loaded."""


class PlanError(MergeEngineError, ValueError):
    """A plan file is malformed, of an unknown schema version, or stale."""


class MissingDependencyError(MergeEngineError, ImportError):
    """An optional feature needs an extra that is not installed."""


class StorageError(MergeEngineError):
    """The database cannot be reached or does not hold what the engine expects."""


class MappingError(StorageError, ValueError):
    """A storage mapping is invalid (unknown table, unsafe identifier, missing column)."""


class TransientConflict(StorageError):
    """A concurrent transaction got in the way (serialization failure, deadlock).

    The engine retries the merge; an adapter raises this only when a retry is safe.
    """


class SafetyValveError(MergeEngineError):
    """A plan's inputs look wrong (empty or shrunken sync, mass change); pass force to override."""


class OutputExistsError(MergeEngineError, FileExistsError):
    """A command would replace a file that may be the only handle on applied work (a plan, a db)."""


class PlanLockedError(MergeEngineError):
    """Another apply or undo of the same plan holds the plan's lock; nothing was written."""

    @classmethod
    def for_plan(cls, plan_fingerprint: str) -> PlanLockedError:
        return cls(
            f"another apply or undo of this plan is running (plan id {plan_fingerprint}); "
            "nothing was written. Wait for it to finish, then run the command again "
            "(merges already done are skipped)"
        )
