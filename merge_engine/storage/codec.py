"""JSON for journal entries and audit counts, shared by every adapter.

Rows set aside by a merge must come back exactly on undo, whatever their
column types, so values that JSON cannot hold (dates, timestamps,
decimals, bytes, UUIDs) are tagged: ``{"$date": "2024-01-05"}``. Any
dict value is tagged too (``{"$map": ...}``) so tags can never be confused
with data. Row keys are tuples; JSON lists come back as tuples.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import StorageError
from ._base import AccountLink, AuditRecord, GuardianLink, HistoryRow, JournalEntry

__all__ = [
    "audit_record",
    "decode_audit_rows",
    "decode_entry",
    "decode_value",
    "encode_audit_rows",
    "encode_entry",
    "encode_value",
]


def encode_value(value: Any) -> Any:
    """A JSON-ready form of one column value (see the module docstring)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"$float": repr(value)}  # keeps nan/inf and exact digits
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Mapping):
        return {"$map": {str(k): encode_value(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    raise StorageError(
        f"cannot journal a value of type {type(value).__name__}; "
        "map the column to a JSON-, date- or number-typed column"
    )


_DECODERS: dict[str, Any] = {
    "$float": float,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$decimal": decimal.Decimal,
    "$bytes": base64.b64decode,
    "$uuid": uuid.UUID,
}


def decode_value(value: Any) -> Any:
    """Invert :func:`encode_value` (JSON lists become lists, keys are rebuilt by the caller)."""
    if isinstance(value, dict):
        ((tag, inner),) = value.items()
        if tag == "$map":
            return {k: decode_value(v) for k, v in inner.items()}
        return _DECODERS[tag](inner)
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _key(value: Any) -> tuple[Any, ...]:
    return tuple(decode_value(v) for v in value)


def encode_entry(entry: JournalEntry) -> str:
    """A journal entry as compact, deterministic JSON."""
    data: dict[str, Any] = {
        "plan_fingerprint": entry.plan_fingerprint,
        "archived_id": entry.archived_id,
        "synced_id": entry.synced_id,
        "moved": {
            table: [[encode_value(v) for v in key] for key in keys]
            for table, keys in sorted(entry.moved.items())
        },
        "set_aside": [
            {
                "table": row.table,
                "key": [encode_value(v) for v in row.key],
                "values": {k: encode_value(v) for k, v in row.values.items()},
            }
            for row in entry.set_aside
        ],
        "links_added": [_link(link) for link in entry.links_added],
        "undone": entry.undone,
    }
    # Written only when used, so student-merge entries keep their earlier form.
    if entry.links_removed:
        data["links_removed"] = [_link(link) for link in entry.links_removed]
    if entry.accounts_linked:
        data["accounts_linked"] = [
            [a.kind, a.first_id, a.second_id, a.mode] for a in entry.accounts_linked
        ]
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def decode_entry(text: str) -> JournalEntry:
    """Invert :func:`encode_entry`; raise :class:`StorageError` for a damaged entry."""
    try:
        data = json.loads(text)
        return JournalEntry(
            plan_fingerprint=data["plan_fingerprint"],
            archived_id=data["archived_id"],
            synced_id=data["synced_id"],
            moved={table: tuple(_key(k) for k in keys) for table, keys in data["moved"].items()},
            set_aside=[
                HistoryRow(
                    row["table"],
                    _key(row["key"]),
                    {k: decode_value(v) for k, v in row["values"].items()},
                )
                for row in data["set_aside"]
            ],
            links_added=[_unlink(item) for item in data["links_added"]],
            undone=bool(data["undone"]),
            links_removed=[_unlink(item) for item in data.get("links_removed", [])],
            accounts_linked=[_account_link(item) for item in data.get("accounts_linked", [])],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(
            f"a merge journal entry cannot be read ({type(exc).__name__}); "
            "the journal table was edited by hand or by another tool"
        ) from exc


def _link(link: GuardianLink) -> list[Any]:
    """``[student, guardian, relationship]``, plus the position when the link has one."""
    item: list[Any] = [link.student_id, link.guardian_id, link.relationship]
    if link.order is not None:
        item.append(link.order)
    return item


def _unlink(item: Any) -> GuardianLink:
    """Invert :func:`_link`; entries written before positions were kept have three items."""
    student_id, guardian_id, relationship, *rest = item
    if len(rest) > 1 or (rest and not isinstance(rest[0], int)):
        raise ValueError("a journaled guardian link has an unexpected shape")
    return GuardianLink(student_id, guardian_id, relationship, rest[0] if rest else None)


def _account_link(item: Any) -> AccountLink:
    kind, first, second, mode = item
    if kind not in ("staff_guardian", "guardian_guardian") or mode not in ("link", "merge"):
        raise ValueError("unknown account link kind or mode")
    return AccountLink(kind, str(first), str(second), mode)


def encode_audit_rows(record: AuditRecord) -> str:
    return json.dumps(dict(sorted(record.rows.items())), separators=(",", ":"))


def decode_audit_rows(text: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in json.loads(text).items()}


def audit_record(row: Sequence[Any]) -> AuditRecord:
    """An audit record from its stored columns: action, plan, archived, synced, at, rows, note."""
    action, fingerprint, archived_id, synced_id, at, counts, note = row
    return AuditRecord(
        action, fingerprint, archived_id, synced_id, at, decode_audit_rows(counts), note or ""
    )
