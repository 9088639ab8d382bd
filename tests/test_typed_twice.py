"""A child typed twice into the archive (two teachers, a nickname, last year's grade): its
second record goes with its first record's synced student, and twins or siblings named
alike never do (issue 10). Hand-written rosters embedded in a generated district."""

from __future__ import annotations

import datetime as dt

import numpy as np
from conftest import contact
from hypothesis import given, settings
from hypothesis import strategies as st
from planner_support import kid, plan_with, targets

from merge_engine.matching._duplicates import rival_pairs
from merge_engine.model import Contact, Student

EMAIL = "anjali.vashtani@example.org"
PHONE = "212-555-0163"
BORN = dt.date(2013, 11, 3)


def child(student_id: str, first: str, contacts: list[Contact], **kw: object) -> Student:
    """A Vashtani child without birth date, address or gender unless given."""
    fields = {
        "last": "Vashtani",
        "dob": None,
        "street": None,
        "zip": None,
        "contacts": contacts,
        **kw,
    }
    return kid(student_id, first, **fields)  # type: ignore[arg-type]


def typo_first() -> tuple[list[Student], list[Student]]:
    """Tanvi typed twice: the first record has a slip in her given name ("Tanv") but her
    guardian's phone and email; the second is spelled right, with the email only. The
    sync lists her and a namesake of another school with other parents."""
    archived = [
        child("tt-a1", "Tanv", [contact("ga-1", PHONE, EMAIL)], gender="F"),
        child("tt-a2", "Tanvi", [contact("ga-1", None, EMAIL)]),
    ]
    synced = [
        child("tt-s1", "Tanvi", [contact("gs-1", PHONE, EMAIL)], gender="F", synced=True),
        child(
            "tt-s2",
            "Tanvi",
            [contact("gs-9", "718-555-0100", "deepa.v@example.com")],
            gender="F",
            school_id="schY",
            synced=True,
        ),
    ]
    return archived, synced


def test_the_right_second_record_goes_with_the_student_its_typod_first_record_took(background):
    """The first record (a typo, but the better contacts) takes Tanvi; the assignment used
    to give the correctly spelled second record to the namesake of another school. Its
    pair with Tanvi is far stronger, so it goes there, naming the first record."""
    archived, synced = typo_first()
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "tt-a1")] == ["tt-s1"]
    assert [s for s, _ in targets(plan, "tt-a2")] == ["tt-s1"]
    first = next(m for m in plan.merges if m.archived_id == "tt-a1")
    assert "tt-a2" in first.duplicates
    assert all(s != "tt-s2" for s, _ in targets(plan, "tt-a2"))


def test_similar_named_twins_are_not_taken_for_one_child_typed_twice(background):
    """Aidan and Aiden, twins of one gender and class: each record keeps its own student
    (for review: only a middle name could tell them apart), never the other's; and when
    Aiden left, his record is never merged with Aidan automatically."""
    contacts = [contact("ga-1", PHONE, EMAIL)]
    archived = [
        child("tw-a1", "Aidan", contacts, dob=BORN, gender="M"),
        child("tw-a2", "Aiden", contacts, dob=BORN, gender="M"),
    ]
    synced = [
        child("tw-s1", "Aidan", contacts, dob=BORN, gender="M", synced=True),
        child("tw-s2", "Aiden", contacts, dob=BORN, gender="M", synced=True),
    ]
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "tw-a1")] == ["tw-s1"]
    assert [s for s, _ in targets(plan, "tw-a2")] == ["tw-s2"]
    plan = plan_with(background, archived, synced[:1])
    assert [s for s, _ in targets(plan, "tw-a1")] == ["tw-s1"]
    assert all(d != "auto" for _, d in targets(plan, "tw-a2"))


def antonio(second_grade: int) -> tuple[list[Student], list[Student]]:
    """Antonio typed twice: the first record, with his birth date, carries last year's
    grade; the second, a year later, has no birth date and no gender. His twin sister
    Antonia was never in the archive; the sync lists both twins with the family's
    contacts and address."""
    home = {"street": "2002 Maple Drive", "zip": "55433"}
    archived = [
        child("ah-a1", "ANTONIO", [contact("ga-1", None, EMAIL)], dob=BORN, gender="M", grade=5),
        child("ah-a2", "Antonio", [contact("ga-1", PHONE, EMAIL)], grade=second_grade, **home),
    ]
    family = [contact("gs-1", PHONE, EMAIL), contact("gs-2", "646-555-0170")]
    synced = [
        child("ah-s1", "Antonio", family, dob=BORN, gender="M", grade=6, synced=True, **home),
        child("ah-s2", "Antonia", family, dob=BORN, gender="F", grade=6, synced=True, **home),
    ]
    return archived, synced


def test_a_child_typed_twice_with_another_grade_goes_with_its_first_record(background):
    """The second Antonio record used to be proposed with his sister Antonia (a given name
    one letter off, the first record holding Antonio): its own given name agrees with
    Antonio's exactly, so it goes with him, naming the first record."""
    archived, synced = antonio(second_grade=6)
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "ah-a1")] == ["ah-s1"]
    assert [s for s, _ in targets(plan, "ah-a2")] == ["ah-s1"]
    assert targets(plan, "ah-s2") == []
    assert "ah-s2" in plan.unmatched_synced


def test_a_twin_typed_alike_keeps_her_own_student(background):
    """Antonia's own record (no gender typed) agrees with her synced record exactly and
    with her brother's only by a typo: it stays hers, whoever takes Antonio."""
    archived, synced = antonio(second_grade=5)
    archived[1] = child("ah-a2", "Antonia", [contact("ga-1", PHONE, EMAIL)], grade=5)
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "ah-a1")] == ["ah-s1"]
    assert [s for s, _ in targets(plan, "ah-a2")] == ["ah-s2"]
    # Antonia left the district: her record is never merged with her brother automatically.
    plan = plan_with(background, archived, synced[:1])
    assert all(d != "auto" for _, d in targets(plan, "ah-a2"))


def jesus(second_first: str) -> tuple[list[Student], list[Student]]:
    """Jesus typed twice in grade 3 (the second time with a slip in the surname, no birth
    date, another contact of the same parent); the sync lists him in grade 4 and his
    younger brother Luis Angel, new to the district, in grade 3."""
    archived = [
        child("js-a1", "Jesus", [contact("ga-1", None, EMAIL)], last="Ramirex Sanchez", dob=BORN),
        child("js-a2", second_first, [contact("ga-1", PHONE, EMAIL)], last="Rairez"),
    ]
    family = [contact("gs-1", PHONE, "heather.rs@example.com")]
    synced = [
        child("js-s1", "Jesus", family, last="Ramirez-Sanchez", dob=BORN, synced=True),
        child("js-s2", "Luis Angel", family, last="Ramirez-Sanchez", grade=2, synced=True),
    ]
    return archived, synced


def test_a_second_record_named_like_the_child_is_not_taken_for_a_new_sibling(background):
    """The second Jesus record and Luis Angel are the only unmatched records of the family
    and class, which used to make them a pair for review; the record's given name is
    Jesus's, so it goes with Jesus's student instead."""
    archived, synced = jesus("Jesus")
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "js-a1")] == ["js-s1"]
    assert [s for s, _ in targets(plan, "js-a2")] == ["js-s1"]
    assert "js-s2" in plan.unmatched_synced


def test_a_brother_with_another_given_name_stays_a_leftover_of_his_class(background):
    """Mateo, in the family and class of Jesus: another given name is another child (or the
    same child under another name, which only a person can tell). He is proposed with the
    only unmatched child of the class, for review, never as a second Jesus."""
    archived, synced = jesus("Mateo")
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "js-a1")] == ["js-s1"]
    assert targets(plan, "js-a2") == [("js-s2", "review")]


def grayson(second_first: str, **second: object) -> tuple[list[Student], list[Student]]:
    """Grayson typed twice: the first record has his parent's phone, the second only an
    email the sync does not list; both records are linked to the parent's one account on
    the old platform, which is all they share."""
    archived = [
        child("gr-a1", "Grayson", [contact("ga-1", PHONE)], middle_name="C", dob=BORN),
        child("gr-a2", second_first, [contact("ga-1", None, EMAIL)], **second),
    ]
    synced = [
        child(
            "gr-s1",
            "Grayson",
            [contact("gs-1", PHONE, "sandra.v@example.net")],
            middle_name="Cole",
            dob=BORN,
            gender="M",
            synced=True,
        )
    ]
    return archived, synced


def test_one_guardian_account_ties_a_second_record_to_its_first(background):
    """Grayson typed again as Greyson shares no phone or email with anything: the parent's
    account, linked to both archived records, makes the second record a possible duplicate
    of the first, and it goes with Grayson's synced student (it used to go nowhere)."""
    archived, synced = grayson("Greyson", gender="M")
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "gr-a1")] == ["gr-s1"]
    assert [s for s, _ in targets(plan, "gr-a2")] == ["gr-s1"]


def test_a_brother_on_the_same_account_is_not_a_second_record(background):
    """Mason, Grayson's brother a grade below, on the same parent account and not in the
    sync (he left): another given name and another class, so no proposal with Grayson;
    Mateo, his twin who left, is at most proposed for review, never merged."""
    archived, synced = grayson("Mason", grade=2, gender="M")
    plan = plan_with(background, archived, synced)
    assert targets(plan, "gr-a2") == []
    archived, synced = grayson("Mateo", dob=BORN, gender="M")
    plan = plan_with(background, archived, synced)
    assert all(d != "auto" for _, d in targets(plan, "gr-a2"))
    assert [s for s, _ in targets(plan, "gr-a1")] == ["gr-s1"]


def test_a_surname_typed_as_its_initial_on_the_same_account_is_a_second_record(background):
    """Abigail typed twice: once as "Abigail H." without a birth date, once in full with
    it, both on the parent's account; a classmate Abigail Sandoval shares her birthday.
    The assignment gives Abigail to the "H." record and the full record to the classmate
    (a review pair). A surname initial alone makes no look-alike, but with the account it
    does: the full record goes with Abigail's student, and the "H." record too."""
    archived = [
        child("ab-a1", "Abigail", [contact("ga-1", PHONE, EMAIL)], last="H."),
        child(
            "ab-a2",
            "Abigail",
            [contact("ga-1", PHONE, EMAIL), contact("ga-2", None, "kelvin.h@example.net")],
            last="Hernandez",
            dob=BORN,
        ),
    ]
    synced = [
        child(
            "ab-s1",
            "Abigail",
            [contact("gs-1", None, EMAIL), contact("gs-2", None, "kelvin.h@example.net")],
            last="Hernandez",
            dob=BORN,
            synced=True,
        ),
        child("ab-s2", "Abigail", [], last="Sandoval", dob=BORN, synced=True),
    ]
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "ab-a2")] == ["ab-s1"]
    assert [s for s, _ in targets(plan, "ab-a1")] == ["ab-s1"]
    assert "ab-s2" in plan.unmatched_synced


def aditya(second_email: str) -> tuple[list[Student], list[Student]]:
    """Aditya typed twice in one class: the first record with a slip in the surname, the
    second with the parent's email typed wrong (which made the parent a second account),
    and neither with a birth date; they share no blocking key, only their synced student."""
    archived = [
        child("ad-a1", "Aditya", [contact("ga-1", None, EMAIL)], last="Joshii", gender="M"),
        child("ad-a2", "Aditya", [contact("ga-9", None, second_email)], last="Joshi", gender="M"),
    ]
    synced = [
        child(
            "ad-s1",
            "Aditya",
            [contact("gs-1", PHONE, EMAIL)],
            last="Joshi",
            middle_name="Arjun",
            gender="M",
            synced=True,
        )
    ]
    return archived, synced


def test_two_records_competing_for_one_student_are_compared(background):
    """The two Aditya records compete for one synced student: compared with each other,
    they are look-alikes (same given name and class), and the second goes with the first
    record's student rather than nowhere."""
    archived, synced = aditya("anjali.vashtan@example.org")
    plan = plan_with(background, archived, synced)
    assert sorted(a for a in ("ad-a1", "ad-a2") for s, _ in targets(plan, a) if s == "ad-s1") == [
        "ad-a1",
        "ad-a2",
    ]


def test_a_namesake_of_another_family_who_left_is_never_merged(background):
    """Another Aditya Joshi of the same class, with other parents, left the district: he
    competes for the one synced Aditya too, and is at most proposed for review."""
    archived, synced = aditya("rohan.joshi@example.com")
    archived[1] = child(
        "ad-a2", "Aditya", [contact("ga-9", "718-555-0133", "rohan.joshi@example.com")],
        last="Joshi", gender="M",
    )  # fmt: skip
    archived[0] = child("ad-a1", "Aditya", [contact("ga-1", PHONE, EMAIL)], last="Joshi")
    plan = plan_with(background, archived, synced)
    assert [s for s, _ in targets(plan, "ad-a1")] == ["ad-s1"]
    assert all(d != "auto" for _, d in targets(plan, "ad-a2"))


def test_twins_named_alike_are_never_merged_as_one_child_typed_twice(background):
    """Braden and Brayden, twins of one gender: Brayden's archived record was typed
    "Braden" (a spelling of the name), so the archive holds two Bradens on one account.
    The second is not Braden typed twice for sure: nothing of the child's own (a middle
    name, an identifier) tells the twins apart, so neither record is merged automatically."""
    contacts = [contact("ga-1", PHONE, EMAIL)]
    archived = [
        child("bb-a1", " Braden", contacts, last="Gates", dob=BORN, gender="M"),
        child("bb-a2", "Braden", contacts, last="Ayala-Gates", dob=BORN, gender="M"),
    ]
    family = [contact("gs-1", PHONE, EMAIL)]
    synced = [
        child("bb-s1", "Braden", family, last="Ayala-Gates", dob=BORN, gender="M", synced=True),
        child("bb-s2", "Brayden", family, last="Ayala-Gates", dob=BORN, gender="M", synced=True),
    ]
    plan = plan_with(background, archived, synced)
    assert all(d != "auto" for a in ("bb-a1", "bb-a2") for _, d in targets(plan, a))
    assert targets(plan, "bb-a1") and targets(plan, "bb-a2")


def test_a_child_typed_in_with_each_parent_is_no_competitor_of_itself(background):
    """Two teachers typed Priya in, one with her mother's email, one with her father's
    phone; the sync lists both parents. The two records compete for one student, but they
    share her given name and class and each is tied to her household: one child typed
    twice, not two children. Both go to her, automatically (they went to review before)."""
    mother = {"first_name": "Anjali", "last_name": "Vashtani"}
    father = {"first_name": "Dev", "last_name": "Vashtani"}
    archived = [
        child("t2-a1", "Priya", [contact("g-m", None, EMAIL, **mother)]),
        child("t2-a2", "Priya", [contact("g-f", PHONE, None, **father)]),
    ]
    synced = [
        child(
            "t2-s",
            "Priya",
            [contact("gs-m", None, EMAIL, **mother), contact("gs-f", "212.555.0163", **father)],
            synced=True,
        )
    ]
    plan = plan_with(background, archived, synced)
    assert targets(plan, "t2-a1") == [("t2-s", "auto")]
    assert targets(plan, "t2-a2") == [("t2-s", "auto")]


def test_a_namesake_of_another_household_still_competes(background):
    """The second Priya Vashtani of the class has parents the synced Priya does not have:
    a namesake who left, not a second record; the competition goes to a person."""
    mother = {"first_name": "Anjali", "last_name": "Vashtani"}
    archived = [
        child("t3-a1", "Priya", [contact("g-m", None, EMAIL, **mother)]),
        child("t3-a2", "Priya", [contact("g-o", "(646) 555-0177", "kv@elsewhere.example")]),
    ]
    synced = [child("t3-s", "Priya", [contact("gs-m", None, EMAIL, **mother)], synced=True)]
    plan = plan_with(background, archived, synced)
    assert targets(plan, "t3-a1") == [("t3-s", "review")]
    assert targets(plan, "t3-a2") == [("t3-s", "review")]
    reasons = next(m.reasons for m in plan.merges if m.archived_id == "t3-a1")
    assert any("competing candidate" in r for r in reasons)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 6), st.booleans()),
        unique_by=lambda t: (t[0], t[1]),
        max_size=60,
    )
)
def test_rival_pairs_are_each_synced_students_likely_candidates_paired(
    pairs: list[tuple[int, int, bool]],
) -> None:
    """Per synced student with two to four likely candidates, every pair of them, students
    in order and each student's candidates by record: what pairing them block by block,
    in a loop, gives."""
    archived = np.array([a for a, _, _ in pairs], np.int64)
    synced = np.array([s for _, s, _ in pairs], np.int64)
    likely = np.array([keep for _, _, keep in pairs], np.bool_)
    expected: list[tuple[int, int]] = []
    for student in sorted({s for _, s, keep in pairs if keep}):
        block = sorted(a for a, s, keep in pairs if keep and s == student)
        if 2 <= len(block) <= 4:
            expected += [(x, y) for i, x in enumerate(block) for y in block[i + 1 :]]

    left, right = rival_pairs(archived, synced, likely)

    assert expected == list(zip(left.tolist(), right.tolist(), strict=True))
    assert left.dtype == right.dtype == np.int64
