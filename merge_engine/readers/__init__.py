"""Read roster folders (native, Clever SFTP, OneRoster 1.1 CSV) and write native ones.

``read_roster`` is the one entry point the rest of merge-engine uses: it
detects the dialect from the files and headers present, so admins can point
the tool at whatever their SIS exported. Bad input raises
:class:`~merge_engine.exceptions.InputError` with file, line and column;
values that can be dropped without losing a record (an unparseable birth
date) become :class:`~merge_engine.model.InputWarning` instead.

Private modules: ``_native``, ``_clever`` and ``_oneroster`` read one dialect each,
``_csvfile`` and ``_values`` read files and cells, ``_writer`` writes native folders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import attrs

from merge_engine._gc import gc_paused
from merge_engine.exceptions import InputError
from merge_engine.model import Roster
from merge_engine.readers._clever import read_clever
from merge_engine.readers._csvfile import Folder, peek_header
from merge_engine.readers._native import read_native
from merge_engine.readers._oneroster import read_oneroster
from merge_engine.readers._writer import write_roster

__all__ = ["RosterFormat", "detect_format", "read_roster", "write_roster"]

RosterFormat = Literal["auto", "native", "clever", "oneroster"]

_READERS = {"native": read_native, "clever": read_clever, "oneroster": read_oneroster}
_EXPECTED = (
    "expected one of: native (students.csv with columns id, first_name, last_name), "
    "Clever (students.csv with columns School_id, Student_id, First_name, Last_name, ...), "
    "OneRoster 1.1 (users.csv)"
)


def _folder(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise InputError("roster folder not found; check the path", path=str(path))
    if not folder.is_dir():
        raise InputError(
            "expected a folder holding the roster CSV files, not a file; pass its folder",
            path=str(path),
        )
    return folder


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name the format of a roster folder: ``"native"``, ``"clever"`` or ``"oneroster"``.

    ``users.csv`` means OneRoster. Otherwise ``students.csv`` decides by its
    header: an ``id`` column means native, a ``Student_id`` column Clever.
    """
    folder = _folder(path)
    if (folder / "users.csv").is_file():
        return "oneroster"
    students = folder / "students.csv"
    if not students.is_file():
        found = sorted(p.name for p in folder.iterdir() if p.suffix.casefold() == ".csv")
        listing = ", ".join(found[:20]) if found else "no CSV files"
        raise InputError(
            f"cannot tell the roster format: found {listing}; {_EXPECTED}", path=str(path)
        )
    header = peek_header(students)
    if "id" in header:
        return "native"
    if "student_id" in header:
        return "clever"
    columns = _known_columns(header)
    raise InputError(
        f"cannot tell the roster format from the header ({columns}); {_EXPECTED}",
        path=str(students),
        line=1,
    )


def _known_columns(header: Sequence[str]) -> str:
    """Describe a header without echoing it: a header-less file's first row is a student."""
    from ._table import KNOWN_COLUMNS, header_key  # noqa: PLC0415

    known = [header_key(n) for n in header if n and header_key(n) in KNOWN_COLUMNS]
    unknown = sum(1 for n in header if n and header_key(n) not in KNOWN_COLUMNS)
    listed = ", ".join(known) if known else "no recognised columns"
    return f"found {listed}; {unknown} other column(s) not shown"


def read_roster(
    path: str | os.PathLike[str],
    *,
    format: RosterFormat = "auto",
    encoding: str = "utf-8",
    fallback_encoding: str | None = None,
    strict: bool = False,
) -> Roster:
    """Read a roster folder into a :class:`Roster` (``source`` is ``str(path)``).

    Files are decoded strictly with ``encoding`` (a BOM is allowed). Only if
    ``fallback_encoding`` is given is an undecodable file re-read with it,
    and the roster then carries a warning saying so. Values that cannot be
    used (an empty name, an unreadable date) are recorded as warnings and the
    rows kept; ``strict`` makes the first warning an :class:`InputError`.
    """
    folder = _folder(path)
    name = detect_format(folder) if format == "auto" else format
    reader = _READERS.get(name)
    if reader is None:
        raise InputError(f"unknown roster format {format!r}; use auto, native, clever or oneroster")
    with gc_paused():
        roster = reader(Folder(folder, encoding=encoding, fallback_encoding=fallback_encoding))
    if strict and roster.warnings:
        first = roster.warnings[0]
        raise InputError(
            f"{first.message} ({len(roster.warnings)} input warnings in all; without --strict "
            "they are recorded in the plan and the rows kept)",
            path=first.path,
            line=first.line,
            column=first.column,
        )
    return attrs.evolve(roster, source=str(path))
