"""Candidate generation: which archived/synced pairs get compared."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import DOB, contact, encode_pair_sides, make_student

from merge_engine import Student
from merge_engine.matching import _blocking
from merge_engine.matching._blocking import (
    BLOCKING_RULES,
    DUPLICATE_RULES,
    FALLBACK_RULES,
    Candidates,
    generate_candidates,
)
from merge_engine.matching._features import Vocabularies, encode_students
from merge_engine.testing.synthetic import SyntheticDistrict

LETTERS = "abcdefghijklmnop"


def _pairs(c: Candidates) -> set[tuple[int, int]]:
    return set(zip(c.archived.tolist(), c.synced.tolist(), strict=True))


def _stats(c: Candidates) -> dict[str, int]:
    return {s.rule: s.pairs for s in c.stats}


ARCHIVED = [
    make_student("a0", "Bill", "Quixby"),
    make_student("a1", "Oliver", "Smyth", dob=DOB),
    make_student("a2", "Zed", "Alpha", contacts=[contact("g1", "(212) 555-0147")]),
    make_student("a3", "Noone", "Nothing"),
    make_student("a4", "Hartley", "Imogen"),
]
SYNCED = [
    make_student("b0", "William", "Quixby"),
    make_student("b1", "Oliver", "Smith", dob=DOB),
    make_student("b2", "Zachary", "Omega", contacts=[contact("g9", "+1 212.555.0147")]),
    make_student("b3", "Other", "Person"),
    make_student("b4", "Imogen", "Hartley"),
]


@pytest.fixture(scope="module")
def small() -> Candidates:
    ea, eb, vocab = encode_pair_sides(ARCHIVED, SYNCED)
    return generate_candidates(ea, eb, vocab.names)


def test_finds_exactly_the_plausible_pairs(small: Candidates) -> None:
    """Nickname, surname typo with a shared dob, a shared phone and swapped names pair up."""
    assert {(0, 0), (1, 1), (2, 2), (4, 4)} == _pairs(small)


def test_stats_say_which_rule_found_what(small: Candidates) -> None:
    """Each rule reports how many pairs it joined, in the order the rules ran."""
    stats = _stats(small)
    assert list(BLOCKING_RULES) == [s.rule for s in small.stats]
    assert stats["given name variant + surname word"] >= 1  # Bill -> William Quixby
    assert stats["given name + birth date"] == 1  # Oliver Smyth / Smith, same dob
    assert stats["guardian phone"] == 1  # the same phone, formatted differently
    assert stats["given name and surname in either order"] == 1  # Hartley Imogen
    assert stats["surname + birth date"] == 0  # Smyth is not Smith
    assert all(s.skipped_keys == 0 for s in small.stats)


def test_pairs_are_sorted_and_unique() -> None:
    """Candidates come sorted by (archived, synced) without repeats, whatever rules overlap."""
    students = [
        make_student(f"x{i}", "Ann", "Lee", dob=DOB, contacts=[contact("g", "(212) 555-0147")])
        for i in range(4)
    ]
    ea, eb, vocab = encode_pair_sides(students, students[::-1])
    c = generate_candidates(ea, eb, vocab.names)
    codes = c.archived * len(eb) + c.synced
    assert len(c) == 16
    assert (np.diff(codes) > 0).all()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("given name variant + surname word", {(0, 0)}),
        ("given name + birth date", {(1, 1)}),
        ("guardian phone", {(2, 2)}),
        ("given name and surname in either order", {(4, 4)}),
        ("sis id", set()),
    ],
)
def test_single_rule(rule: str, expected: set[tuple[int, int]]) -> None:
    """Running one rule gives only what that rule joins."""
    ea, eb, vocab = encode_pair_sides(ARCHIVED, SYNCED)
    c = generate_candidates(ea, eb, vocab.names, rules=[rule])
    assert expected == _pairs(c)
    assert [rule] == [s.rule for s in c.stats]


def test_identifier_rules_ignore_leading_zeros() -> None:
    """Student numbers with and without leading zeros block together."""
    a = [make_student("a", "Xavier", "One", student_number="000451")]
    b = [make_student("b", "Zora", "Two", student_number="451")]
    ea, eb, vocab = encode_pair_sides(a, b)
    assert {(0, 0)} == _pairs(generate_candidates(ea, eb, vocab.names, rules=["student number"]))


def test_giant_keys_are_skipped_and_counted() -> None:
    """A phone shared by everyone (the school office) is skipped once it exceeds max_block_pairs."""
    office = "(212) 555-0100"
    a = [
        make_student(f"a{i}", f"A{i}", f"Fam{i}", contacts=[contact("o", office)]) for i in range(6)
    ]
    b = [
        make_student(f"b{i}", f"B{i}", f"Kin{i}", contacts=[contact("p", office)]) for i in range(6)
    ]
    ea, eb, vocab = encode_pair_sides(a, b)
    full = generate_candidates(ea, eb, vocab.names, rules=["guardian phone"])
    assert len(full) == 36
    assert (full.stats[0].pairs, full.stats[0].skipped_keys) == (36, 0)
    capped = generate_candidates(ea, eb, vocab.names, rules=["guardian phone"], max_block_pairs=35)
    assert len(capped) == 0
    assert (capped.stats[0].pairs, capped.stats[0].skipped_keys) == (0, 1)


def test_skipping_one_key_keeps_the_others() -> None:
    """Only the oversized key is dropped; a specific phone still joins its pair."""
    office = "(212) 555-0100"
    a = [make_student(f"a{i}", f"A{i}", f"F{i}", contacts=[contact("o", office)]) for i in range(4)]
    b = [make_student(f"b{i}", f"B{i}", f"K{i}", contacts=[contact("p", office)]) for i in range(4)]
    a[0] = make_student(
        "a0", "A0", "F0", contacts=[contact("o", office), contact("m", "(718) 555-0199")]
    )
    b[3] = make_student(
        "b3", "B3", "K3", contacts=[contact("p", office), contact("n", "718-555-0199")]
    )
    ea, eb, vocab = encode_pair_sides(a, b)
    c = generate_candidates(ea, eb, vocab.names, rules=["guardian phone"], max_block_pairs=5)
    assert {(0, 3)} == _pairs(c)
    assert c.stats[0].skipped_keys == 1


def test_archived_subset_and_exclude() -> None:
    """archived_subset limits the archived side; exclude drops pairs already compared."""
    ea, eb, vocab = encode_pair_sides(ARCHIVED, SYNCED)
    subset = np.array([False, True, True, False, False])
    c = generate_candidates(ea, eb, vocab.names, archived_subset=subset)
    assert {(1, 1), (2, 2)} == _pairs(c)
    exclude = np.array([1 * len(eb) + 1], np.int64)
    c = generate_candidates(ea, eb, vocab.names, exclude=exclude)
    assert {(0, 0), (2, 2), (4, 4)} == _pairs(c)


def test_rule_sets_are_subsets_of_all_rules() -> None:
    """Fallback and duplicate rules are names of real rules."""
    assert set(BLOCKING_RULES) >= FALLBACK_RULES
    assert set(BLOCKING_RULES) >= DUPLICATE_RULES


# --- on a generated district -------------------------------------------------------------


@pytest.fixture(scope="module")
def district_candidates(
    district_1000: SyntheticDistrict,
) -> tuple[Candidates, set[tuple[str, str]]]:
    vocab = Vocabularies.new()
    ea = encode_students(district_1000.archived.students, vocab)
    eb = encode_students(district_1000.synced.students, vocab)
    c = generate_candidates(ea, eb, vocab.names)
    found = {
        (ea.ids[i], eb.ids[j]) for i, j in zip(c.archived.tolist(), c.synced.tolist(), strict=True)
    }
    return c, found


def test_few_pairs_compared(
    district_1000: SyntheticDistrict, district_candidates: tuple[Candidates, set[tuple[str, str]]]
) -> None:
    """Blocking compares a tiny share of all possible pairs (well under 1%)."""
    c, _ = district_candidates
    possible = len(district_1000.archived) * len(district_1000.synced)
    assert len(c) < possible / 100
    assert len(c) >= len([s for s in district_1000.truth.values() if s])


def test_recall_of_true_pairs(
    district_1000: SyntheticDistrict, district_candidates: tuple[Candidates, set[tuple[str, str]]]
) -> None:
    """At least 99% of the true archived/synced twins are among the candidates."""
    _, found = district_candidates
    true = {(a, s) for a, s in district_1000.truth.items() if s}
    assert len(true & found) / len(true) >= 0.99


def test_candidates_are_the_union_of_the_rules(district_1000: SyntheticDistrict) -> None:
    """All rules together give the union of what each rule gives alone."""
    vocab = Vocabularies.new()
    ea = encode_students(district_1000.archived.students, vocab)
    eb = encode_students(district_1000.synced.students, vocab)
    together = generate_candidates(ea, eb, vocab.names)
    union: set[tuple[int, int]] = set()
    for rule, stat in zip(BLOCKING_RULES, together.stats, strict=True):
        alone = generate_candidates(ea, eb, vocab.names, rules=[rule])
        assert stat == alone.stats[0]
        assert len(alone) <= stat.pairs
        union |= _pairs(alone)
    assert union == _pairs(together)


def test_blocks_expanded_in_chunks_give_the_same_pairs(
    district_1000: SyntheticDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joining a few pairs at a time (as a million-student district does) changes nothing:
    the same pairs, and each rule reports the same number of block pairs."""
    vocab = Vocabularies.new()
    ea = encode_students(district_1000.archived.students, vocab)
    eb = encode_students(district_1000.synced.students, vocab)
    whole = generate_candidates(ea, eb, vocab.names)
    monkeypatch.setattr(_blocking, "JOIN_CHUNK_PAIRS", 7)
    chunked = generate_candidates(ea, eb, vocab.names)

    assert whole.stats == chunked.stats
    assert whole.archived.tolist() == chunked.archived.tolist()
    assert whole.synced.tolist() == chunked.synced.tolist()


class TestCommonNameSplit:
    """A name block too large to resolve is cut by birth year and school."""

    @staticmethod
    def _namesakes() -> tuple[list[Student], list[Student]]:
        # Twelve Maria Garcias a side: 144 pairs, above a split of 100. Born in 2010 + i % 3,
        # at school "s{i % 4}"; the synced copy of a5 lost its birth date and moved school.
        def side(prefix: str) -> list[Student]:
            return [
                make_student(
                    f"{prefix}{i}",
                    "Maria",
                    "Garcia",
                    dob=dt.date(2010 + i % 3, 1, 1 + i),
                    school_id=f"s{i % 4}",
                )
                for i in range(12)
            ]

        archived, synced = side("a"), side("b")
        synced[5] = make_student("b5", "Maria", "Garcia", school_id="s9")
        return archived, synced

    def _split(self, split: int, max_block_pairs: int = 50_000) -> Candidates:
        archived, synced = self._namesakes()
        ea, eb, vocab = encode_pair_sides(archived, synced)
        return generate_candidates(
            ea,
            eb,
            vocab.names,
            rules=["given name variant + joined surname"],
            max_block_pairs=max_block_pairs,
            split_block_pairs=split,
        )

    def test_split_block_pairs_only_same_year_or_same_school(self) -> None:
        """Past the split, a namesake pair needs the same birth year or the same school."""
        c = self._split(100)

        expected = {
            (i, j)
            for i in range(12)
            for j in range(12)
            if j != 5 and (i % 3 == j % 3 or i % 4 == j % 4)
        }
        assert expected == _pairs(c)
        assert (0, 0) in _pairs(c)
        assert not any(j == 5 for _, j in _pairs(c))  # nothing in common but the name

    def test_small_blocks_are_not_split(self) -> None:
        """At or under the split, every namesake pair is joined as before."""
        c = self._split(144)

        assert {(i, j) for i in range(12) for j in range(12)} == _pairs(c)

    def test_split_does_not_touch_other_rules(self) -> None:
        """Only ``SPLIT_RULES`` are split: a shared office phone is joined whole (or skipped)."""
        office = "(212) 555-0100"
        a = [
            make_student(f"a{i}", f"A{i}", f"F{i}", contacts=[contact("o", office)])
            for i in range(12)
        ]
        b = [
            make_student(f"b{i}", f"B{i}", f"K{i}", contacts=[contact("p", office)])
            for i in range(12)
        ]
        ea, eb, vocab = encode_pair_sides(a, b)

        c = generate_candidates(ea, eb, vocab.names, rules=["guardian phone"], split_block_pairs=10)

        assert 144 == len(c)

    def test_fallback_blocks_split_by_expected_grade_without_birth_dates(self) -> None:
        """Twelve Smiths named J. a side, no birth dates, at other schools on the synced
        side (the fallback's usual case): past the split, a pair needs the grade the
        archived record is expected in after the progression."""
        archived = [make_student(f"a{i}", f"J{i}x", "Smith", grade=i % 4) for i in range(12)]
        synced = [
            make_student(f"b{i}", f"J{i}y", "Smith", grade=i % 4, school_id="new")
            for i in range(12)
        ]
        ea, eb, vocab = encode_pair_sides(archived, synced)

        pairs = _pairs(
            generate_candidates(
                ea, eb, vocab.names, rules=["surname + given initial"], split_block_pairs=100
            )
        )

        assert pairs == {(i, j) for i in range(12) for j in range(12) if i % 4 + 1 == j % 4}

    def test_given_name_school_blocks_do_not_split_by_school(self) -> None:
        """ "given name + school" has the school in its key: its blocks split by birth year
        and grade, never by the school they share (which would keep every pair)."""
        archived = [
            make_student(f"a{i}", "Maria", f"S{i}", grade=3, school_id="x") for i in range(12)
        ]
        synced = [
            make_student(f"b{i}", "Maria", f"T{i}", grade=3 + i % 2, school_id="x")
            for i in range(12)
        ]
        ea, eb, vocab = encode_pair_sides(archived, synced)

        pairs = _pairs(
            generate_candidates(
                ea, eb, vocab.names, rules=["given name + school"], split_block_pairs=100
            )
        )

        assert pairs == {(i, j) for i in range(12) for j in range(12) if j % 2 == 1}

    def test_zip_and_birth_date_blocks_split_by_school_or_initial(self) -> None:
        """Children born the same day in one zip code: a pair needs the same school,
        given-name initial or surname initial, however small the block."""
        day = dt.date(2012, 5, 5)
        archived = [
            make_student(
                f"a{i}",
                f"{'AB'[i % 2]}x{LETTERS[i]}",
                f"{'CDD'[i % 3]}y{LETTERS[i]}",
                dob=day,
                zip="95027",
            )
            for i in range(12)
        ]
        synced = [
            make_student(
                f"b{i}",
                f"{'AE'[i % 2]}z{LETTERS[i]}",
                f"{'CFF'[i % 3]}w{LETTERS[i]}",
                dob=day,
                zip="95027",
            )
            for i in range(12)
        ]
        synced[7] = make_student("b7", "Quinn", "Ross", dob=day, zip="95027", school_id="s")
        ea, eb, vocab = encode_pair_sides(archived, synced)

        pairs = _pairs(
            generate_candidates(
                ea, eb, vocab.names, rules=["zip + birth date"], split_block_pairs=100
            )
        )

        expected = {
            (i, j)
            for i in range(12)
            for j in range(12)
            if j != 7 and ((i % 2 == 0 and j % 2 == 0) or (i % 3 == 0 and j % 3 == 0))
        }
        assert pairs == expected

    def test_two_children_born_the_same_day_in_one_zip_need_more_in_common(self) -> None:
        """A block of two records: a pair with nothing but the zip and the birth date in
        common is not joined; one at the same school is."""
        day = dt.date(2012, 5, 5)
        archived = [
            make_student("a0", "Ava", "Stone", dob=day, zip="95027", school_id="s1"),
            make_student("a1", "Liam", "Brook", dob=day, zip="95028", school_id="s1"),
        ]
        synced = [
            make_student("b0", "Noor", "Haddad", dob=day, zip="95027", school_id="s2"),
            make_student("b1", "Zane", "Quill", dob=day, zip="95028", school_id="s1"),
        ]
        ea, eb, vocab = encode_pair_sides(archived, synced)

        c = generate_candidates(ea, eb, vocab.names, rules=["zip + birth date"])

        assert {(1, 1)} == _pairs(c)

    def test_a_block_over_the_cap_is_split_not_skipped(self) -> None:
        """A name too common for ``max_block_pairs`` still joins namesakes born the same year."""
        c = self._split(100, max_block_pairs=143)

        assert (3, 3) in _pairs(c)
        assert 0 == c.stats[0].skipped_keys

    def test_classmates_born_in_two_years_meet_in_the_cohort(self) -> None:
        """Namesakes born September 2014 and April 2015 share a class: their pair is kept
        past the split (a strong competitor no longer compared would leave a wrong pair
        unrivalled), while one born in 2013 at another school is not paired."""
        archived = [
            make_student(f"a{i}", "Ali", "Mohamed", dob=dt.date(2012, 6, 1), school_id="x")
            for i in range(11)
        ]
        archived.append(
            make_student("a11", "Ali", "Mohamed", dob=dt.date(2014, 9, 24), school_id="p")
        )
        synced = [
            make_student(f"b{i}", "Ali", "Mohamed", dob=dt.date(2012, 6, 1), school_id="x")
            for i in range(11)
        ]
        synced.append(make_student("b11", "Ali", "Mohamed", dob=dt.date(2015, 4, 1), school_id="q"))
        synced.append(make_student("b12", "Ali", "Mohamed", dob=dt.date(2013, 4, 1), school_id="r"))
        ea, eb, vocab = encode_pair_sides(archived, synced)

        pairs = _pairs(
            generate_candidates(
                ea,
                eb,
                vocab.names,
                rules=["given name variant + joined surname"],
                split_block_pairs=100,
            )
        )

        assert (11, 11) in pairs
        assert (11, 12) not in pairs
        assert (0, 12) not in pairs
