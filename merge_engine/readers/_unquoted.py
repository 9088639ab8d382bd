"""The fast path of :func:`merge_engine.readers._csvfile.read_table`: one record per line.

Most exports quote nothing, or only the few values holding a comma, so each
record is one line and the cells of a line without a quote are the pieces
between its commas, exactly as the csv module would read them. Such lines
are read a chunk at a time with a few C calls over the whole chunk (one split
at every comma, then a slice per column) instead of a list per row: a
district's files hold millions of cells. The lines with a quote go through
the csv module. Blank and ragged rows are found line by line first, so errors
name the same line the csv module's read does.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Collection

from merge_engine.exceptions import InputError
from merge_engine.readers._table import FIELD_SIZE_LIMIT, Table, header_key

__all__ = ["read_unquoted"]

#: What ``str.strip()`` removes (every character for which ``str.isspace`` holds).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: A line made of these only is a blank record: every cell of it is empty once stripped.
_BLANK = WHITESPACE + ","
#: Whitespace a cell may start or end with, besides the space (looked for once per file):
#: line breaks end lines, never cells.
_RARE_ASCII = tuple("\t\x0b\x0c\x1c\x1d\x1e\x1f")
_RARE = _RARE_ASCII + tuple(WHITESPACE[10:])

_CHUNK_LINES = 8192


def read_unquoted(
    text: str, name: str, pool: tuple[dict[str, str], Collection[str]] | None
) -> Table | None:
    """The table of ``text`` if each of its records is one line: no quoted value spans
    lines, no carriage return but in CRLF line ends, no field over the size limit, and the
    csv module reads every line holding a quote without an error. ``None`` for any other
    text, or one without a header: the csv module reads those, and reports their errors."""
    lines_text = _lines(text)
    if lines_text is None:
        return None
    start = 0
    while True:
        if start == len(lines_text) or '"' in lines_text[start]:
            return None
        header = list(map(str.strip, lines_text[start].split(",")))
        start += 1
        if any(header):
            break
    body = lines_text[start:]
    del lines_text
    width = len(header)
    # The lines with a quote (a value holding a comma, in a few rows) are read by the csv
    # module, and stand in the chunks below as a line of empty cells until put back.
    quoted = list(
        itertools.compress(itertools.count(), map(str.__contains__, body, itertools.repeat('"')))
    )
    records = _records(body, quoted)
    if records is None:
        return None
    counts = list(map(str.count, body, itertools.repeat(",")))
    kept: list[bool] | None = None
    if "" in map(str.strip, body, itertools.repeat(_BLANK)) or not all(map(any, records)):
        kept = list(map(bool, map(str.strip, body, itertools.repeat(_BLANK))))
    for i, cells in zip(quoted, records, strict=True):
        counts[i] = len(cells) - 1
        body[i] = "," * (width - 1)
        if kept is not None:
            kept[i] = any(cells)
    lines: list[int] = list(range(start + 1, start + 1 + len(body)))
    if kept is not None:  # blank records are skipped
        at = list(itertools.accumulate(kept))  # a kept row's index, plus one
        quoted = [at[i] - 1 for i, cells in zip(quoted, records, strict=True) if any(cells)]
        records = [cells for cells in records if any(cells)]
        body = list(itertools.compress(body, kept))
        lines = list(itertools.compress(lines, kept))
        counts = list(itertools.compress(counts, kept))
    _check_widths(counts, width, lines, name)
    del counts
    keep: dict[str, str] = pool[0] if pool is not None else {}
    pooled = [pool is not None and header_key(n) not in pool[1] for n in header]
    columns = _columns(body, width, keep, pooled, text)
    for i, cells in zip(quoted, records, strict=True):
        for column, value, shared in zip(columns, cells, pooled, strict=True):
            column[i] = keep.setdefault(value, value) if shared else value
    return Table(name, header, columns, lines, start)


def _lines(text: str) -> list[str] | None:
    """The lines of ``text``, or ``None`` if one would not be a record by itself (a stray
    carriage return) or holds more than the largest field."""
    end = "\n"
    if "\r" in text:
        crlf = text.count("\r\n")
        if crlf != text.count("\r"):
            return None  # a carriage return that does not end a line
        if crlf == text.count("\n"):
            end = "\r\n"  # every line ends in CRLF (what the csv module writes)
        else:
            text = text.replace("\r\n", "\n")
    lines = text.split(end)
    if lines[-1] == "":
        lines.pop()  # the end of the last line, not a line
    if max(map(len, lines), default=0) > FIELD_SIZE_LIMIT:
        return None
    return lines


def _records(body: list[str], quoted: list[int]) -> list[list[str]] | None:
    """The stripped cells of each quoted line, as the csv module reads them; ``None`` if a
    record spans lines or one is malformed (the whole file then goes through the csv
    module, which says where)."""
    reader = csv.reader(map(body.__getitem__, quoted), strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            if reader.line_num != len(records) + 1:
                return None  # a quoted value goes on to the next quoted line
            records.append(list(map(str.strip, record)))
    except csv.Error:
        return None
    return records


def _check_widths(counts: list[int], width: int, lines: list[int], name: str) -> None:
    """Refuse the first row whose number of commas (``counts``) is not the header's."""
    if counts.count(width - 1) == len(counts):
        return
    for line, count in zip(lines, counts, strict=True):
        if count != width - 1:
            raise InputError(
                f"row has {count + 1} fields but the header has {width}; check for a "
                "missing or extra comma, or an unquoted comma inside a value",
                path=name,
                line=line,
            )


def _columns(
    body: list[str], width: int, keep: dict[str, str], pooled: list[bool], text: str
) -> list[list[str]]:
    """The stripped cells of ``body`` (lines of ``width`` cells) as columns; those of the
    ``pooled`` ones replaced by their copy in ``keep``."""
    # Unless a cell may start or end with some other whitespace (looked for in the whole
    # ``text`` once), only a space next to a comma or at either end of a chunk needs a strip.
    rare = any(map(text.__contains__, _RARE_ASCII if text.isascii() else _RARE))
    columns: list[list[str]] = [[] for _ in range(width)]
    for first in range(0, len(body), _CHUNK_LINES):
        joined = ",".join(body[first : first + _CHUNK_LINES])
        padded = rare or ", " in joined or " ," in joined
        padded = padded or joined.startswith(" ") or joined.endswith(" ")
        cells = joined.split(",")
        del joined
        for position, (column, shared) in enumerate(zip(columns, pooled, strict=True)):
            found = cells[position::width]
            if padded:
                found = list(map(str.strip, found))
            column.extend(map(keep.setdefault, found, found) if shared else found)
    return columns
