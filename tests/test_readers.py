"""Roster readers and the native writer: formats, strict errors, warnings, round-trips."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge_engine.exceptions import InputError
from merge_engine.model import Contact, Roster, StaffMember, Student
from merge_engine.readers import detect_format, read_roster, write_roster
from merge_engine.readers._clever import derive_guardian_id
from merge_engine.readers._csvfile import Warnings, read_table
from merge_engine.readers._values import (
    format_grade,
    parse_date,
    parse_gender,
    parse_grade,
    split_name,
)

DATA = Path(__file__).parent / "data"
NATIVE_HEADER = "id,first_name,last_name,dob,grade,gender\n"


def write_files(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def read_error(folder: Path, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        read_roster(folder, **kwargs)  # type: ignore[arg-type]
    error = info.value
    # Raised on purpose, not a leaked csv/codec exception chained underneath.
    assert error.__cause__ is None
    assert "Traceback" not in str(error)
    return error


# --- the three formats ---------------------------------------------------------------


def test_native_fixture() -> None:
    roster = read_roster(DATA / "native_small")
    assert roster.format == "native"
    assert roster.source == str(DATA / "native_small")
    assert roster.has_dob_column
    assert roster.warnings == ()
    ana, ben, cy = roster.students
    assert (ana.id, ana.first_name, ana.last_name, ana.middle_name) == (
        "s1",
        "Ana",
        "García",
        "María",
    )
    assert ana.dob == dt.date(2012, 3, 4)
    assert (ana.grade, ana.gender, ana.school_id, ana.sis_id) == (3, "F", "sch1", "1001")
    assert ana.email == "ana@example.org"
    assert ana.line == 2
    assert ben.last_name == "O'Neil, Jr"
    assert (ben.dob, ben.grade, ben.gender, ben.email) == (dt.date(2011, 5, 6), 0, "M", None)
    assert (cy.grade, cy.gender, cy.dob) == (-2, "X", None)
    # Contacts keep file order per student; siblings share the guardian id.
    assert [c.guardian_id for c in ana.contacts] == ["g1", "g2"]
    assert (ana.contacts[0].first_name, ana.contacts[0].last_name) == ("Mary Ann", "García")
    assert (ben.contacts[0].first_name, ben.contacts[0].last_name) == ("Mary", "García")
    assert ben.contacts[0].guardian_id == "g1"
    assert cy.contacts == ()
    assert roster.staff == (
        StaffMember(
            id="t1",
            first_name="Tess",
            last_name="Teacher",
            email="tess@example.org",
            school_id="sch1",
        ),
    )


def test_clever_fixture_multi_row_students() -> None:
    roster = read_roster(DATA / "clever_small")
    assert roster.format == "clever"
    assert roster.has_dob_column
    amy, bo, cal = roster.students
    assert (amy.id, amy.sis_id, amy.student_number, amy.state_id) == ("c1", "c1", "1001", "ST1")
    assert (amy.dob, amy.grade, amy.gender, amy.email) == (
        dt.date(2012, 3, 4),
        3,
        "F",
        "amy@example.org",
    )
    assert amy.line == 2  # first of its two non-adjacent rows (2 and 4)
    assert [(c.first_name, c.last_name) for c in amy.contacts] == [
        ("Pat", "Smith"),
        ("Lee", "Smith"),
    ]
    # Same email in different case on siblings' rows: one derived guardian account.
    assert amy.contacts[0].guardian_id == bo.contacts[0].guardian_id
    assert amy.contacts[0].guardian_id.startswith("contact:")
    assert amy.contacts[1].guardian_id != amy.contacts[0].guardian_id
    assert amy.contacts[1].phone == "555-0100"
    gran = bo.contacts[1]
    assert (gran.guardian_id, gran.sis_id, gran.relationship) == ("G77", "G77", "Grandparent")
    assert (cal.grade, cal.contacts, cal.line) == (-2, (), 5)
    # teachers.csv lists a teacher once per school; the first row wins.
    assert roster.staff == (
        StaffMember(
            id="t1",
            first_name="Tom",
            last_name="Teach",
            email="tom@example.org",
            school_id="sch1",
            sis_id="T-1",
        ),
    )
    assert roster.warnings == ()


def test_oneroster_fixture_links_both_directions() -> None:
    roster = read_roster(DATA / "oneroster_small")
    assert roster.format == "oneroster"
    assert roster.has_dob_column
    amy, bo = roster.students
    assert (amy.first_name, amy.middle_name, amy.last_name) == ("Amy", "Jo", "Smith")
    assert (amy.dob, amy.gender, amy.grade) == (dt.date(2012, 3, 4), "F", 3)
    assert (amy.school_id, amy.sis_id, amy.state_id, amy.email) == (
        "org1",
        "1001",
        "ST1",
        "amy@example.org",
    )
    # Amy lists g1 herself; g2 lists Amy. Bo is listed by g1 and g2.
    assert [c.guardian_id for c in amy.contacts] == ["g1", "g2"]
    assert [c.guardian_id for c in bo.contacts] == ["g1", "g2"]
    pat = amy.contacts[0]
    assert pat == Contact(
        guardian_id="g1",
        first_name="Pat",
        last_name="Smith",
        email="pat@example.org",
        phone="555-0199",
        relationship="parent",
        sis_id="P1",
    )
    assert bo.grade == 0
    assert (bo.dob, bo.gender) == (dt.date(2016, 1, 2), "M")
    assert [s.id for s in roster.staff] == ["t1"]
    assert roster.warnings == ()


def test_oneroster_without_demographics_has_no_dob_column(tmp_path: Path) -> None:
    users = (DATA / "oneroster_small" / "users.csv").read_text("utf-8")
    roster = read_roster(write_files(tmp_path, {"users.csv": users}))
    assert not roster.has_dob_column
    assert all(s.dob is None for s in roster.students)


def test_oneroster_skips_and_warns(tmp_path: Path) -> None:
    users = (
        "sourcedId,status,role,givenName,familyName,agentSourcedIds\n"
        'u1,,Student,Amy,Smith,"g9, t1"\n'
        'g1,,guardian,,,"u1,u404"\n'
        "x1,,robot,R,2D,\n"
        "d1,tobedeleted,student,Del,Eted,\n"
        "t1,,teacher,Tom,Teach,\n"
    )
    demographics = "sourcedId,birthDate,sex\nu1,2012-13-40,f\nzz,2010-01-01,m\nd1,2010-01-01,m\n"
    roster = read_roster(
        write_files(tmp_path, {"users.csv": users, "demographics.csv": demographics})
    )
    (amy,) = roster.students
    assert [c.guardian_id for c in amy.contacts] == ["g1"]
    assert (amy.contacts[0].first_name, amy.contacts[0].last_name) == (None, None)
    assert (amy.dob, amy.gender) == (None, "F")
    found = {(Path(w.path).name, w.line, w.column) for w in roster.warnings}
    assert found == {
        ("users.csv", 2, "agentSourcedIds"),  # g9 unknown, t1 not a guardian
        ("users.csv", 3, "agentSourcedIds"),  # u404 unknown
        ("users.csv", 4, "role"),
        ("users.csv", 5, "status"),
        ("demographics.csv", 2, "birthDate"),
        ("demographics.csv", 3, "sourcedId"),
    }
    assert len(roster.warnings) == 7


def test_header_case_and_spaces_are_ignored(tmp_path: Path) -> None:
    students = " ID ,FIRST_NAME ,  Last_Name,DoB\nA1, Ana , Li ,2010-01-02\n"
    (student,) = read_roster(write_files(tmp_path, {"students.csv": students})).students
    assert (student.id, student.first_name, student.last_name) == ("A1", "Ana", "Li")
    assert student.dob == dt.date(2010, 1, 2)


def test_header_inner_spaces_and_unused_duplicates(tmp_path: Path) -> None:
    students = "Student ID,First Name,Last Name,Notes,NOTES\nc1,Ana,Li,a,b\n"
    folder = write_files(tmp_path, {"students.csv": students})
    assert detect_format(folder) == "clever"
    (student,) = read_roster(folder).students
    assert (student.id, student.first_name, student.last_name) == ("c1", "Ana", "Li")


def test_clever_headers_any_case(tmp_path: Path) -> None:
    students = "SCHOOL_ID,student_id,first_name,LAST_NAME,dob\nsch,c1,Ana,Li,1/2/2010\n"
    roster = read_roster(write_files(tmp_path, {"students.csv": students}))
    assert roster.format == "clever"
    assert roster.students[0].dob == dt.date(2010, 1, 2)


def test_clever_blank_repeats_fill_in_and_contactless_rows_warn(tmp_path: Path) -> None:
    students = (
        "Student_id,First_name,Last_name,Grade,Contact_name,Contact_email,Contact_relationship\n"
        "c1,Ana,Li,,,,\n"
        "c2,Bo,Li,4,,,\n"
        "c1,Ana,Li,3,,,Mother\n"
    )
    roster = read_roster(write_files(tmp_path, {"students.csv": students}))
    ana, _ = roster.students
    assert (ana.grade, ana.contacts, ana.line) == (3, (), 2)
    assert not roster.has_dob_column
    (warning,) = roster.warnings
    assert (warning.line, warning.column) == (4, "Contact_name")


def test_derived_guardian_ids_are_stable() -> None:
    by_email = derive_guardian_id(" Pat@Example.org ", "555", "Pat", "s1")
    assert by_email == derive_guardian_id("pat@example.org", None, None, "s2")
    assert derive_guardian_id(None, "(555) 010-0100", None, "s1") == derive_guardian_id(
        None, "+1 555 010 0100", "Other Name", "s2"
    )
    assert derive_guardian_id(None, None, "Pat Li", "s1") != derive_guardian_id(
        None, None, "Pat Li", "s2"
    )


def test_bom_is_stripped(tmp_path: Path) -> None:
    folder = write_files(tmp_path, {"students.csv": "\ufeffid,first_name,last_name\n1,Å,B\n"})
    assert detect_format(folder) == "native"
    assert read_roster(folder).students[0].first_name == "Å"


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    text = "id,first_name,last_name\r\n1,Zoë,Ng\r\n"
    folder = write_files(tmp_path, {"students.csv": text.encode("utf-16")})
    assert detect_format(folder) == "native"
    roster = read_roster(folder)
    assert roster.students[0].first_name == "Zoë"
    assert roster.warnings == ()


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    students = 'id,first_name,last_name\n1,"Multi\nLine",A\n\n2,B,C\n,,\n3,"x\r\ny",Z\n4,D,E\n'
    roster = read_roster(write_files(tmp_path, {"students.csv": students}))
    assert [(s.id, s.line) for s in roster.students] == [("1", 2), ("2", 5), ("3", 7), ("4", 9)]
    assert roster.students[0].first_name == "Multi\nLine"


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(DATA / "native_small") == "native"
    assert detect_format(DATA / "clever_small") == "clever"
    assert detect_format(DATA / "oneroster_small") == "oneroster"
    with pytest.raises(InputError, match=r"users\.csv") as info:
        detect_format(write_files(tmp_path / "empty", {"notes.csv": "a\n1\n"}))
    assert "students.csv" in str(info.value) and "notes.csv" in str(info.value)
    odd = write_files(tmp_path / "odd", {"students.csv": "pupil,given\nAna Secret,x\n"})
    with pytest.raises(InputError, match="no recognised columns; 2 other column") as info:
        detect_format(odd)
    assert "Secret" not in str(info.value)
    with pytest.raises(InputError, match="not found"):
        detect_format(tmp_path / "nowhere")
    with pytest.raises(InputError, match="folder"):
        detect_format(odd / "students.csv")


def test_explicit_format_mismatch_names_columns(tmp_path: Path) -> None:
    error = read_error(DATA / "native_small", format="clever")
    assert error.column == "Student_id"
    assert "found id, first_name" in str(error)
    assert "Ana" not in str(error)


# --- hard errors ---------------------------------------------------------------------

BAD_INPUTS = {
    "missing students file": ({"contacts.csv": "student_id,id\n"}, "students.csv", None, None),
    "missing column": (
        {"students.csv": "id,first,last_name\n1,Ana,Li\n"},
        "students.csv",
        1,
        "first_name",
    ),
    "duplicate id": (
        {"students.csv": NATIVE_HEADER + "1,A,B,,,\n2,C,D,,,\n1,E,F,,,\n"},
        "students.csv",
        4,
        "id",
    ),
    "extra field": (
        {"students.csv": NATIVE_HEADER + "1,A,B,,,\n2,C,D,,,,\n"},
        "students.csv",
        3,
        None,
    ),
    "missing field": ({"students.csv": NATIVE_HEADER + "1,A,B,,\n"}, "students.csv", 2, None),
    "ragged after multiline": (
        {"students.csv": NATIVE_HEADER + '1,"A\nA",B,,,\n2,C\n'},
        "students.csv",
        4,
        None,
    ),
    "unclosed quote": (
        {"students.csv": NATIVE_HEADER + '1,A,B,,,\n2,"C,D,,,\n3,E,F,,,\n'},
        "students.csv",
        3,
        None,
    ),
    "junk after quote": (
        {"students.csv": NATIVE_HEADER + '1,"A"x,B,,,\n'},
        "students.csv",
        2,
        None,
    ),
    "nul byte": (
        {"students.csv": NATIVE_HEADER + "1,A,B,,,\n2,C\x00,D,,,\n"},
        "students.csv",
        3,
        None,
    ),
    "empty id": ({"students.csv": NATIVE_HEADER + ",A,B,,,\n"}, "students.csv", 2, "id"),
    "empty file": ({"students.csv": ""}, "students.csv", 1, None),
    "duplicate header": (
        {"students.csv": "id,first_name,last_name,ID\n1,A,B,2\n"},
        "students.csv",
        1,
        "ID",
    ),
    "unknown contact student": (
        {
            "students.csv": NATIVE_HEADER + "1,A,B,,,\n",
            "contacts.csv": "student_id,id,name\n1,g,P Q\n9,g,P Q\n",
        },
        "contacts.csv",
        3,
        "student_id",
    ),
    "contact without id column": (
        {"students.csv": NATIVE_HEADER + "1,A,B,,,\n", "contacts.csv": "student_id,name\n1,P Q\n"},
        "contacts.csv",
        1,
        "id",
    ),
    "duplicate staff": (
        {"students.csv": NATIVE_HEADER, "staff.csv": "id,first_name,last_name\nt,A,B\nt,C,D\n"},
        "staff.csv",
        3,
        "id",
    ),
    "clever conflict": (
        {
            "students.csv": "Student_id,First_name,Last_name,DOB\n"
            "c1,Ana,Li,2010-01-01\nc2,Bo,Li,\nc1,Ana,Li,2011-01-01\n"
        },
        "students.csv",
        4,
        "DOB",
    ),
    "oneroster duplicate": (
        {"users.csv": "sourcedId,role,givenName,familyName\nu1,student,A,B\nu1,student,C,D\n"},
        "users.csv",
        3,
        "sourcedId",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_errors(tmp_path: Path, case: str) -> None:
    files, filename, line, column = BAD_INPUTS[case]
    fmt = "native" if case == "missing students file" else "auto"
    error = read_error(write_files(tmp_path, files), format=fmt)
    assert error.path == str(tmp_path / filename)
    assert error.line == line
    assert error.column == column
    for secret in ("Ana", "2010-01-01", "2011-01-01"):
        assert secret not in error.reason


EMPTY_NAMES = {
    "native": ({"students.csv": NATIVE_HEADER + "1,A,B,,,\n2, ,D,,,\n"}, "2", 3, "first_name"),
    "clever": (
        {"students.csv": "Student_id,First_name,Last_name\nc1,Ana,Li\nc2,,Li\nc2,,Li\n"},
        "c2",
        3,
        "First_name",
    ),
    "oneroster": (
        {"users.csv": "sourcedId,role,givenName,familyName\nu0,student,A,B\nu1,student,A,\n"},
        "u1",
        3,
        "familyName",
    ),
}


@pytest.mark.parametrize("fmt", list(EMPTY_NAMES))
def test_an_empty_name_is_a_warning_not_a_stop(tmp_path: Path, fmt: str) -> None:
    """The row is kept (it can only go to review) and a warning names its line and column."""
    files, student_id, line, column = EMPTY_NAMES[fmt]

    roster = read_roster(write_files(tmp_path, files))

    assert student_id in {s.id for s in roster.students}
    assert len(roster.students) == 2
    [warning] = [w for w in roster.warnings if "name is empty" in w.message]
    assert (line, column) == (warning.line, warning.column)
    assert str(tmp_path / next(iter(files))) == warning.path


def test_duplicate_and_conflict_errors_name_both_lines(tmp_path: Path) -> None:
    files, *_ = BAD_INPUTS["duplicate id"]
    assert "line 2" in read_error(write_files(tmp_path / "a", files)).reason
    files, *_ = BAD_INPUTS["clever conflict"]
    assert "line 2" in read_error(write_files(tmp_path / "b", files)).reason


def test_oversized_field_is_a_clear_error(tmp_path: Path) -> None:
    big = "x" * ((1 << 20) + 10)
    error = read_error(write_files(tmp_path, {"students.csv": NATIVE_HEADER + f"1,{big},B,,,\n"}))
    assert (error.line, "MiB" in error.reason) == (2, True)


def test_missing_column_lists_found_columns_not_values(tmp_path: Path) -> None:
    error = read_error(write_files(tmp_path, {"students.csv": "ID,Given,Last_Name\n1,Secret,Li\n"}))
    assert "found id, last_name and 1 other column(s)" in error.reason
    assert "Secret" not in str(error)


_HEADERS = st.sampled_from(
    [
        "",
        "id,first_name,last_name,dob,grade,gender\n",
        "Student_id,First_name,Last_name,DOB,Contact_name,Contact_email\n",
    ]
)
_JUNK = st.text(st.sampled_from(list('ab1,"\n\r \x00é/-')), max_size=80)


@settings(max_examples=200, deadline=None)
@given(header=_HEADERS, body=_JUNK, raw=st.binary(max_size=40), users=st.booleans())
def test_garbage_gives_roster_or_input_error(
    header: str, body: str, raw: bytes, users: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        name = "users.csv" if users else "students.csv"
        content = (
            "sourcedId,role,givenName,familyName,agentSourcedIds\n" if users else header
        ) + body
        write_files(Path(folder), {name: content.encode("utf-8") + raw})
        try:
            roster = read_roster(folder)
        except InputError as error:
            assert error.__cause__ is None
        else:
            assert roster.source == folder


# --- encodings -----------------------------------------------------------------------


def test_cp1252_fails_strictly_then_reads_with_fallback(tmp_path: Path) -> None:
    text = "id,first_name,last_name\n1,Ana,Li\n2,José,Núñez\n"
    folder = write_files(tmp_path, {"students.csv": text.encode("cp1252")})
    error = read_error(folder)
    assert error.line == 3
    assert 'fallback_encoding="cp1252"' in error.reason
    assert "--encoding-fallback cp1252" in error.reason
    roster = read_roster(folder, fallback_encoding="cp1252")
    assert (roster.students[1].first_name, roster.students[1].last_name) == ("José", "Núñez")
    (warning,) = roster.warnings
    assert warning.path == str(folder / "students.csv")
    assert "cp1252" in warning.message and "UTF-8" in warning.message
    assert "José" not in warning.message


def test_valid_utf8_with_fallback_has_no_warning(tmp_path: Path) -> None:
    folder = write_files(tmp_path, {"students.csv": "id,first_name,last_name\n1,José,Li\n"})
    roster = read_roster(folder, fallback_encoding="cp1252")
    assert roster.students[0].first_name == "José"
    assert roster.warnings == ()


def test_explicit_encoding_and_unknown_encoding(tmp_path: Path) -> None:
    text = "id,first_name,last_name\n1,Zoë,Li\n"
    folder = write_files(tmp_path, {"students.csv": text.encode("latin-1")})
    assert read_roster(folder, encoding="latin-1").students[0].first_name == "Zoë"
    assert "unknown encoding" in read_error(folder, encoding="no-such-codec").reason


# --- dropped values become warnings --------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("dob", "2010-02-30", "unparseable date"),
        ("dob", "13/01/2010", "unparseable date"),
        ("dob", "3/4/10", "unparseable date"),
        ("dob", "2999-01-01", "future"),
        ("dob", "1850-07-04", "before 1900"),
        ("grade", "Grade 27", "grade"),
        ("grade", "Senior", "grade"),
        ("gender", "Q", "gender"),
    ],
)
def test_unusable_values_are_dropped_with_warning(
    tmp_path: Path, column: str, value: str, expected: str
) -> None:
    row = {"dob": "", "grade": "", "gender": ""} | {column: value}
    students = NATIVE_HEADER + f"1,A,B,{row['dob']},{row['grade']},{row['gender']}\n"
    roster = read_roster(write_files(tmp_path, {"students.csv": students}))
    student = roster.students[0]
    assert getattr(student, column) is None
    (warning,) = roster.warnings
    assert (warning.line, warning.column, warning.path) == (
        2,
        column,
        str(tmp_path / "students.csv"),
    )
    assert expected in warning.message
    assert value not in warning.message
    for part in value.replace("/", "-").split("-"):
        if len(part) > 1:
            assert part not in warning.message


def test_ungraded_and_blank_values_give_no_warning(tmp_path: Path) -> None:
    students = NATIVE_HEADER + "1,A,B,,Ungraded,unknown\n2,C,D,,Other,\n"
    roster = read_roster(write_files(tmp_path, {"students.csv": students}))
    assert [(s.grade, s.gender) for s in roster.students] == [(None, None), (None, None)]
    assert roster.warnings == ()


# --- value parsers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010-05-03", dt.date(2010, 5, 3)),
        ("2010-5-3", dt.date(2010, 5, 3)),
        ("05/03/2010", dt.date(2010, 5, 3)),
        ("5/3/2010", dt.date(2010, 5, 3)),
        ("20100503", dt.date(2010, 5, 3)),
        ("2010/05/03", dt.date(2010, 5, 3)),
        (" 2012-02-29 ", dt.date(2012, 2, 29)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_parse_date(text: str | None, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2011-02-29", "13/05/2010", "5/3/10", "2010.05.03", "May 3 2010", "2010-05-03T00:00", "junk"],
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_date(text)
    assert text not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("InfantToddler", -4),
        ("Preschool", -3),
        ("PreKindergarten", -2),
        ("PK", -2),
        ("Pre-K", -2),
        ("pre k", -2),
        ("TransitionalKindergarten", -1),
        ("TK", -1),
        ("Kindergarten", 0),
        ("K", 0),
        ("KG", 0),
        ("0", 0),
        ("00", 0),
        ("1", 1),
        ("01", 1),
        ("03", 3),
        ("Grade 3", 3),
        ("3rd", 3),
        ("3rd grade", 3),
        ("1st Grade", 1),
        ("12th", 12),
        ("13", 13),
        ("PostGraduate", 14),
        ("Ungraded", None),
        ("UG", None),
        ("Other", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_grade(text: str | None, expected: int | None) -> None:
    assert parse_grade(text) == expected


@pytest.mark.parametrize("text", ["14", "27", "-1", "Senior", "Grade", "3.5", "k-12"])
def test_parse_grade_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_grade(text)


@pytest.mark.parametrize("grade", range(-4, 15))
def test_format_grade_round_trips(grade: int) -> None:
    assert parse_grade(format_grade(grade)) == grade


def test_format_grade_names() -> None:
    assert [format_grade(g) for g in (-2, 0, 5, None)] == [
        "PreKindergarten",
        "Kindergarten",
        "5",
        "",
    ]
    with pytest.raises(ValueError):
        format_grade(15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("F", "F"),
        ("female", "F"),
        ("Girl", "F"),
        ("M", "M"),
        ("MALE", "M"),
        ("X", "X"),
        ("Nonbinary", "X"),
        ("N", "X"),
        ("other", "X"),
        ("", None),
        ("unknown", None),
        ("Q", None),
        (None, None),
    ],
)
def test_parse_gender(text: str | None, expected: str | None) -> None:
    assert parse_gender(text) == expected


def test_parse_gender_strict() -> None:
    with pytest.raises(ValueError):
        parse_gender("Q", strict=True)
    assert parse_gender("unspecified", strict=True) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mary Ann Smith", ("Mary Ann", "Smith")),
        ("Smith, Mary", ("Mary", "Smith")),
        ("Smith,Mary Ann", ("Mary Ann", "Smith")),
        ("Grandma", ("Grandma", None)),
        ("  ", (None, None)),
        (None, (None, None)),
    ],
)
def test_split_name(name: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_name(name) == expected


# --- writer --------------------------------------------------------------------------

_CHARS = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(
    [",", '"', "'", "\n", "\r", "=", " "]
)
_TEXT = st.text(_CHARS, min_size=1, max_size=12).filter(lambda s: s == s.strip() and s != "")
_OPTIONAL = st.none() | _TEXT
_CONTACTS = st.builds(
    Contact,
    guardian_id=_TEXT,
    first_name=_OPTIONAL,
    last_name=_OPTIONAL,
    email=_OPTIONAL,
    phone=_OPTIONAL,
    relationship=_OPTIONAL,
    sis_id=_OPTIONAL,
)
_STUDENTS = st.builds(
    Student,
    id=_TEXT,
    first_name=_TEXT,
    last_name=_TEXT,
    middle_name=_OPTIONAL,
    dob=st.none() | st.dates(dt.date(1900, 1, 1), dt.date.today()),
    grade=st.none() | st.integers(-4, 14),
    gender=st.sampled_from([None, "F", "M", "X"]),
    school_id=_OPTIONAL,
    sis_id=_OPTIONAL,
    state_id=_OPTIONAL,
    student_number=_OPTIONAL,
    email=_OPTIONAL,
    street=_OPTIONAL,
    city=_OPTIONAL,
    state=_OPTIONAL,
    zip=_OPTIONAL,
    contacts=st.lists(_CONTACTS, max_size=3),
)
_STAFF = st.builds(
    StaffMember,
    id=_TEXT,
    first_name=_TEXT,
    last_name=_TEXT,
    email=_OPTIONAL,
    phone=_OPTIONAL,
    school_id=_OPTIONAL,
    sis_id=_OPTIONAL,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    students=st.lists(_STUDENTS, max_size=6, unique_by=lambda s: s.id),
    staff=st.lists(_STAFF, max_size=3, unique_by=lambda s: s.id),
)
def test_write_read_round_trip(students: list[Student], staff: list[StaffMember]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_roster(Roster(students=students, staff=staff), folder)
        roster = read_roster(folder)
        assert roster.format == "native"
        assert roster.warnings == ()
        assert [attrs.evolve(s, line=0) for s in roster.students] == students
        assert list(roster.staff) == staff


def test_writer_output_is_deterministic_rfc4180(tmp_path: Path) -> None:
    roster = read_roster(DATA / "native_small")
    write_roster(roster, tmp_path / "a")
    write_roster(roster, tmp_path / "b")
    for name in ("students.csv", "contacts.csv", "staff.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    students = (tmp_path / "a" / "students.csv").read_bytes().decode("utf-8")
    assert students.startswith("id,first_name,middle_name,last_name,dob,grade,gender,")
    assert "\r\n2,Ana" not in students and "s1,Ana,María,García,2012-03-04,3,F," in students
    assert '"O\'Neil, Jr"' in students
    assert ",PreKindergarten,X," in students
    assert not (tmp_path / "a" / ".students.csv").exists()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "contacts.csv",
        "staff.csv",
        "students.csv",
    ]


def test_writer_without_staff_and_stale_staff_file(tmp_path: Path) -> None:
    student = Student(id="1", first_name="A", last_name="B")
    write_roster(Roster(students=[student]), tmp_path / "new")
    assert not (tmp_path / "new" / "staff.csv").exists()
    stale = write_files(tmp_path / "old", {"staff.csv": "id,first_name,last_name\nt,A,B\n"})
    write_roster(Roster(students=[student]), stale)
    assert read_roster(stale).staff == ()


def test_writer_keeps_absent_dob_column_absent(tmp_path: Path) -> None:
    student = Student(id="1", first_name="A", last_name="B", grade=0)
    write_roster(Roster(students=[student], has_dob_column=False), tmp_path / "none")
    roster = read_roster(tmp_path / "none")
    assert not roster.has_dob_column
    assert roster.students[0] == attrs.evolve(student, line=2)
    write_roster(Roster(students=[student]), tmp_path / "blank")
    assert read_roster(tmp_path / "blank").has_dob_column


def test_writer_formula_like_values_are_written_verbatim(tmp_path: Path) -> None:
    student = Student(id="=1+1", first_name="@Ann", last_name="-Lee")
    write_roster(Roster(students=[student]), tmp_path)
    assert read_roster(tmp_path).students[0] == attrs.evolve(student, line=2)


@pytest.mark.parametrize(
    "student",
    [
        Student(id="1", first_name="A", last_name="B", grade=15),
        Student(id="1", first_name="A", last_name="B", gender="female"),
        Student(id="", first_name="A", last_name="B"),
        Student(id="1", first_name="A\x00", last_name="B"),
    ],
)
def test_writer_rejects_unrepresentable_values(tmp_path: Path, student: Student) -> None:
    with pytest.raises(ValueError):
        write_roster(Roster(students=[student]), tmp_path)


# --- scale ---------------------------------------------------------------------------


@pytest.mark.slow
def test_large_roster_reads_in_seconds(tmp_path: Path) -> None:
    contact_rows = []
    student_rows = []
    for i in range(150_000):
        student_rows.append(
            f"s{i},First{i % 997},Last{i % 3001},{2005 + i % 12}-0{1 + i % 9}-1{i % 9},{i % 13},F\n"
        )
        for j in range(2):
            contact_rows.append(
                f"s{i},g{(i + j) % 200_000},Pat Last{i % 3001},p{i}@x.org,555-01{j}0\n"
            )
    write_files(
        tmp_path,
        {
            "students.csv": NATIVE_HEADER + "".join(student_rows),
            "contacts.csv": "student_id,id,name,email,phone\n" + "".join(contact_rows),
        },
    )
    start = time.perf_counter()
    roster = read_roster(tmp_path)
    elapsed = time.perf_counter() - start
    assert len(roster.students) == 150_000
    assert sum(len(s.contacts) for s in roster.students) == 300_000
    assert roster.warnings == ()
    assert elapsed < 30, f"reading took {elapsed:.1f}s"


class TestUnquotedFiles:
    """Files without a quote are split at commas line by line; quoted ones go through the csv
    module record by record. Both read the same."""

    ROWS = ("id, name ,grade", "", "1,Ann ,3", " , ,", "2, Bo,", "   ", "3,Cy,4")

    @staticmethod
    def _read(tmp_path: Path, text: str) -> tuple[list[str], list[list[str]], list[int]]:
        path = tmp_path / "t.csv"
        path.write_bytes(text.encode())
        table = read_table(path, warnings=Warnings(dt.date(2026, 1, 1)))
        return table.header, table.columns, table.lines

    @pytest.mark.parametrize("end", ["\n", "\r\n"])
    def test_unquoted_and_quoted_files_give_the_same_table(self, tmp_path: Path, end: str) -> None:
        """Blank rows are skipped, cells stripped and each row keeps its physical line."""
        quoted = end.join(",".join(f'"{c}"' for c in r.split(",")) if r.strip() else r
                          for r in self.ROWS)  # fmt: skip

        expected = (["id", "name", "grade"], [["1", "2", "3"], ["Ann", "Bo", "Cy"],
                    ["3", "", "4"]], [3, 5, 7])  # fmt: skip
        assert expected == self._read(tmp_path, end.join(self.ROWS) + end)
        assert expected == self._read(tmp_path, quoted + end)

    @pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
    def test_a_ragged_row_is_named_by_its_line(self, tmp_path: Path, end: str) -> None:
        """Whichever way the file is read, the error names the row's physical line."""
        with pytest.raises(InputError) as caught:
            self._read(tmp_path, end.join(["id,name", "", "1,Ann", "2,Bo,extra", "3,Cy"]))

        assert 4 == caught.value.line
        assert "row has 3 fields but the header has 2" in str(caught.value)
