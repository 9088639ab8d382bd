"""The contact audit: each finding kind, counts, summaries, JSON and injection-safe CSV."""

from __future__ import annotations

import csv
import io
import json

import phonenumbers
import pytest
from conftest import make_student
from hypothesis import given, settings
from hypothesis import strategies as st

from merge_engine import Roster, Student
from merge_engine.accounts._contact_audit import ISSUES, AuditFinding, AuditReport, audit_contacts
from merge_engine.model import Contact, StaffMember
from merge_engine.plan import MergePlan

MOBILE = "(212) 555-0147"  # valid; US numbers are FIXED_LINE_OR_MOBILE, so textable
TOLL_FREE = "(800) 253-0000"  # valid but cannot receive texts
INVALID_PHONE = "(212) 000-0000"  # well formed, not an assignable number

# Names, emails and phones that must never reach the report.
CANARY_NAMES = ("Zephyrine", "Quillfeather", "Ozymandias", "Barnabus", "Thistlewood")
CANARY_EMAIL = "zephyrine.canary@example.org"


def kid(student_id: str, school: str, *contacts: Contact) -> Student:
    """A canary-named student at ``school`` with the given guardian contacts."""
    return make_student(
        student_id, "Ozymandias", "Thistlewood", school_id=school, contacts=contacts
    )


def guardian(
    gid: str,
    *,
    first: str = "Barnabus",
    last: str = "Quillfeather",
    email: str | None = None,
    phone: str | None = None,
    sis: str | None = None,
) -> Contact:
    return Contact(gid, first, last, email, phone, "parent", sis)


def district() -> Roster:
    """One guardian per issue, each with exactly the defect its id names."""
    students = [
        kid("s1", "schA", guardian("g-ok", email="ok@example.org", phone=MOBILE, sis="1")),
        kid("s2", "schA", guardian("g-nosis", first="Ida", email="ida@example.org")),
        kid("s3", "schB", guardian("g-nosis2", first="Ivo", phone="(212) 555-0150")),
        kid(
            "s4",
            "schB",
            guardian("g-bademail", first="Ada", email="ada@@example", phone=MOBILE, sis="4"),
        ),
        kid(
            "s5",
            "schB",
            guardian(
                "g-badphone", first="Bea", email="bea@example.org", phone=INVALID_PHONE, sis="5"
            ),
        ),
        kid("s6", "schC", guardian("g-nowhere", first="Cal", phone=INVALID_PHONE, sis="6")),
        kid("s7", "schC", guardian("g-tollfree", first="Dot", phone=TOLL_FREE, sis="7")),
        kid("s8", "schD"),
        kid(
            "s9",
            "schD",
            guardian("g-staff", first="Zephyrine", email=CANARY_EMAIL, phone=MOBILE, sis="9"),
        ),
        kid(
            "s10",
            "schE",
            guardian("g-dup1", first="Eve", email="eve@example.org", phone=MOBILE, sis="10"),
        ),
        kid(
            "s11",
            "schE",
            guardian(
                "g-dup2", first="Eve", email="EVE@example.org", phone="(212) 555-0160", sis="11"
            ),
        ),
    ]
    staff = [
        StaffMember(
            "t1", "Zephyrine", "Quillfeather", CANARY_EMAIL.upper(), "(646) 555-0100", "schZ"
        ),
        StaffMember("t2", "Hal", "Okafor", "hal@school.org", MOBILE, "schA"),  # shares a phone only
    ]
    return Roster(students, staff)


def archived_roster() -> Roster:
    return Roster([kid("a1", "schA"), kid("a2", "schE"), kid("a3", "schB")])


def merge_plan(unmatched: list[str]) -> MergePlan:
    return MergePlan(
        merges=[],
        unmatched_archived=unmatched,
        unmatched_synced=[],
        warnings=[],
        settings={},
        model={},
        stats={},
        fingerprint={},
    )


EXPECTED = {
    ("guardian_without_sis_id", "g-nosis", "schA"),
    ("guardian_without_sis_id", "g-nosis2", "schB"),
    ("invalid_email", "g-bademail", "schB"),
    ("invalid_phone", "g-badphone", "schB"),
    ("invalid_phone", "g-nowhere", "schC"),
    ("unreachable_contact", "g-nowhere", "schC"),
    ("unreachable_contact", "g-tollfree", "schC"),
    ("student_without_guardian", "s8", "schD"),
    ("staff_guardian_conflict", "t1", "schD"),
    ("conflicting_contacts", "g-dup1", "schE"),
    ("archived_without_counterpart", "a3", "schB"),
}


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return audit_contacts(district(), archived_roster(), merge_plan(["a3"]))


def test_phone_fixtures_have_the_assumed_types() -> None:
    """The test numbers are what the cases assume (so the reachability cases mean something)."""
    parse = phonenumbers.parse
    assert phonenumbers.number_type(parse(MOBILE, "US")) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    toll_free = parse(TOLL_FREE, "US")
    assert phonenumbers.is_valid_number(toll_free)
    assert phonenumbers.number_type(toll_free) == phonenumbers.PhoneNumberType.TOLL_FREE
    assert not phonenumbers.is_valid_number(parse(INVALID_PHONE, "US"))


def test_every_issue_kind_is_found(report: AuditReport) -> None:
    """Each hand-built defect gives exactly its finding, and nothing else is reported."""
    got = {(f.issue, f.record_id, f.school_id) for f in report.findings}
    assert got == EXPECTED
    assert len(report.findings) == len(EXPECTED)
    assert {issue for issue, _, _ in EXPECTED} == set(ISSUES)


def test_findings_detail_and_order(report: AuditReport) -> None:
    """Role findings name the other account and the differing field; sorted by kind, school, id."""
    by_issue = {f.issue: f for f in report.findings}
    assert by_issue["staff_guardian_conflict"].detail == "same adult as g-staff; differs in phone"
    assert by_issue["conflicting_contacts"].detail == "same adult as g-dup2; differs in phone"
    order = list(ISSUES)
    keys = [(order.index(f.issue), f.school_id, f.record_id) for f in report.findings]
    assert keys == sorted(keys)


def test_totals_counts_and_by_school(report: AuditReport) -> None:
    """Totals, counts per kind (every kind present) and per school."""
    assert (report.students, report.guardians, report.staff) == (11, 10, 2)
    counts = report.counts()
    assert list(counts) == list(ISSUES)
    assert counts == {
        "guardian_without_sis_id": 2,
        "conflicting_contacts": 1,
        "invalid_email": 1,
        "invalid_phone": 2,
        "unreachable_contact": 2,
        "student_without_guardian": 1,
        "staff_guardian_conflict": 1,
        "archived_without_counterpart": 1,
    }
    assert report.by_school("guardian_without_sis_id") == {"schA": 1, "schB": 1}
    assert report.by_school("invalid_phone") == {"schB": 1, "schC": 1}
    assert report.by_school("no_such_issue") == {}


def test_clean_roster_has_no_findings() -> None:
    """A guardian with SIS id, valid email and mobile phone gives an all-zero report."""
    roster = Roster(
        [kid("s1", "schA", guardian("g1", email="ok@example.org", phone=MOBILE, sis="1"))]
    )
    report = audit_contacts(roster)
    assert report.findings == ()
    assert set(report.counts().values()) == {0}


def test_reachable_by_email_or_mobile_alone() -> None:
    """An email alone or a textable phone alone makes a contact reachable."""
    roster = Roster(
        [
            kid("s1", "schA", guardian("g1", email="ok@example.org", sis="1")),
            kid("s2", "schA", guardian("g2", first="Ivo", phone=MOBILE, sis="2")),
            kid("s3", "schA", guardian("g3", first="Ada", sis="3")),
        ]
    )
    report = audit_contacts(roster)
    assert [(f.issue, f.record_id) for f in report.findings] == [("unreachable_contact", "g3")]


def test_archived_findings_need_both_archived_and_plan() -> None:
    """Without the archived roster or the plan there are no archived findings."""
    for report in (
        audit_contacts(district()),
        audit_contacts(district(), archived=archived_roster()),
        audit_contacts(district(), plan=merge_plan(["a3"])),
    ):
        assert report.counts()["archived_without_counterpart"] == 0
    both = audit_contacts(district(), archived_roster(), merge_plan(["a1", "a2"]))
    assert both.by_school("archived_without_counterpart") == {"schA": 1, "schE": 1}


def test_summary_mentions_every_kind(report: AuditReport) -> None:
    """The summary has a line per kind with its count, and the per-school SIS breakdown."""
    text = report.summary()
    assert "11 students, 10 guardian accounts, 2 staff" in text
    for issue, description in ISSUES.items():
        [line] = [line for line in text.splitlines() if line.endswith(description)]
        assert int(line.split()[0]) == report.counts()[issue]
    assert "per school" in text
    assert "schA" in text


def test_to_dict_is_json(report: AuditReport) -> None:
    """to_dict is plain JSON and carries the counts and every finding."""
    data = json.loads(json.dumps(report.to_dict()))
    assert data == report.to_dict()
    assert data["counts"] == report.counts()
    assert data["guardians_without_sis_id_by_school"] == {"schA": 1, "schB": 1}
    assert [f["record_id"] for f in data["findings"]] == [f.record_id for f in report.findings]
    assert (data["students"], data["guardians"], data["staff"]) == (11, 10, 2)


def test_csv_has_a_row_per_finding(report: AuditReport) -> None:
    """The CSV has a header and one row per finding, CRLF-terminated."""
    text = report.to_csv()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["issue", "record_id", "school_id", "detail"]
    assert rows[1:] == [[f.issue, f.record_id, f.school_id, f.detail] for f in report.findings]


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"])
def test_csv_escapes_formula_cells(value: str) -> None:
    """A cell a spreadsheet would run as a formula is prefixed with a quote."""
    report = AuditReport([AuditFinding("invalid_email", value, value, value)], 1, 1, 0)
    [_, row] = list(csv.reader(io.StringIO(report.to_csv(), newline="")))
    assert row[1:] == ["'" + value] * 3


FORMULA = ("=", "+", "-", "@", "\t", "\r")


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(
        st.one_of(
            st.tuples(st.sampled_from("=+-@"), st.text()).map("".join),
            st.text(st.characters(exclude_characters="\0")),
        ),
        min_size=4,
        max_size=4,
    )
)
def test_csv_cells_never_start_a_formula(cells: list[str]) -> None:
    """Whatever the finding values, no CSV cell starts with a formula character."""
    issue, record, school, detail = cells
    report = AuditReport([AuditFinding(issue, record, school, detail)], 1, 1, 0)
    rows = list(csv.reader(io.StringIO(report.to_csv(), newline="")))
    assert len(rows) == 2
    for original, cell in zip(cells, rows[1], strict=True):
        assert not cell.startswith(FORMULA)
        assert cell in (original, "'" + original)
        if original.startswith(("=", "+", "-", "@")):
            assert cell == "'" + original


def test_no_pii_in_summary_json_or_csv(report: AuditReport) -> None:
    """Names, emails and phones never reach the summary, the JSON or the CSV."""
    texts = (report.summary(), json.dumps(report.to_dict()), report.to_csv(), repr(report))
    leaks = (*CANARY_NAMES, CANARY_EMAIL, "example.org", "555-01", "5550", "ada@@")
    for text in texts:
        lowered = text.lower()
        for canary in leaks:
            assert canary.lower() not in lowered, f"leaked {canary!r}"


def test_audit_is_deterministic() -> None:
    """Auditing twice, or with the students in another order, gives equal reports."""
    roster = district()
    first = audit_contacts(roster, archived_roster(), merge_plan(["a3"]))
    assert first == audit_contacts(roster, archived_roster(), merge_plan(["a3"]))
    reordered = Roster(roster.students[::-1], roster.staff[::-1])
    assert audit_contacts(reordered, archived_roster(), merge_plan(["a3"])) == first


def test_every_contact_row_of_a_guardian_counts() -> None:
    """A guardian blank on one sibling's row but reachable on another's is reachable;
    an invalid email on a later row is still reported."""
    roster = Roster(
        [
            kid("s1", "schA", guardian("g1", sis="1")),
            kid("s2", "schA", guardian("g1", email="ok@example.org", phone=MOBILE, sis="1")),
            kid("s3", "schA", guardian("g2", first="Dana", phone=MOBILE, sis="2")),
            kid("s4", "schA", guardian("g2", first="Dana", email="dana@@example", sis="2")),
        ]
    )
    report = audit_contacts(roster)
    assert [(f.issue, f.record_id) for f in report.findings] == [("invalid_email", "g2")]
