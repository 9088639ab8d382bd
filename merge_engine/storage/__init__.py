"""Storage: where plans are applied. The contract, its adapters and ``open_storage``.

Three adapters implement :class:`StorageAdapter`:

* :class:`SQLiteStorage`, the embedded default
  (``sqlite:///district.db`` or a bare path), stdlib only;
* :class:`InMemoryStorage` (``memory:``) for
  tests and notebooks;
* :class:`SQLAlchemyStorage` for PostgreSQL and
  other SQLAlchemy databases, on the platform's own tables through a
  :class:`StorageMapping`. Needs the ``postgres`` extra, imported lazily.

A platform's own adapter derives from :class:`BaseStorage` and
:class:`BaseTransaction` (a dozen required methods; the rest have defaults)
and declares its :class:`Capability` set; :mod:`merge_engine.testing.contract`
checks it (docs/adapters.md, "Writing your own adapter").

The public modules are ``adapter`` (the contract) and ``codec`` (journal values);
the rest are private: ``_base`` (row and record types), ``_memory``, ``_sqlite``
and ``_sqla`` (the adapters, with their ``_sqlite_*`` and ``_sqla_*`` parts),
``_batched`` (batch reads and writes for any adapter), ``_mapping`` and ``_schema`` (the
platform's tables), ``_loading`` (rosters and history into a database).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import MissingDependencyError, StorageError
from ._base import (
    AccountLink,
    AccountTransaction,
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    PlanLocking,
    RowKey,
    Side,
    StorageAdapter,
    StoredGuardian,
    StoredStudent,
    Transaction,
)
from ._loading import LoadReport, history_key, load_history, load_rosters
from ._mapping import (
    AccountLinkTable,
    GuardianTable,
    LinkTable,
    StaffTable,
    StorageMapping,
    StudentTable,
)
from ._memory import InMemoryStorage
from ._schema import DEFAULT_GUARDIAN_HISTORY_TABLES, DEFAULT_HISTORY_TABLES, check_identifier
from ._sqlite import SQLiteStorage
from .adapter import (
    ALL_TRANSACTION_CAPABILITIES,
    BaseStorage,
    BaseTransaction,
    Capability,
    UnsupportedOperation,
    capabilities_of,
)
from .codec import decode_entry, decode_value, encode_entry, encode_value

if TYPE_CHECKING:
    from ._sqla import SQLAlchemyStorage

__all__ = [
    "ALL_TRANSACTION_CAPABILITIES",
    "DEFAULT_GUARDIAN_HISTORY_TABLES",
    "DEFAULT_HISTORY_TABLES",
    "AccountLink",
    "AccountLinkTable",
    "AccountTransaction",
    "AuditRecord",
    "BaseStorage",
    "BaseTransaction",
    "Capability",
    "GuardianLink",
    "GuardianTable",
    "HistoryRow",
    "HistoryTable",
    "InMemoryStorage",
    "JournalEntry",
    "LinkTable",
    "LoadReport",
    "PlanLocking",
    "RowKey",
    "SQLAlchemyStorage",
    "SQLiteStorage",
    "Side",
    "StaffTable",
    "StorageAdapter",
    "StorageMapping",
    "StoredGuardian",
    "StoredStudent",
    "StudentTable",
    "Transaction",
    "UnsupportedOperation",
    "capabilities_of",
    "check_identifier",
    "decode_entry",
    "decode_value",
    "encode_entry",
    "encode_value",
    "history_key",
    "load_history",
    "load_rosters",
    "open_storage",
]

_INSTALL_HINT = 'pip install "merge-engine[postgres]"'


def open_storage(
    url: str, *, mapping: StorageMapping | None = None, create: bool = False
) -> StorageAdapter:
    """Open the database named by ``url``.

    ``sqlite:///path.db`` or a bare path: SQLite (``create`` makes the file
    and the reference schema if missing); ``memory:``: an empty in-memory
    store; any other SQLAlchemy URL (``postgresql+psycopg://...``): the
    SQLAlchemy adapter, which needs the ``postgres`` extra.
    """
    if url == "memory:" or url.startswith("memory:"):
        mapping = mapping if mapping is not None else StorageMapping()
        return InMemoryStorage(
            history_tables=mapping.history, guardian_history_tables=mapping.guardian_history
        )
    path = _sqlite_path(url)
    if path is not None:
        return SQLiteStorage(path, mapping=mapping, create=create)
    if "://" not in url:
        raise StorageError(
            f"cannot tell what database {url!r} names; use sqlite:///path.db, "
            "memory: or a SQLAlchemy URL such as postgresql+psycopg://host/db"
        )
    _require_sqlalchemy()
    from ._sqla import SQLAlchemyStorage  # noqa: PLC0415  (optional dependency)

    return SQLAlchemyStorage(url, mapping=mapping, create=create)


def _sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL or bare path; None for other URLs."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///") or ":memory:"
    if url in ("sqlite://", "sqlite:"):
        return ":memory:"
    if "://" in url:
        return None
    return str(Path(url))


def _require_sqlalchemy() -> None:
    try:
        import sqlalchemy  # noqa: F401, PLC0415
    except ImportError as exc:
        raise MissingDependencyError(
            f"this database URL needs SQLAlchemy and a driver; install them with {_INSTALL_HINT}"
        ) from exc


def __getattr__(name: str) -> object:
    """Import the SQLAlchemy adapter only when asked for (SQLAlchemy is optional)."""
    if name == "SQLAlchemyStorage":
        _require_sqlalchemy()
        from ._sqla import SQLAlchemyStorage  # noqa: PLC0415

        return SQLAlchemyStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
