"""Strict CSV reading shared by every roster dialect.

Roster exports come from many tools and are often hand-edited in Excel, so
the reader refuses what would otherwise go silently wrong: undecodable
bytes, NUL bytes, unclosed quotes, ragged rows and ambiguous headers. Every
error names the file, the physical line where the offending row starts and
the column, and says what to do next; no message repeats a cell value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from merge_engine.exceptions import InputError
from merge_engine.model import InputWarning
from merge_engine.readers import _values as values
from merge_engine.readers._table import (
    FIELD_SIZE_LIMIT,
    Row,
    Table,
    cell,
    header_key,
)
from merge_engine.readers._unquoted import read_unquoted

__all__ = [
    "FIELD_SIZE_LIMIT",
    "Folder",
    "Row",
    "Table",
    "Warnings",
    "cell",
    "decode",
    "peek_header",
    "read_table",
]

csv.field_size_limit(FIELD_SIZE_LIMIT)

_FALLBACK_HINT = (
    'pass fallback_encoding="cp1252" (CLI: --encoding-fallback cp1252) if the file '
    "was saved by Excel on Windows, or re-save it as UTF-8"
)
_UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})
_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class Warnings(list[InputWarning]):
    """Collects :class:`InputWarning` values and parses cells that may be dropped.

    ``today`` bounds birth dates; it is fixed per read so a roster read at
    midnight does not judge its rows by two different days.
    """

    def __init__(self, today: dt.date) -> None:
        super().__init__()
        self.today = today

    def add(self, path: str, line: int, column: str | None, message: str) -> None:
        self.append(InputWarning(path=path, line=line, column=column, message=message))

    def name(self, path: str, line: int, column: str, text: str) -> str:
        """A given name or surname; an empty one is kept with a warning (never auto-merged)."""
        if not text:
            self.add(
                path,
                line,
                column,
                "name is empty; the record is kept and can only be proposed for review",
            )
        return text

    def date(self, path: str, line: int, column: str, text: str) -> dt.date | None:
        """A birth date, or ``None`` plus a warning (without the value) if unusable."""
        try:
            value = values.parse_date(text)
        except ValueError:
            self.add(
                path,
                line,
                column,
                "unparseable date; value dropped (expected YYYY-MM-DD or MM/DD/YYYY)",
            )
            return None
        if value is None:
            return None
        try:
            return values.check_birth_date(value, today=self.today)
        except ValueError:
            self.add(path, line, column, "date is in the future or before 1900; value dropped")
            return None

    def grade(self, path: str, line: int, column: str, text: str) -> int | None:
        """A grade ordinal, or ``None`` plus a warning if unrecognised."""
        try:
            return values.parse_grade(text)
        except ValueError:
            self.add(
                path,
                line,
                column,
                "unrecognised grade; value dropped (expected e.g. Kindergarten, KG, PK, 1 to 13)",
            )
            return None

    def gender(self, path: str, line: int, column: str, text: str) -> str | None:
        """``"F"``, ``"M"``, ``"X"``, or ``None`` plus a warning if unrecognised."""
        try:
            return values.parse_gender(text, strict=True)
        except ValueError:
            self.add(path, line, column, "unrecognised gender; value dropped (expected F, M or X)")
            return None

    def column(
        self, kind: str, path: str, column: str, texts: Sequence[str], lines: Sequence[int]
    ) -> tuple[list[Any], list[tuple[int, InputWarning]]]:
        """A whole column parsed by method ``kind`` (``"date"``, ``"grade"``, ``"gender"`` or
        ``"name"``), each distinct text once: the values, and the warnings with their row
        index, for the caller to add in row order. Empty cells are ``None`` (names: kept)."""
        outcomes: dict[str, tuple[Any, str | None]] = {}
        for text in dict.fromkeys(texts):
            if not text and kind != "name":
                outcomes[text] = (None, None)
                continue
            scratch = Warnings(self.today)
            value = getattr(scratch, kind)(path, 0, column, text)
            outcomes[text] = (value, scratch[0].message if scratch else None)
        values_of = {text: value for text, (value, _) in outcomes.items()}
        messages = {text: message for text, (_, message) in outcomes.items() if message}
        problems = [
            (row, InputWarning(path=path, line=lines[row], column=column, message=messages[text]))
            for row, text in enumerate(texts)
            if text in messages
        ] if messages else []  # fmt: skip
        return list(map(values_of.__getitem__, texts)), problems


class Folder:
    """A roster folder and the one decoding policy and warning list for all its files."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str = "utf-8",
        fallback_encoding: str | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.fallback_encoding = fallback_encoding
        self.warnings = Warnings(today or dt.date.today())
        self.pool: dict[str, str] = {}  # one copy of each repeated value (see read_table)

    def optional(self, name: str, *, pool_except: Collection[str] | None = None) -> Table | None:
        """The table in file ``name``, or ``None`` if the folder lacks it.

        With ``pool_except``, the cells of every other column go through the
        folder's ``pool`` (names, places and contacts repeat; identifiers do not).
        """
        path = self.path / name
        if not path.is_file():
            return None
        return read_table(
            path,
            encoding=self.encoding,
            fallback_encoding=self.fallback_encoding,
            warnings=self.warnings,
            pool=None if pool_except is None else (self.pool, pool_except),
        )

    def required(
        self, name: str, expected: str, *, pool_except: Collection[str] | None = None
    ) -> Table:
        """The table in file ``name``; an :class:`InputError` says what was ``expected``."""
        table = self.optional(name, pool_except=pool_except)
        if table is None:
            raise InputError(
                f"missing required file {name} ({expected})", path=str(self.path / name)
            )
        return table


def decode(
    data: bytes,
    path: str,
    *,
    encoding: str,
    fallback_encoding: str | None,
    warnings: Warnings,
) -> str:
    """Decode file bytes strictly; fall back only when asked, and say so in a warning.

    UTF-8 (with or without BOM) is the default. A UTF-16/32 BOM is honoured
    silently because it is unambiguous (Excel's "Unicode text" export).
    """
    try:
        canonical = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; use e.g. utf-8 or cp1252") from None
    if canonical in _UTF8_NAMES:
        for bom, name in _BOMS:
            if data.startswith(bom):
                return _decode_or_fail(data, path, name, "")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            if fallback_encoding is None:
                raise InputError(
                    f"file is not valid UTF-8 (first invalid byte at line {line}); "
                    + _FALLBACK_HINT,
                    path=path,
                    line=line,
                ) from None
        try:
            codecs.lookup(fallback_encoding)
        except LookupError:
            raise InputError(
                f"unknown fallback encoding {fallback_encoding!r}; use e.g. cp1252"
            ) from None
        text = _decode_or_fail(data, path, fallback_encoding, " either")
        warnings.add(
            path,
            line,
            None,
            f"file is not valid UTF-8 (first invalid byte at line {line}); decoded as "
            f"{fallback_encoding} because a fallback encoding was given. Check accented names",
        )
        return text
    return _decode_or_fail(data, path, encoding, "").removeprefix("\ufeff")


def _decode_or_fail(data: bytes, path: str, encoding: str, either: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        # Count newlines in the decodable prefix: byte offsets mean little in UTF-16.
        prefix = data[: error.start].decode(encoding, errors="replace")
        line = prefix.count("\n") + 1
        raise InputError(
            f"file cannot be decoded as {encoding}{either} (first invalid byte at line {line}); "
            "re-save it as UTF-8",
            path=path,
            line=line,
        ) from None


def read_table(
    path: Path,
    *,
    encoding: str = "utf-8",
    fallback_encoding: str | None = None,
    warnings: Warnings,
    pool: tuple[dict[str, str], Collection[str]] | None = None,
) -> Table:
    """Read a whole CSV file strictly into a :class:`Table` of stripped cells.

    Rows whose cells are all empty are skipped; every other row must have
    exactly as many cells as the header. With ``pool`` (a dict and the header
    keys to leave out), each cell of the other columns is replaced by the
    dict's copy of its value as the rows are read, so a value repeated on
    many rows is held once and the repeats are freed at once.
    """
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=name) from None
    except OSError as error:
        raise InputError(_unreadable(error), path=name) from None
    text = decode(
        data, name, encoding=encoding, fallback_encoding=fallback_encoding, warnings=warnings
    )
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            "file contains NUL bytes (a binary file, or UTF-16 without a byte-order mark); "
            "re-export it as a UTF-8 CSV",
            path=name,
            line=text.count("\n", 0, nul) + 1,
        )
    table = read_unquoted(text, name, pool)
    if table is not None:
        return table
    # Quoted values (one may span lines): row by row, following the lines.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    # Rows are gathered a chunk at a time and stored as columns: no list per row stays.
    columns: list[list[str]] = []
    chunk: list[list[str]] = []
    lines: list[int] = []
    pooled: tuple[dict[str, str], list[bool]] | None = None
    width = header_line = 0
    end = 0  # physical line where the previous record ended
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise InputError(_csv_error_message(str(error)), path=name, line=start) from None
        end = reader.line_num
        cells = list(map(str.strip, record))
        if header is None:
            if any(cells):
                header, width, header_line = cells, len(cells), start
                columns = [[] for _ in header]
                if pool is not None:
                    pooled = (pool[0], [header_key(n) not in pool[1] for n in header])
            continue
        if not any(cells):
            continue
        if len(cells) != width:
            raise InputError(
                f"row has {len(cells)} fields but the header has {width}; check for a "
                "missing or extra comma, or an unquoted comma inside a value",
                path=name,
                line=start,
            )
        chunk.append(cells)
        lines.append(start)
        if len(chunk) == _CHUNK_ROWS:
            _to_columns(chunk, columns, pooled)
    if header is None:
        raise InputError("file is empty; expected a header row and data rows", path=name, line=1)
    _to_columns(chunk, columns, pooled)
    return Table(name, header, columns, lines, header_line)


_CHUNK_ROWS = 4096


def _to_columns(
    chunk: list[list[str]],
    columns: list[list[str]],
    pool: tuple[dict[str, str], list[bool]] | None,
) -> None:
    """Move a chunk of rows onto the end of the columns (pooling the cells of pooled ones)."""
    if chunk:
        keep, pooled = pool if pool is not None else ({}, [False] * len(columns))
        for column, cells, shared in zip(columns, zip(*chunk, strict=True), pooled, strict=True):
            column.extend(map(keep.setdefault, cells, cells) if shared else cells)
    chunk.clear()


def _unreadable(error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    return f"cannot read file ({reason}); check it exists and is readable"


def _csv_error_message(detail: str) -> str:
    if "field larger than field limit" in detail:
        return (
            f"a field is larger than {FIELD_SIZE_LIMIT // (1 << 20)} MiB, usually a quote that "
            "is never closed starting on this line; fix the quoting"
        )
    if "unexpected end of data" in detail:
        return "a quoted field starting on or after this line is never closed; fix the quoting"
    return (
        f"malformed CSV ({detail}); quote values containing commas or quotes and double "
        "any quote inside a quoted value"
    )


def peek_header(path: Path) -> list[str]:
    """The casefolded header names of a file, leniently decoded (for format detection)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(1 << 16)
    except OSError as error:
        raise InputError(_unreadable(error), path=str(path)) from None
    encoding = "utf-8-sig"
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            cells = [header_key(cell) for cell in record]
            if any(cells):
                return cells
    except csv.Error:
        pass  # the strict read reports the problem with its line
    return []
