"""A CSV file read into columns, with the header lookups every roster dialect shares.

Kept apart from the reading itself (:mod:`merge_engine.readers._csvfile`) so the
fast reader of files without quotes (:mod:`merge_engine.readers._unquoted`) can
build tables too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

from merge_engine.exceptions import InputError

__all__ = ["FIELD_SIZE_LIMIT", "KNOWN_COLUMNS", "Row", "Table", "cell", "header_key"]

#: Largest accepted cell. Python's default (128 KiB) is raised because notes
#: columns can be long; anything above 1 MiB is almost surely an unclosed quote.
FIELD_SIZE_LIMIT = 1 << 20

KNOWN_COLUMNS: frozenset[str] = frozenset(
    {
        # native
        "id", "first_name", "middle_name", "last_name", "dob", "grade", "gender", "school_id",
        "sis_id", "state_id", "student_number", "email", "street", "city", "state", "zip",
        "student_id", "name", "phone", "relationship",
        # Clever
        "contact_name", "contact_email", "contact_phone", "contact_phone_type",
        "contact_relationship", "contact_type", "contact_sis_id", "student_email",
        "student_street", "student_city", "student_state", "student_zip", "teacher_id",
        "staff_id", "teacher_email", "staff_email", "teacher_number", "title",
        # OneRoster
        "sourcedid", "status", "datelastmodified", "enableduser", "orgsourcedids", "role",
        "username", "userids", "givenname", "familyname", "middlename", "identifier", "sms",
        "agentsourcedids", "grades", "password", "birthdate", "sex",
    }
)  # fmt: skip
"""Column names the readers know; only these are ever echoed in error messages."""


def cell(cells: list[str], position: int | None) -> str | None:
    """An optional cell: ``None`` when the column is absent or the value empty."""
    if position is None:
        return None
    return cells[position] or None


class Row(NamedTuple):
    """A data row: physical line where it starts, and its stripped cells."""

    line: int
    cells: list[str]


def header_key(name: str) -> str:
    """Header lookup key: case-insensitive, and "First Name" matches ``first_name``."""
    return "_".join(name.casefold().split())


class Table:
    """One CSV file: its header and data rows, with case-insensitive column lookup."""

    def __init__(
        self,
        path: str,
        header: list[str],
        columns: list[list[str]],
        lines: list[int],
        header_line: int = 1,
    ) -> None:
        self.path = path
        self.header = header
        self.columns = columns
        self.lines = lines  # the physical line where each row starts
        self.header_line = header_line
        self._index: dict[str, int] = {}
        self._twice: dict[str, str] = {}  # repeated names: an error only if the reader uses them
        for position, name in enumerate(header):
            key = header_key(name)
            if key in self._index:
                self._twice[key] = name
            else:
                self._index[key] = position

    def index(self, name: str) -> int | None:
        """Position of a column (any case), or ``None`` if the file lacks it."""
        key = header_key(name)
        if key in self._twice:
            raise InputError(
                f"column {self._twice[key]!r} appears twice in the header; remove or rename one",
                path=self.path,
                line=self.header_line,
                column=self._twice[key],
            )
        return self._index.get(key)

    def has(self, name: str) -> bool:
        return self.index(name) is not None

    def require(self, names: Sequence[str], *, hint: str = "") -> list[int]:
        """Positions of required columns; an :class:`InputError` names the missing ones."""
        positions = [self.index(name) for name in names]
        missing = [
            name for name, position in zip(names, positions, strict=True) if position is None
        ]
        if missing:
            known = [header_key(n) for n in self.header if n and header_key(n) in KNOWN_COLUMNS]
            others = sum(1 for n in self.header if n and header_key(n) not in KNOWN_COLUMNS)
            found = ", ".join(known) or "no recognised columns"
            raise InputError(
                f"missing required column(s) {', '.join(missing)}; found {found} "
                f"and {others} other column(s) (not shown: a header-less file's first row is "
                "a student). "
                f"Rename the header to match{hint}",
                path=self.path,
                line=self.header_line,
                column=missing[0],
            )
        return [position for position in positions if position is not None]

    def required_value(self, row: Row, position: int) -> str:
        """A cell that must not be empty, or an :class:`InputError` at its line and column."""
        value = row.cells[position]
        if not value:
            raise InputError(
                "required value is empty; fill it in or delete the row",
                path=self.path,
                line=row.line,
                column=self.header[position],
            )
        return value

    def column_name(self, position: int) -> str:
        return self.header[position]

    @functools.cached_property
    def rows(self) -> list[Row]:
        """The rows, for readers that go row by row (made on first use)."""
        rows = zip(*self.columns, strict=True) if self.columns else iter(())
        return [Row(line, list(cells)) for line, cells in zip(self.lines, rows, strict=True)]

    def column(self, position: int | None) -> Sequence[str]:
        """Every row's cell at ``position`` (empty strings when the file lacks the column).
        The table's own list: read it, do not change it."""
        if position is None:
            return [""] * len(self.lines)
        return self.columns[position]
