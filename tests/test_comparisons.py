"""Per-field comparison levels, computed by ``compare_pairs`` on tiny encoded sides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from conftest import contact, encode_pair_sides, level_code, levels_of, make_student
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from merge_engine import Settings, SettingsError
from merge_engine.matching._comparisons import (
    COMPARISONS,
    _one_edit,
    _unique_pair_scores,
    compare_pairs,
    shared_values,
)
from merge_engine.matching._features import MISSING, Ragged

D = dt.date


def _pair(a: dict[str, Any], b: dict[str, Any]) -> tuple[Any, Any]:
    base = {"first": "Ann", "last": "Smith"}
    fa, fb = {**base, **a}, {**base, **b}
    return (
        make_student("a", fa.pop("first"), fa.pop("last"), **fa),
        make_student("b", fb.pop("first"), fb.pop("last"), **fb),
    )


# (comparison, expected level, archived fields, synced fields)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # given name
    ("first_name", "exact", {"first": "Ann"}, {"first": "ANN"}),
    ("first_name", "exact", {"first": "José"}, {"first": "Jose"}),
    ("first_name", "nickname", {"first": "Bill"}, {"first": "William"}),
    ("first_name", "nickname", {"first": "Mary Ann"}, {"first": "Mary"}),
    ("first_name", "nickname", {"first": "Katie"}, {"first": "Katherine"}),  # not in the dataset
    ("first_name", "nickname", {"first": "Chuy"}, {"first": "Jesús"}),  # Spanish hypocorism
    ("first_name", "middle", {"first": "Peter"}, {"first": "John", "middle_name": "Peter"}),
    ("first_name", "middle", {"first": "John", "middle_name": "Peter"}, {"first": "Peter"}),
    ("first_name", "swapped", {"first": "Smith", "last": "John"}, {"first": "John"}),
    ("first_name", "close", {"first": "Michael"}, {"first": "Micheal"}),
    ("first_name", "close", {"first": "Jaden"}, {"first": "Jayden"}),
    ("first_name", "similar", {"first": "Mia"}, {"first": "Maya"}),
    ("first_name", "similar", {"first": "Christopher"}, {"first": "Christian"}),
    ("first_name", "initial", {"first": "J"}, {"first": "John"}),
    ("first_name", "initial", {"first": "J."}, {"first": "John"}),
    ("first_name", "different", {"first": "Tom"}, {"first": "Peter"}),
    ("first_name", "different", {"first": "J"}, {"first": "Peter"}),
    ("first_name", "missing", {"first": "--"}, {"first": "Ann"}),  # nothing left to compare
    # middle name
    ("middle_name", "exact", {"middle_name": "Marie"}, {"middle_name": "MARIE"}),
    ("middle_name", "initial", {"middle_name": "M."}, {"middle_name": "Marie"}),
    ("middle_name", "different", {"middle_name": "Marie"}, {"middle_name": "Louise"}),
    ("middle_name", "missing", {"middle_name": "Marie"}, {}),
    # surname
    ("last_name", "exact", {"last": "Smith"}, {"last": "SMITH"}),
    ("last_name", "exact", {"last": "De La Cruz"}, {"last": "DeLaCruz"}),
    ("last_name", "exact", {"last": "García"}, {"last": "Garcia"}),
    ("last_name", "exact", {"last": "O'Neil Jr."}, {"last": "ONeil"}),
    ("last_name", "compound", {"last": "Garcia Lopez"}, {"last": "Garcia"}),
    ("last_name", "compound", {"last": "Smith-Jones"}, {"last": "Jones"}),
    ("last_name", "swapped", {"first": "Smith", "last": "John"}, {"first": "John"}),
    ("last_name", "compound", {"last": "Elmoer"}, {"last": "Elmore-Guzman"}),
    ("last_name", "close", {"last": "Smyth"}, {"last": "Smith"}),
    ("last_name", "initial", {"last": "D."}, {"last": "Downey"}),
    ("last_name", "different", {"last": "Smith"}, {"last": "Nguyen"}),
    ("last_name", "missing", {"last": "?"}, {"last": "Smith"}),
    # birth date
    ("dob", "exact", {"dob": D(2012, 5, 5)}, {"dob": D(2012, 5, 5)}),
    ("dob", "day_month_swap", {"dob": D(2012, 3, 4)}, {"dob": D(2012, 4, 3)}),
    ("dob", "day_month_swap", {"dob": D(2012, 1, 12)}, {"dob": D(2012, 12, 1)}),
    ("dob", "one_digit", {"dob": D(2012, 3, 4)}, {"dob": D(2012, 3, 5)}),
    ("dob", "one_digit", {"dob": D(2012, 1, 12)}, {"dob": D(2013, 1, 12)}),
    ("dob", "different", {"dob": D(2012, 1, 12)}, {"dob": D(2012, 1, 21)}),
    ("dob", "different", {"dob": D(2012, 3, 4)}, {"dob": D(2011, 8, 24)}),
    ("dob", "missing", {"dob": D(2012, 3, 4)}, {}),
    ("dob", "missing", {}, {"dob": D(2012, 3, 4)}),
    # grade (default progression +1)
    ("grade", "expected", {"grade": 5}, {"grade": 6}),
    ("grade", "expected", {"grade": -1}, {"grade": 0}),
    ("grade", "adjacent", {"grade": 5}, {"grade": 5}),
    ("grade", "adjacent", {"grade": 5}, {"grade": 7}),
    ("grade", "different", {"grade": 5}, {"grade": 9}),
    ("grade", "different", {"grade": 5}, {"grade": 4}),
    ("grade", "missing", {}, {"grade": 4}),
    # school
    ("school", "same", {"school_id": "e1"}, {"school_id": "e1"}),
    ("school", "level_change", {"school_id": "e1", "grade": 5}, {"school_id": "m1", "grade": 6}),
    ("school", "level_change", {"school_id": "m1", "grade": 8}, {"school_id": "h1", "grade": 9}),
    ("school", "different", {"school_id": "e1", "grade": 5}, {"school_id": "e2", "grade": 5}),
    ("school", "different", {"school_id": "m1", "grade": 6}, {"school_id": "m2", "grade": 6}),
    ("school", "different", {"school_id": "e1", "grade": 3}, {"school_id": "e2", "grade": 4}),
    ("school", "missing", {"school_id": "e1"}, {}),
    # gender
    ("gender", "same", {"gender": "F"}, {"gender": "F"}),
    ("gender", "different", {"gender": "F"}, {"gender": "M"}),
    ("gender", "missing", {"gender": "F"}, {}),
    # identifiers
    ("identifier", "exact", {"sis_id": "00123"}, {"sis_id": "123"}),
    ("identifier", "exact", {"student_number": "0042-17"}, {"student_number": "4217"}),
    ("identifier", "exact", {"state_id": "77"}, {"state_id": "77", "sis_id": "9"}),
    ("identifier", "exact", {"email": "ann@x.org"}, {"email": " ANN@x.org", "sis_id": "5"}),
    ("identifier", "one_edit", {"sis_id": "12345"}, {"sis_id": "12346"}),
    ("identifier", "different", {"sis_id": "12345"}, {"sis_id": "99999"}),
    ("identifier", "missing", {"sis_id": "123"}, {"state_id": "124"}),
    ("identifier", "missing", {"sis_id": "123"}, {}),
    # a changed student email neither confirms nor contradicts
    ("identifier", "missing", {"email": "a@x.org"}, {"email": "b@x.org"}),
    # guardians
    (
        "guardian",
        "phone_and_email",
        {"contacts": [contact("g1", "(212) 555-0123", "mom@x.org")]},
        {"contacts": [contact("g9", "+1 212 555 0123", "MOM@x.org")]},
    ),
    (
        "guardian",
        "phone_and_email",
        {"contacts": [contact("g1", "(212) 555-0123"), contact("g2", email="dad@x.org")]},
        {"contacts": [contact("g9", "212 555 0123", "dad@x.org")]},
    ),
    (
        "guardian",
        "phone_or_email",
        {"contacts": [contact("g1", "(212) 555-0123", "mom@x.org")]},
        {"contacts": [contact("g9", "212.555.0123", "other@x.org")]},
    ),
    (
        "guardian",
        "phone_or_email",
        {"contacts": [contact("g1", email="Mom@X.org ")]},
        {"contacts": [contact("g9", email="mom@x.org")]},
    ),
    (
        "guardian",
        "none_shared",
        {"contacts": [contact("g1", "(212) 555-0123")]},
        {"contacts": [contact("g9", "(212) 555-0199")]},
    ),
    (
        "guardian",
        "name_only",
        {"contacts": [contact("g1", "(212) 555-0123", first_name="Rosa", last_name="Diaz")]},
        {"contacts": [contact("g9", "(212) 555-0199", first_name="Rosa", last_name="Diaz")]},
    ),
    (
        "guardian",
        "given_name",
        {"contacts": [contact("g1", "(212) 555-0123", first_name="Rosa", last_name="Diaz")]},
        {"contacts": [contact("g9", "(212) 555-0199", first_name="Rosa", last_name="Vega")]},
    ),
    ("guardian", "missing", {"contacts": [contact("g1", "(212) 555-0123")]}, {}),
    (
        "guardian",
        "missing",
        {"contacts": [contact("g1", "12345")]},  # unusable phone: no contact evidence
        {"contacts": [contact("g9", "(212) 555-0123")]},
    ),
    # address
    (
        "address",
        "exact",
        {"street": "12 Main Street", "zip": "12345"},
        {"street": "12 MAIN ST.", "zip": "12345-0001"},
    ),
    ("address", "exact", {"street": "12 Main Street"}, {"street": "12 Main St"}),
    (
        "address",
        "close",
        {"street": "12 Larkspur Lane", "zip": "10027"},
        {"street": "12 Larkspr Lane", "zip": "10027"},
    ),
    (
        "address",
        "zip_only",
        {"street": "12 Main Street", "zip": "12345"},
        {"street": "14 Oak Rd", "zip": "12345"},
    ),
    (
        "address",
        "different",
        {"street": "12 Main Street", "zip": "12345"},
        {"street": "14 Oak Rd", "zip": "54321"},
    ),
    (
        "address",
        "different",
        {"street": "12 Larkspur Lane", "zip": "10027"},
        {"street": "12 Larkspr Lane", "zip": "10028"},
    ),
    ("address", "missing", {"street": "12 Main Street"}, {"zip": "12345"}),
]


@pytest.mark.parametrize(
    ("comparison", "expected", "a", "b"),
    CASES,
    ids=[f"{c}-{lvl}-{i}" for i, (c, lvl, _, _) in enumerate(CASES)],
)
def test_level(comparison: str, expected: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    """Each level of each comparison is reached by the pair that should reach it."""
    left, right = _pair(a, b)
    assert expected == levels_of(left, right)[comparison]


def test_every_level_is_covered_by_the_cases() -> None:
    """The table above reaches every level of every comparison."""
    covered = {(c, lvl) for c, lvl, _, _ in CASES}
    wanted = {(c.name, lvl) for c in COMPARISONS for lvl in c.levels}
    assert set() == wanted - covered


def test_grade_progression_zero() -> None:
    """With a same-year sync, an unchanged grade is the expected one and +1 is adjacent."""
    a, b = _pair({"grade": 5}, {"grade": 5})
    assert levels_of(a, b, grade_progression=0)["grade"] == "expected"
    a, b = _pair({"grade": 5}, {"grade": 6})
    assert levels_of(a, b, grade_progression=0)["grade"] == "adjacent"
    assert levels_of(a, b)["grade"] == "expected"


def test_close_threshold_moves_the_close_level() -> None:
    """A looser close_threshold turns a loosely similar given name into a typo."""
    a, b = _pair({"first": "Christopher"}, {"first": "Christian"})
    assert levels_of(a, b)["first_name"] == "similar"
    assert levels_of(a, b, close_threshold=0.75)["first_name"] == "close"


def test_identical_records_agree_on_everything() -> None:
    """A record compared with itself reaches the top level of every present field."""
    student = make_student(
        "a",
        "Ann",
        "Smith",
        middle_name="Lee",
        dob=D(2012, 3, 4),
        grade=4,
        gender="F",
        school_id="e1",
        sis_id="1",
        street="1 Elm St",
        zip="12345",
        contacts=[contact("g", "(212) 555-0123", "p@x.org")],
    )
    top = {c.name: c.levels[1] for c in COMPARISONS}
    top["grade"] = "expected"
    assert top == levels_of(student, student, grade_progression=0)


def test_without_vocabularies_typos_count_as_different() -> None:
    """Identifier and street typos need the identifier and place vocabularies."""
    a, b = _pair(
        {"sis_id": "12345", "street": "12 Larkspur Lane", "zip": "10027"},
        {"sis_id": "12346", "street": "12 Larkspr Lane", "zip": "10027"},
    )
    ea, eb, vocab = encode_pair_sides([a], [b])
    one = np.array([0], np.int64)
    matrix = compare_pairs(ea, eb, one, one, vocab.names)
    assert matrix.column("identifier")[0] == level_code("identifier", "different")
    assert matrix.column("address")[0] == level_code("address", "zip_only")


def test_batch_equals_pair_by_pair() -> None:
    """Comparing many pairs at once gives the same levels as comparing each pair alone."""
    cases = [_pair(a, b) for _, _, a, b in CASES]
    archived = [a for a, _ in cases]
    synced = [b for _, b in cases]
    ea, eb, vocab = encode_pair_sides(archived, synced)
    n = len(cases)
    # every pairing, in a scrambled order, so shared strings are scored once for many pairs
    ia = np.repeat(np.arange(n, dtype=np.int64), n)
    ib = np.tile(np.arange(n, dtype=np.int64), n)
    order = np.random.default_rng(3).permutation(len(ia))
    ia, ib = ia[order], ib[order]
    batch = compare_pairs(
        ea, eb, ia, ib, vocab.names, identifiers=vocab.identifiers, places=vocab.places
    )
    for k in range(0, len(ia), 37):  # a spread-out sample keeps this fast
        expected = levels_of(archived[ia[k]], synced[ib[k]])
        actual = {c.name: c.levels[batch.levels[k, j]] for j, c in enumerate(COMPARISONS)}
        assert expected == actual


def test_no_pairs_gives_an_empty_matrix() -> None:
    """An empty candidate list gives a (0, comparisons) matrix."""
    a, b = _pair({}, {})
    ea, eb, vocab = encode_pair_sides([a], [b])
    empty = np.empty(0, np.int64)
    matrix = compare_pairs(ea, eb, empty, empty, vocab.names)
    assert (0, len(COMPARISONS)) == matrix.levels.shape


def test_column_by_name() -> None:
    """LevelMatrix.column finds a comparison by name and rejects unknown names."""
    a, b = _pair({"dob": D(2012, 3, 4)}, {"dob": D(2012, 4, 3)})
    ea, eb, vocab = encode_pair_sides([a], [b])
    one = np.array([0], np.int64)
    matrix = compare_pairs(ea, eb, one, one, vocab.names)
    dob = next(c for c in COMPARISONS if c.name == "dob")
    assert dob.levels.index("day_month_swap") == int(matrix.column("dob")[0])
    with pytest.raises(KeyError):
        matrix.column("shoe_size")


def test_family_comparisons() -> None:
    """Surname, school, guardians and address are the household (family) evidence."""
    assert {"last_name", "school", "guardian", "address"} == {
        c.name for c in COMPARISONS if c.family
    }
    assert all(c.levels[0] == "missing" for c in COMPARISONS)


class TestGuardianNames:
    """A guardian whose phone and email changed is still known by name: household evidence."""

    def _pair(self, archived: Any, synced: Any) -> str:
        a = make_student("a", "Mia", "Lopez", contacts=[archived])
        b = make_student("b", "Mia", "Lopez", contacts=[synced])
        return levels_of(a, b)["guardian"]

    def test_same_name_other_contacts_is_name_only(self) -> None:
        old = contact("g1", "(212) 555-0101", "rosa@old.example", first_name="Rosa",
                      last_name="Lopez")  # fmt: skip
        new = contact("g2", "+1 646 555 0199", "rosa.l@new.example", first_name="ROSA",
                      last_name="López")  # fmt: skip

        assert "name_only" == self._pair(old, new)

    def test_a_shared_contact_outranks_the_name(self) -> None:
        old = contact("g1", "(212) 555-0101", None, first_name="Rosa", last_name="Lopez")
        new = contact("g2", "212.555.0101", None, first_name="Rosa", last_name="Lopez")

        assert "phone_or_email" == self._pair(old, new)

    def test_a_shared_surname_alone_is_not_a_household(self) -> None:
        old = contact("g1", "(212) 555-0101", None, first_name="Rosa", last_name="Lopez")
        new = contact("g2", "(646) 555-0199", None, first_name="Juan", last_name="Lopez")

        assert "none_shared" == self._pair(old, new)

    def test_a_guardian_without_a_given_name_is_not_compared_by_name(self) -> None:
        old = contact("g1", "(212) 555-0101", None, last_name="Lopez")
        new = contact("g2", "(646) 555-0199", None, last_name="Lopez")

        assert "none_shared" == self._pair(old, new)

    def test_a_parent_typed_under_the_childs_surname_is_known_by_given_name(self) -> None:
        """Ms. Vega typed as "Rosa Lopez" (her child's surname) by a teacher, her email
        changed since: her given name is all that is left, and says "same household"."""
        old = contact("g1", None, "rosa@old.example", first_name="Rosa", last_name="Lopez")
        new = contact("g2", "(646) 555-0199", "rvega@new.example", first_name="Rosa",
                      last_name="Vega")  # fmt: skip

        assert "given_name" == self._pair(old, new)

    def test_an_unnamed_guardian_is_known_by_the_name_her_email_starts_with(self) -> None:
        old = contact("g1", None, "rosa.vega@old.example")
        new = contact("g2", "(646) 555-0199", "rv@new.example", first_name="Rosa",
                      last_name="Vega")  # fmt: skip

        assert "given_name" == self._pair(old, new)

    def test_an_email_that_starts_with_the_childs_surname_names_no_guardian(self) -> None:
        old = contact("g1", None, "lopez.family@old.example")
        new = contact("g2", "(646) 555-0199", "lopez1@new.example")

        assert "none_shared" == self._pair(old, new)


def test_level_change_grades_follow_the_district() -> None:
    """Where middle school starts in grade 7, a child in a new school in grade 7 moved up a
    level; with the default grades (6 and 9) the same pair reads as another school, and a
    setting that is not a list of grades is refused."""
    a = make_student("a", "Ana", "Diaz", grade=6, school_id="E01")
    b = make_student("b", "Ana", "Diaz", grade=7, school_id="M01")
    assert levels_of(a, b)["school"] == "different"
    assert levels_of(a, b, level_change_grades=(7, 10))["school"] == "level_change"
    settings = Settings(level_change_grades=[7, 10])
    assert settings.level_change_grades == (7, 10)
    with pytest.raises(SettingsError, match="level_change_grades"):
        Settings(level_change_grades=["seventh"])


class TestSharedValues:
    """``shared_values`` compares a few values a record slot by slot and searches the rest."""

    @staticmethod
    def _ragged(lists: list[list[int]]) -> Ragged:
        return Ragged.build(lists)

    def test_same_answer_as_sets_for_any_number_of_values(self) -> None:
        """Records with none, a few and more values than the slots (a child with many
        guardians), against the plain set intersection of each pair."""
        rng = np.random.default_rng(7)
        a_lists = [
            rng.choice(30, size=rng.integers(0, 9), replace=False).tolist() for _ in range(60)
        ]
        b_lists = [
            rng.choice(30, size=rng.integers(0, 9), replace=False).tolist() for _ in range(50)
        ]
        ia = rng.integers(0, 60, 5_000).astype(np.int64)
        ib = rng.integers(0, 50, 5_000).astype(np.int64)

        found = shared_values(self._ragged(a_lists), self._ragged(b_lists), ia, ib)

        expected = [bool(set(a_lists[i]) & set(b_lists[j])) for i, j in zip(ia, ib, strict=True)]
        assert found.tolist() == expected
        assert any(expected) and not all(expected)

    def test_a_value_past_the_slots_is_found(self) -> None:
        """The only shared value is a record's sixth."""
        a = self._ragged([[1, 2, 3, 4, 5, 6]])
        b = self._ragged([[9, 6]])

        assert shared_values(a, b, np.zeros(1, np.int64), np.zeros(1, np.int64)).tolist() == [True]
        assert shared_values(b, a, np.zeros(1, np.int64), np.zeros(1, np.int64)).tolist() == [True]

    def test_sides_without_values(self) -> None:
        empty = self._ragged([[], []])
        some = self._ragged([[1], [2]])
        pairs = np.array([0, 1], np.int64)

        assert shared_values(empty, some, pairs, pairs).tolist() == [False, False]
        assert shared_values(some, empty, pairs, pairs).tolist() == [False, False]


_SHORT_WORDS = st.text(alphabet="abcé", max_size=7)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_SHORT_WORDS, _SHORT_WORDS), min_size=1, max_size=40))
def test_one_edit_is_damerau_levenshtein_at_most_one(pairs: list[tuple[str, str]]) -> None:
    """The one-edit test (OSA distance with a cutoff, for speed) says what the unrestricted
    Damerau-Levenshtein distance says: at most one edit apart, or not."""
    values = sorted({w for pair in pairs for w in pair} - {""})
    code = {w: i for i, w in enumerate(values)}
    left = np.array([code.get(a, MISSING) for a, _ in pairs], np.int32)
    right = np.array([code.get(b, MISSING) for _, b in pairs], np.int32)
    expected = [a != "" and b != "" and DamerauLevenshtein.distance(a, b) <= 1 for a, b in pairs]

    assert expected == (_unique_pair_scores(left, right, values, _one_edit) > 0).tolist()
