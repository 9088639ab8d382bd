"""The column-wise fast paths from roster files to the planner's arrays read what the plain
row-by-row ways read: tables, contacts, guardian columns, record hashes and fingerprints."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge_engine._record_hash import guardian_ids
from merge_engine.accounts._guardian_columns import _Columns
from merge_engine.exceptions import InputError
from merge_engine.matching._normalize import (
    normalize_email,
    normalize_identifier,
    normalize_name,
    normalize_phones,
)
from merge_engine.model import Contact, Roster, Student
from merge_engine.planning._planner import _roster_fingerprint
from merge_engine.readers import read_roster
from merge_engine.readers._csvfile import Warnings, read_table
from merge_engine.readers._unquoted import WHITESPACE

# --- tables --------------------------------------------------------------------------


def test_whitespace_is_what_strip_removes() -> None:
    assert WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def _csv_module_read(text: str) -> tuple[Any, ...]:
    """What reading ``text`` record by record with the csv module gives: the header, columns,
    lines and header line, or the line of the first error (and a ragged row's width)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    header_line = end = 0
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            return ("error", start, None)
        end = reader.line_num
        cells = [c.strip() for c in record]
        if header is None:
            if any(cells):
                header, header_line = cells, start
            continue
        if not any(cells):
            continue
        if len(cells) != len(header):
            return ("error", start, len(cells))
        rows.append(cells)
        lines.append(start)
    if header is None:
        return ("error", 1, None)
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
    return (header, columns, lines, header_line)


def _read(path: Path, text: str) -> tuple[Any, ...]:
    path.write_bytes(text.encode())
    try:
        table = read_table(path, warnings=Warnings(dt.date(2026, 1, 1)))
    except InputError as error:
        found = str(error).partition("row has ")[2].partition(" fields")[0]
        return ("error", error.line, int(found) if found else None)
    return (table.header, table.columns, table.lines, table.header_line)


_CELL = st.one_of(
    st.sampled_from(["", "a", "Ann", "O'Neil", "x y", "1"]),
    st.builds(
        lambda pad, value, end: pad + value + end,
        st.sampled_from(["", " ", "\t", "\xa0", "\u3000", "\x1f"]),
        st.sampled_from(["", "b", "Bo"]),
        st.sampled_from(["", " ", "\u2003", "\x0b"]),
    ),
    st.sampled_from(['"a,b"', '" c "', '"d""e"', '""', '"f\ng"', '"h', 'i"j', '"k"l']),
)
_LINE = st.one_of(
    st.lists(_CELL, min_size=1, max_size=4).map(",".join),
    st.sampled_from(["", " ", ",,", " , ,", '"",""']),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(_LINE, min_size=1, max_size=8), end=st.sampled_from(["\n", "\r\n"]),
       last=st.booleans())  # fmt: skip
def test_a_table_reads_as_the_csv_module_reads_it(
    tmp_path: Path, lines: list[str], end: str, last: bool
) -> None:
    """Quoted cells, values holding a comma or a line break, padded cells, blank and ragged
    rows: the same table, or the same error at the same line."""
    text = end.join(lines) + (end if last else "")
    assert _read(tmp_path / "t.csv", text) == _csv_module_read(text)


def test_quoted_lines_among_plain_ones_keep_their_rows(tmp_path: Path) -> None:
    text = 'id,street,city\r\n1,"7 Elm St, Apt 3",Ames\r\n2,9 Oak Ave,Ames\r\n,,\r\n3,"",Bly\r\n'
    _, columns, lines, _ = _read(tmp_path / "t.csv", text)
    assert columns == [
        ["1", "2", "3"],
        ["7 Elm St, Apt 3", "9 Oak Ave", ""],
        ["Ames"] * 2 + ["Bly"],
    ]
    assert lines == [2, 3, 5]


def test_a_quoted_value_over_lines_goes_through_the_csv_module(tmp_path: Path) -> None:
    text = 'id,note\n1,"two\nlines"\n2,"a,b"\n3,x\n'
    _, columns, lines, _ = _read(tmp_path / "t.csv", text)
    assert columns == [["1", "2", "3"], ["two\nlines", "a,b", "x"]]
    assert lines == [2, 4, 5]


# --- contacts ------------------------------------------------------------------------


def test_contacts_keep_file_order_per_student_and_share_equal_rows(tmp_path: Path) -> None:
    (tmp_path / "students.csv").write_text(
        "id,first_name,last_name\ns1,A,B\ns2,C,D\ns3,E,F\ns4,G,B\n"
    )
    (tmp_path / "contacts.csv").write_text(
        "student_id,id,first_name,last_name,phone\n"
        "s2,g2,Pat,D,555\n"
        "s1,g1,Lee,B,\n"
        "s2,g1,Lee,B,\n"
        "s1,g3,Kim,B,\n"
        "s2,g0,Al,D,\n"
        "s4,g1,Lee,B,777\n"
        "s4,g1,Lee,B,777\n"
    )
    s1, s2, s3, s4 = read_roster(tmp_path).students
    assert [c.guardian_id for c in s1.contacts] == ["g1", "g3"]
    assert [c.guardian_id for c in s2.contacts] == ["g2", "g1", "g0"]
    assert s3.contacts == ()
    assert s1.contacts[0] is s2.contacts[1]
    assert isinstance(s1.contacts, tuple)
    # A guardian's rows that differ from its first: their own value, shared when equal.
    assert s4.contacts[0] == Contact(guardian_id="g1", first_name="Lee", last_name="B", phone="777")
    assert s4.contacts[0] is s4.contacts[1]
    assert s1.contacts[0].phone is None


# --- guardian columns ----------------------------------------------------------------


def _reference_columns(roster: Roster) -> dict[str, Any]:
    """The guardian columns gathered row by row: each account's first non-empty value of
    each field, and every relationship its rows name."""
    fields: dict[str, list[Any]] = {}
    relations: dict[str, set[str]] = {}
    rows: list[tuple[str, str, int]] = []
    for position, student in enumerate(roster.students):
        for c in student.contacts:
            raw = [c.first_name, c.last_name, c.email, c.phone, c.sis_id]
            found = fields.setdefault(c.guardian_id, raw)
            fields[c.guardian_id] = [a or b for a, b in zip(found, raw, strict=True)]
            relations.setdefault(c.guardian_id, set())
            if c.relationship and c.relationship.strip():
                relations[c.guardian_id].add(c.relationship.strip().lower())
            rows.append((c.guardian_id, student.id, position))
    ids = sorted(fields)
    first, last, email, phone, sis = ([fields[g][k] for g in ids] for k in range(5))
    return {
        "ids": ids,
        "first": [normalize_name(v) for v in first],
        "last": [normalize_name(v) for v in last],
        "email": [normalize_email(v) for v in email],
        "phone": normalize_phones([v or "" for v in phone]),
        "sis": [normalize_identifier(v) for v in sis],
        "relationships": [tuple(sorted(relations[g])) for g in ids],
        "rows": rows,
    }


_NAME = st.sampled_from([None, "", "Pat", "Lee", " Kim "])
_CONTACT = st.builds(
    Contact,
    guardian_id=st.sampled_from(["g1", "g2", "g3", "g10"]),
    first_name=_NAME,
    last_name=_NAME,
    email=st.sampled_from([None, "p@x.org", "P@X.org "]),
    phone=st.sampled_from([None, "555-010-2000", "+16695550100"]),
    relationship=st.sampled_from([None, "", "Mother", "mother ", "Aunt"]),
    sis_id=st.sampled_from([None, "007", "7"]),
)


@settings(max_examples=200, deadline=None)
@given(
    contacts=st.lists(st.lists(_CONTACT, max_size=3), max_size=5),
    shared=st.booleans(),
)
def test_guardian_columns_gather_what_the_rows_say(
    contacts: list[list[Contact]], shared: bool
) -> None:
    """Equal rows given as one shared value or as equal copies: the same columns."""
    if shared:  # as a reader gives them: one value per distinct row
        made: dict[Contact, Contact] = {}
        contacts = [[made.setdefault(c, c) for c in cs] for cs in contacts]
    students = [Student(id=f"s{i}", first_name="A", last_name=f"L{i}", contacts=cs)
                for i, cs in enumerate(contacts)]  # fmt: skip
    columns = _Columns.from_roster(Roster(students))
    expected = _reference_columns(Roster(students))
    for name in ("ids", "first", "last", "email", "phone", "sis", "relationships"):
        assert getattr(columns, name) == expected[name], name
    rows = [(columns.ids[a], columns.student_id[s], p) for a, s, p in zip(
        columns.row_account.tolist(), columns.row_student.tolist(),
        columns.row_position.tolist(), strict=True)]  # type: ignore[union-attr]  # fmt: skip
    assert rows == expected["rows"]
    assert columns.student_last == [s.last_name for s in students]
    assert columns.row_account.dtype == np.int64


def test_guardian_columns_of_a_roster_without_contacts() -> None:
    columns = _Columns.from_roster(Roster([Student(id="s", first_name="A", last_name="B")]))
    assert columns.ids == [] and columns.student_id == ["s"] and columns.student_last == ["B"]
    assert len(columns.row_account) == 0 and len(columns.row_student) == 0


# --- hashes and fingerprints -----------------------------------------------------------


def _reference_fingerprint(
    students: Sequence[Student], hashes: Sequence[str], guardians: Sequence[Sequence[str]] | None
) -> str:
    digest = hashlib.sha256()
    for i, (student, h) in enumerate(zip(students, hashes, strict=True)):
        extra = "\x1f".join(guardians[i]) if guardians is not None else ""
        digest.update(f"{student.id}\x1e{h}\x1e{extra}\x1d".encode())
    return digest.hexdigest()


@pytest.mark.parametrize("size", [0, 1, 3, 16384, 40000])
def test_fingerprint_is_the_digest_of_each_record_in_turn(size: int) -> None:
    students = [Student(id=f"s{i}", first_name="A", last_name="B") for i in range(size)]
    hashes = [f"{i:016x}" for i in range(size)]
    guardians = [tuple(f"g{j}" for j in range(i % 3)) for i in range(size)]
    assert _roster_fingerprint(students, hashes) == _reference_fingerprint(students, hashes, None)
    assert _roster_fingerprint(students, hashes, guardians) == _reference_fingerprint(
        students, hashes, guardians
    )


def test_fingerprint_refuses_a_missing_hash() -> None:
    with pytest.raises(ValueError):
        _roster_fingerprint([Student(id="s", first_name="A", last_name="B")], [])


@given(st.lists(st.sampled_from(["g1", "g2", "g3"]), max_size=4))
def test_guardian_ids_are_the_sorted_distinct_ids(ids: list[str]) -> None:
    student = Student(id="s", first_name="A", last_name="B",
                      contacts=[Contact(guardian_id=g) for g in ids])  # fmt: skip
    assert guardian_ids(student) == tuple(sorted(set(ids)))


def test_many_contacts_in_one_line_of_ids() -> None:
    contacts = [Contact(guardian_id=g) for g in itertools.islice(itertools.cycle("ba"), 5)]
    assert guardian_ids(Student(id="s", first_name="A", last_name="B", contacts=contacts)) == (
        "a",
        "b",
    )


def test_a_student_id_twice_has_the_code_of_its_first_record() -> None:
    students = [
        Student(id="s", first_name="A", last_name="B", contacts=[Contact(guardian_id="g1")]),
        Student(id="t", first_name="A", last_name="C"),
        Student(id="s", first_name="A", last_name="D", contacts=[Contact(guardian_id="g2")]),
    ]
    columns = _Columns.from_roster(Roster(students))
    assert columns.student_code == {"s": 0, "t": 1}
    assert columns.row_student.tolist() == [0, 0]
    assert columns.row_position is not None and columns.row_position.tolist() == [0, 2]
