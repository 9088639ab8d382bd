"""Guardian accounts across merged students: aggregation, comparison, matching and actions.

Hand-built rosters with hand-made student merges check each rule; a
planner round trip checks the plan fields; a quality guard checks the
auto merges against the generator's ``guardian_truth``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import DOB, FAST, make_student
from guardian_support import FAMILY_EMAIL, HOME, HOME_DOTS, guardian, kid, merge

from merge_engine import Roster, Settings, Student, build_plan
from merge_engine.accounts._guardian_levels import _typo
from merge_engine.accounts._guardians import (
    GUARDIAN_COMPARISONS,
    GuardianAccount,
    GuardianAction,
    GuardianMerge,
    _plan_guardians,
    compare_guardians,
    guardian_accounts,
    guardian_actions,
    match_guardians,
    match_guardians_with_folds,
)
from merge_engine.accounts._roles import _find_roles, find_multiple_roles
from merge_engine.model import Contact, StaffMember
from merge_engine.plan import Merge, MergePlan
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district


def account(**kw: Any) -> GuardianAccount:
    """The account built from a single contact row (normalised the usual way)."""
    contact = guardian("g", kw.pop("first", None), kw.pop("last", None), **kw)
    return guardian_accounts(Roster([kid("k", contact)]))["g"]


def match(
    archived: Sequence[Student], synced: Sequence[Student], merges: Sequence[Merge]
) -> list[GuardianMerge]:
    return match_guardians(Roster(archived), Roster(synced), merges)


def one_pair(old: Contact, new: Contact) -> list[GuardianMerge]:
    """Match one old and one new contact on a single merged student pair a1 -> s1."""
    return match([kid("a1", old)], [kid("s1", new)], [merge("a1", "s1")])


def pairs(result: Sequence[GuardianMerge]) -> dict[tuple[str, str], str]:
    return {(g.archived_guardian_id, g.synced_guardian_id): g.decision for g in result}


# --- guardian_accounts -------------------------------------------------------------------


class TestGuardianAccounts:
    """Contact rows gathered into one account per guardian id."""

    def test_siblings_share_one_account(self) -> None:
        """Two children listing the same guardian id give one account with both, sorted."""
        roster = Roster(
            [
                kid("s9", guardian("g1", "Pat", rel="Mother")),
                kid("s10", guardian("g1", "Pat", rel="parent")),
                kid("s3", guardian("g2", "Lee")),
            ]
        )
        accounts = guardian_accounts(roster)
        assert list(accounts) == ["g1", "g2"]
        assert accounts["g1"].student_ids == ("s10", "s9")
        assert accounts["g1"].relationships == ("mother", "parent")
        assert accounts["g2"].student_ids == ("s3",)
        assert accounts["g2"].relationships == ()

    def test_first_non_empty_value_wins(self) -> None:
        """Each field takes the first non-empty value over the rows, field by field."""
        roster = Roster(
            [
                kid("s1", guardian("g1", "Pat", None, phone=HOME)),
                kid("s2", guardian("g1", "Patricia", "Quix", email="Pat@Example.org", sis="0042")),
                kid("s3", guardian("g1", "P", "Other", email="x@y.org", phone="(646) 555-0100")),
            ]
        )
        acc = guardian_accounts(roster)["g1"]
        assert (acc.first_name, acc.last_name) == ("pat", "quix")
        assert acc.email == "pat@example.org"
        assert acc.phone == "+12125550147"
        assert acc.sis_id == "42"

    def test_values_are_normalised(self) -> None:
        """Names, emails, phones and SIS ids are stored normalised; blank relationships dropped."""
        acc = account(
            first=" José ", last="García-López", email=" A@B.org ", phone=HOME_DOTS, sis="00-7"
        )
        assert acc.first_name == "jose"
        assert acc.last_name == "garcia lopez"
        assert acc.email == "a@b.org"
        assert acc.phone == "+12125550147"
        assert acc.sis_id == "7"
        roster = Roster([kid("s1", guardian("g", "A", rel="  ")), kid("s2", guardian("g", "A"))])
        assert guardian_accounts(roster)["g"].relationships == ()

    def test_roster_without_contacts(self) -> None:
        """No contacts, no accounts."""
        assert guardian_accounts(Roster([kid("s1")])) == {}

    def test_later_rows_fill_in_and_add_relationships(self) -> None:
        """Rows after the first fill only empty fields; every row's relationship is kept."""
        roster = Roster(
            [
                kid("s2", guardian("g1", "Pat", None, email=None, rel=None)),
                kid("s1", guardian("g1", "Patricia", "Quix", phone=HOME, rel="Mother")),
                kid("s1", guardian("g1", "P", "Lee", email="p@x.org", rel="guardian")),
                kid("s3"),
            ]
        )
        acc = guardian_accounts(roster)["g1"]
        assert (acc.first_name, acc.last_name, acc.email) == ("pat", "quix", "p@x.org")
        assert acc.phone == "+12125550147"
        assert acc.relationships == ("guardian", "mother")
        assert acc.student_ids == ("s1", "s2")


# --- compare_guardians -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("Pat", "PAT", "exact"),
        ("Bill", "William", "nickname"),
        ("Bob", "Robert", "nickname"),
        ("Mary Ann", "Mary", "nickname"),
        ("Jennifer", "Jenifer", "close"),
        ("J", "Jennifer", "initial"),
        ("J.", "Jennifer", "initial"),
        ("K", "Jennifer", "different"),
        ("Mary", "John", "different"),
        ("Karen", "Kevin", "different"),
        (None, "John", "missing"),
    ],
)
def test_given_name_levels(a: str | None, b: str, level: str) -> None:
    """Given names: exact, nickname, typo, initial, different, missing."""
    assert compare_guardians(account(first=a), account(first=b))["first_name"] == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("Quix", "QUIX", "exact"),
        ("Garcia-Lopez", "Garcia Lopez", "exact"),
        ("GarciaLopez", "Garcia Lopez", "exact"),
        ("Garcia Lopez", "Garcia", "compound"),
        ("Lopez", "Garcia Lopez", "compound"),
        ("Johnson", "Jonson", "close"),
        ("Smith", "Okafor", "different"),
        ("Smith", None, "missing"),
    ],
)
def test_surname_levels(a: str, b: str | None, level: str) -> None:
    """Surnames: exact (spaces and hyphens ignored), compound, close, different, missing."""
    assert compare_guardians(account(last=a), account(last=b))["last_name"] == level


def test_email_and_phone_are_compared_normalised() -> None:
    """A reformatted phone and a re-cased email are the same; another number is different."""
    same = compare_guardians(
        account(email=" Pat@Example.ORG ", phone=HOME),
        account(email="pat@example.org", phone=HOME_DOTS),
    )
    assert (same["email"], same["phone"]) == ("exact", "exact")
    assert compare_guardians(account(phone="+1 212 555 0147"), account(phone=HOME))["phone"] == (
        "exact"
    )
    other = compare_guardians(
        account(email="pat@example.org", phone=HOME),
        account(email="pat@example.com", phone="(212) 555-0148"),
    )
    assert (other["email"], other["phone"]) == ("different", "different")
    assert compare_guardians(account(phone=HOME), account())["phone"] == "missing"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("mother", "Mother", "same_role"),
        ("Grandmother", "grandmother", "same_role"),
        ("parent", "Parent", "same"),
        ("guardian", "guardian", "same"),
        ("parent", "mother", "compatible"),
        ("guardian", "father", "compatible"),
        ("mother", "father", "conflicting"),
        ("father", "grandfather", "conflicting"),
        ("grandmother", "grandfather", "conflicting"),
        (None, "mother", "missing"),
    ],
)
def test_relationship_levels(a: str | None, b: str, level: str) -> None:
    """Relationships: the same gendered role, the same other role, compatible (parent vs
    mother), conflicting (sex or generation)."""
    assert compare_guardians(account(rel=a), account(rel=b))["relationship"] == level


def test_sis_id_levels() -> None:
    """SIS ids compare normalised (leading zeros ignored)."""
    assert compare_guardians(account(sis="00123"), account(sis="123"))["sis_id"] == "exact"
    assert compare_guardians(account(sis="A1"), account(sis="A2"))["sis_id"] == "different"
    assert compare_guardians(account(sis="A1"), account())["sis_id"] == "missing"


def test_compare_covers_every_comparison_with_known_levels() -> None:
    """Every comparison is present, each at one of its documented levels."""
    levels = compare_guardians(
        account(first="Pat", last="Quix", email="p@x.org", phone=HOME, rel="mother", sis="1"),
        account(first="Bill", last="Quix Lee", rel="father"),
    )
    assert set(levels) == set(GUARDIAN_COMPARISONS)
    for name, level in levels.items():
        assert level in GUARDIAN_COMPARISONS[name]


# --- match_guardians ---------------------------------------------------------------------


class TestMatchGuardians:
    """Old accounts paired with sync-created accounts across merged students."""

    def test_same_adult_same_email_is_auto(self) -> None:
        """Same name and (re-cased) email: one auto merge, no reasons."""
        [g] = one_pair(
            guardian("ga1", "Pat", email="pat@example.org", rel="mother"),
            guardian("gs1", "Pat", email="PAT@example.org", rel="Mother"),
        )
        assert (g.archived_guardian_id, g.synced_guardian_id, g.decision) == ("ga1", "gs1", "auto")
        assert g.reasons == ()
        assert g.students == (("a1", "s1"),)
        assert g.confidence >= 0.99

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ({"email": "pat@example.org"}, {"email": "pat.new@example.com"}),
            ({"email": "pat@example.org", "phone": HOME}, {"email": "pat@new.org", "phone": HOME}),
            ({"phone": HOME}, {"phone": "(646) 555-0100"}),
        ],
    )
    def test_same_full_name_with_one_changed_detail_is_auto(
        self, old: dict[str, str], new: dict[str, str]
    ) -> None:
        """Same full name and relationship, one contact detail changed: still one adult."""
        [g] = one_pair(
            guardian("ga1", "Pat", rel="mother", **old), guardian("gs1", "Pat", rel="mother", **new)
        )
        assert (g.synced_guardian_id, g.decision) == ("gs1", "auto")

    @pytest.mark.parametrize("rels", [(None, None), ("parent", "mother"), (None, "mother")])
    def test_every_contact_detail_changed_is_review(
        self, rels: tuple[str | None, str | None]
    ) -> None:
        """Same name but both email and phone disagree, no shared gendered role: review."""
        [g] = one_pair(
            guardian("ga1", "Pat", email="pat@example.org", phone=HOME, rel=rels[0]),
            guardian("gs1", "Pat", email="pat@new.org", phone="(646) 555-0100", rel=rels[1]),
        )
        assert g.decision == "review"
        assert "no shared email, phone or SIS id" in g.reasons

    def test_every_contact_detail_changed_with_one_role_is_auto(self) -> None:
        """Same full name, both the child's mother, new phone and email: the same adult."""
        [g] = one_pair(
            guardian("ga1", "Pat", email="pat@example.org", phone=HOME, rel="mother"),
            guardian("gs1", "Pat", email="pat@new.org", phone="(646) 555-0100", rel="Mother"),
        )
        assert g.decision == "auto"

    @pytest.mark.parametrize("rels", [("mother", "father"), (None, None), ("parent", "parent")])
    @pytest.mark.parametrize("names", [("Mary", "John"), ("Maria", "Jose"), ("Karen", "Kevin")])
    def test_parents_sharing_phone_and_email_are_never_merged(
        self, names: tuple[str, str], rels: tuple[str | None, str | None]
    ) -> None:
        """One parent on each side, same household phone and email, other given name: no merge."""
        result = one_pair(
            guardian("ga1", names[0], email=FAMILY_EMAIL, phone=HOME, rel=rels[0]),
            guardian("gs1", names[1], email=FAMILY_EMAIL, phone=HOME_DOTS, rel=rels[1]),
        )
        assert result == []  # capped far below the review floor: not even review

    @pytest.mark.parametrize(
        ("rels", "decision"),
        [(("mother", "Mother"), "auto"), (("parent", "parent"), "review"),
         ((None, "mother"), "review")],
    )  # fmt: skip
    def test_an_account_typed_without_a_name_needs_its_role_too(
        self, rels: tuple[str | None, str | None], decision: str
    ) -> None:
        """No name on the old account: the same email, phone and gendered role make it the
        same adult; without the role it could be either parent sharing the family details."""
        [g] = one_pair(
            guardian("ga1", None, None, email=FAMILY_EMAIL, phone=HOME, rel=rels[0]),
            guardian("gs1", "Mary", email=FAMILY_EMAIL, phone=HOME_DOTS, rel=rels[1]),
        )
        assert ("gs1", decision) == (g.synced_guardian_id, g.decision)

    def test_an_unnamed_mother_is_never_merged_into_the_father(self) -> None:
        result = one_pair(
            guardian("ga1", None, None, email=FAMILY_EMAIL, phone=HOME, rel="mother"),
            guardian("gs1", "John", email=FAMILY_EMAIL, phone=HOME_DOTS, rel="father"),
        )
        assert all(g.decision == "review" for g in result)

    def test_both_parents_on_both_sides_pair_by_name(self) -> None:
        """Both parents, shared household details: each goes to their own account, never crossed."""
        old = [
            guardian("ga1", "Mary", email=FAMILY_EMAIL, phone=HOME, rel="mother"),
            guardian("ga2", "John", email=FAMILY_EMAIL, phone=HOME, rel="father"),
        ]
        new = [
            guardian("gs1", "John", email=FAMILY_EMAIL, phone=HOME_DOTS, rel="Father"),
            guardian("gs2", "Mary", email=FAMILY_EMAIL, phone=HOME_DOTS, rel="Mother"),
        ]
        result = match([kid("a1", *old)], [kid("s1", *new)], [merge("a1", "s1")])
        assert pairs(result) == {("ga1", "gs2"): "auto", ("ga2", "gs1"): "auto"}
        assert all(e.comparison != "household_cap" for g in result for e in g.evidence)

    def test_parent_and_grandparent_sharing_a_phone_are_not_auto(self) -> None:
        """Mother and grandmother with one surname and one phone: not the same adult."""
        result = one_pair(
            guardian("ga1", "Linda", phone=HOME, rel="mother"),
            guardian("gs1", "Dorothy", phone=HOME_DOTS, rel="grandmother"),
        )
        assert [g for g in result if g.decision == "auto"] == []

    def test_senior_and_junior_with_one_phone_go_to_review(self) -> None:
        """Robert Quix Jr (father) and Robert Quix Sr (grandfather): same name once suffixes go."""
        [g] = one_pair(
            guardian("ga1", "Robert", "Quix Jr", phone=HOME, rel="father"),
            guardian("gs1", "Robert", "Quix Sr.", phone=HOME, rel="grandfather"),
        )
        assert g.decision == "review"
        assert any("relationships conflict" in r for r in g.reasons)

    def test_shared_phone_alone_with_different_given_names_is_not_auto(self) -> None:
        """A shared phone and surname do not make two given names one adult."""
        result = one_pair(
            guardian("ga1", "Karen", phone=HOME), guardian("gs1", "Kevin", phone=HOME)
        )
        assert [g for g in result if g.decision == "auto"] == []

    @pytest.mark.parametrize("first", ["M", "", None])
    def test_initial_or_missing_given_name_is_not_auto(self, first: str | None) -> None:
        """A shared email with an initial or no given name goes to review at most."""
        result = one_pair(
            guardian("ga1", "Mary", email=FAMILY_EMAIL, phone=HOME),
            guardian("gs1", first, email=FAMILY_EMAIL, phone=HOME),
        )
        assert all(g.decision == "review" and g.reasons for g in result)

    def test_relationship_conflict_goes_to_review(self) -> None:
        """Jordan Quix as mother and as father with one phone: review, with the reason."""
        [g] = one_pair(
            guardian("ga1", "Jordan", phone=HOME, rel="mother"),
            guardian("gs1", "Jordan", phone=HOME, rel="father"),
        )
        assert g.decision == "review"
        assert "relationships conflict (for example mother and father)" in g.reasons

    def test_nickname_and_typo_with_shared_detail_are_auto(self) -> None:
        """Bill/William with one phone, and Jennifer/Jenifer (both "mother") with one email."""
        [bill] = one_pair(
            guardian("ga1", "Bill", phone=HOME), guardian("gs1", "William", phone=HOME_DOTS)
        )
        [jen] = one_pair(
            guardian("ga1", "Jennifer", email="jq@example.org", rel="mother"),
            guardian("gs1", "Jenifer", email="jq@example.org", rel="mother"),
        )
        assert (bill.decision, jen.decision) == ("auto", "auto")

    @pytest.mark.parametrize(("first", "second"), [("Paul", "Paula"), ("Daniel", "Danielle")])
    def test_spouses_with_paired_names_and_a_household_email_are_not_auto(
        self, first: str, second: str
    ) -> None:
        """Paul and Paula sharing the household email are two adults, not a typo."""
        pairs = one_pair(
            guardian("ga1", first, email="home@example.org", phone=HOME, rel="parent"),
            guardian("gs1", second, email="home@example.org", phone=HOME, rel="parent"),
        )
        assert all(g.decision != "auto" for g in pairs)

    def test_differing_sis_ids_go_to_review(self) -> None:
        """Different SIS ids are two people to the SIS: review even with a matching email."""
        [g] = one_pair(
            guardian("ga1", "Pat", email="pat@example.org", sis="100"),
            guardian("gs1", "Pat", email="pat@example.org", sis="200"),
        )
        assert g.decision == "review"
        assert "SIS ids differ" in g.reasons

    def test_old_account_never_goes_to_two_new_accounts(self) -> None:
        """The sync made two accounts of one adult on two merged siblings: one pair at most."""
        pat = {"email": "pat@example.org"}
        result = match(
            [kid("a1", guardian("ga1", "Pat", **pat)), kid("a2", guardian("ga1", "Pat", **pat))],
            [kid("s1", guardian("gs1", "Pat", **pat)), kid("s2", guardian("gs2", "Pat", **pat))],
            [merge("a1", "s1"), merge("a2", "s2")],
        )
        assert len(result) == 1
        assert result[0].archived_guardian_id == "ga1"
        assert result[0].decision == "review"
        assert "another account is nearly as likely" in result[0].reasons

    def test_new_account_never_takes_two_old_accounts(self) -> None:
        """Two old accounts of one adult on two merged siblings, one new account: one pair
        (the other old account is folded into it: see test_guardian_folds.py)."""
        pat = {"email": "pat@example.org"}
        result = match(
            [kid("a1", guardian("ga1", "Pat", **pat)), kid("a2", guardian("ga2", "Pat", **pat))],
            [kid("s1", guardian("gs1", "Pat", **pat)), kid("s2", guardian("gs1", "Pat", **pat))],
            [merge("a1", "s1"), merge("a2", "s2")],
        )
        assert len(result) == 1
        assert result[0].synced_guardian_id == "gs1"

    def test_guardian_of_merged_siblings_is_decided_once(self) -> None:
        """One adult on two merged siblings is one decision listing both student pairs."""
        pat = {"email": "pat@example.org", "rel": "mother"}
        result = match(
            [kid("a1", guardian("ga1", "Pat", **pat)), kid("a2", guardian("ga1", "Pat", **pat))],
            [kid("s1", guardian("gs1", "Pat", **pat)), kid("s2", guardian("gs1", "Pat", **pat))],
            [merge("a2", "s2"), merge("a1", "s1")],
        )
        [g] = result
        assert (g.archived_guardian_id, g.synced_guardian_id, g.decision) == ("ga1", "gs1", "auto")
        assert g.students == (("a1", "s1"), ("a2", "s2"))

    def test_only_merged_students_are_compared(self) -> None:
        """Guardians of students that are not merged to each other are never paired."""
        pat = {"email": "pat@example.org"}
        archived = [kid("a1", guardian("ga1", "Pat", **pat))]
        synced = [
            kid("s1", guardian("gs1", "Pat", **pat)),
            kid("s2", guardian("gs2", "Pat", **pat)),
        ]
        assert match(archived, synced, []) == []
        assert pairs(match(archived, synced, [merge("a1", "s2")])) == {("ga1", "gs2"): "auto"}

    def test_deterministic(self) -> None:
        """Same inputs give the same list, whatever the order of the merges."""
        archived = [
            kid("a1", guardian("ga1", "Mary", email=FAMILY_EMAIL, rel="mother")),
            kid("a2", guardian("ga2", "John", phone=HOME, rel="father")),
            kid("a3", guardian("ga3", "Ann", email="ann@example.org")),
        ]
        synced = [
            kid("s1", guardian("gs1", "Mary", email=FAMILY_EMAIL, rel="mother")),
            kid("s2", guardian("gs2", "Johnny", phone=HOME_DOTS, rel="father")),
            kid("s3", guardian("gs3", "Anne", email="ann@example.org")),
        ]
        merges = [merge("a1", "s1"), merge("a2", "s2"), merge("a3", "s3")]
        first = match(archived, synced, merges)
        assert len(first) == 3
        assert first == match(archived, synced, merges)
        assert first == match(archived[::-1], synced[::-1], merges[::-1])
        assert [g.archived_guardian_id for g in first] == sorted(
            g.archived_guardian_id for g in first
        )

    def test_evidence_and_confidence(self) -> None:
        """Evidence lists every comparison at a known level; confidence is a probability."""
        result = match(
            [kid("a1", guardian("ga1", "Pat", email="p@x.org", rel="mother", sis="9"))],
            [kid("s1", guardian("gs1", "Patricia", phone=HOME, rel="parent"))],
            [merge("a1", "s1")],
        )
        for g in result:
            check_guardian_merge(g)

    def test_accounts_argument_gives_the_same_result(self) -> None:
        """Passing precomputed accounts changes nothing."""
        archived = Roster([kid("a1", guardian("ga1", "Pat", email="p@x.org"))])
        synced = Roster([kid("s1", guardian("gs1", "Pat", email="p@x.org"))])
        merges = [merge("a1", "s1")]
        accounts = (guardian_accounts(archived), guardian_accounts(synced))
        assert match_guardians(archived, synced, merges, accounts=accounts) == match_guardians(
            archived, synced, merges
        )

    def test_round_trip_through_dict(self) -> None:
        """A guardian merge survives to_dict and from_dict (through JSON) unchanged."""
        [g] = one_pair(
            guardian("ga1", "Pat", email="p@x.org"), guardian("gs1", "Pat", email="p@x.org")
        )
        assert GuardianMerge.from_dict(json.loads(json.dumps(g.to_dict()))) == g


# --- typing slips, nicknames without contact details, changed details --------------------


def household_of(*extra: tuple[str, str]) -> list[Student]:
    """Other children of the district whose guardians use the given (first name, relationship)."""
    return [
        kid(f"x{i}", guardian(f"gx{i}", first, f"Other{i}", rel=rel), school="sch2")
        for i, (first, rel) in enumerate(extra)
    ]


def decision_with(
    old: Contact,
    new: Contact,
    archived_extra: Sequence[Student] = (),
    synced_extra: Sequence[Student] = (),
) -> str | None:
    """The decision on the pair (old, new) on merged child a1 -> s1, among other children."""
    result = match(
        [kid("a1", old), *archived_extra], [kid("s1", new), *synced_extra], [merge("a1", "s1")]
    )
    found = pairs(result).get((old.guardian_id, new.guardian_id))
    return found


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("nicholas", "nivholas", True),  # a letter changed inside the name
        ("jennifer", "jenifer", True),  # a letter dropped
        ("jacqueline", "jacqeuline", True),  # two letters swapped
        ("jacqueline", "jacquelnie", False),  # ... but not in the last two
        ("kevin", "kvein", True),
        ("christopher", "cjhristopher", True),  # a letter added
        ("paul", "paula", False),  # a different ending is another name
        ("juan", "juana", False),
        ("francis", "frances", False),
        ("christian", "christina", False),
        ("gabriel", "gabriela", False),
        ("melissa", "meliss", False),
        ("hung", "huong", False),  # short names: too close to tell
        ("carlos", "xarlos", False),  # the first letter
        ("daniel", "danielle", False),  # two letters
        ("mary", "mary", False),
    ],
)
def test_typo_is_a_slip_inside_the_name(a: str, b: str, expected: bool) -> None:
    """A typo is one slip inside a name of five letters or more, never a changed ending."""
    assert expected == _typo(a, b)
    assert expected == _typo(b, a)


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("pat@example.org", "pat@example", "exact"),  # top-level domain lost
        ("pat@example.org", "pat @example.org", "exact"),  # a space typed in
        ("pat@example.org", "patexample.org", "exact"),  # the "@" lost
        ("pat@example.org", "pat@@example.org", "exact"),  # the "@" doubled
        ("pat@example.org", "pat@example.com", "different"),  # another domain
        ("pat@example.org", "jpat@example.org", "different"),
        ("pat@example.org", "pat@example.org.uk", "different"),
    ],
)
def test_email_slips_of_a_hand_typed_address(a: str, b: str, level: str) -> None:
    """A hand-typed address that lost its "@" or domain, or gained a space, is the same."""
    assert level == compare_guardians(account(email=a), account(email=b))["email"]


@pytest.mark.parametrize("placeholder", ["000-000-0000", "(100) 555-0147", "212-055-0147"])
def test_placeholder_phone_counts_as_missing(placeholder: str) -> None:
    """A number no one can have (area code or exchange starting 0 or 1) is no evidence."""
    assert "missing" == compare_guardians(account(phone=placeholder), account(phone=HOME))["phone"]
    assert (
        "missing"
        == compare_guardians(account(phone=placeholder), account(phone=placeholder))["phone"]
    )


class TestRecallRules:
    """Pairs that are the same adult despite typing slips, nicknames or changed details."""

    @pytest.mark.parametrize(
        ("old", "new"), [("Nivholas", "Nicholas"), ("Jacqeuline", "Jacqueline")]
    )
    def test_typo_inside_the_name_with_a_shared_email_is_auto(self, old: str, new: str) -> None:
        """A slip inside the given name, with the same email and surname: the same adult."""
        email = "nq@example.org"
        assert "auto" == decision_with(
            guardian("ga1", old, email=email), guardian("gs1", new, email=email, rel="father")
        )

    def test_typo_needs_a_shared_contact_detail(self) -> None:
        """A slip inside the given name and nothing shared: review."""
        assert "review" == decision_with(
            guardian("ga1", "Nivholas", email="nq@example.org"),
            guardian("gs1", "Nicholas", phone=HOME, rel="father"),
        )

    def test_two_spellings_both_in_use_are_two_names(self) -> None:
        """Kristen and Kirsten both used by other guardians of the district: not a typo."""
        old = guardian("ga1", "Kristen", email=FAMILY_EMAIL, phone=HOME)
        new = guardian("gs1", "Kirsten", email=FAMILY_EMAIL, phone=HOME_DOTS)
        others = household_of(("Kristen", "mother"), ("Kirsten", "mother"))
        assert "auto" == decision_with(old, new)
        assert "review" == decision_with(old, new, others)

    @pytest.mark.parametrize(
        "rels", [("father", "father"), ("Father", "Dad"), ("mother", "mother")]
    )
    def test_nickname_with_one_gendered_role_and_no_contact_is_auto(
        self, rels: tuple[str, str]
    ) -> None:
        """Bill (old, no contact details) and William, both the child's father: one adult."""
        assert "auto" == decision_with(
            guardian("ga1", "Bill", rel=rels[0]),
            guardian("gs1", "William", phone=HOME, rel=rels[1]),
        )

    @pytest.mark.parametrize(
        "rels", [(None, "father"), (None, None), ("father", "grandfather"), ("guardian", "father")]
    )
    def test_nickname_without_contact_and_role_is_review(
        self, rels: tuple[str | None, str | None]
    ) -> None:
        """Without a shared contact, a nickname needs both accounts to name the same role."""
        assert "review" == decision_with(
            guardian("ga1", "Bill", rel=rels[0]),
            guardian("gs1", "William", phone=HOME, rel=rels[1]),
        )

    def test_nickname_of_one_sex_with_a_parent_role_is_auto(self) -> None:
        """Jimmy (a "parent") and James (father): auto once other Jimmys are known fathers."""
        old = guardian("ga1", "Jimmy", rel="parent")
        new = guardian("gs1", "James", phone=HOME, rel="father")
        fathers = household_of(("Jimmy", "father"), ("James", "father"))
        assert "review" == decision_with(old, new)  # nothing says who Jimmy is
        assert "auto" == decision_with(old, new, fathers, fathers)

    def test_nickname_of_both_sexes_with_a_parent_role_is_review(self) -> None:
        """Chris (a "parent") and Christine (mother): Chris is a father's name too, so review."""
        old = guardian("ga1", "Chris", rel="parent")
        new = guardian("gs1", "Christine", phone=HOME, rel="mother")
        district = household_of(("Chris", "father"), ("Christine", "mother"), ("Chris", "mother"))
        assert "review" == decision_with(old, new, district, district)

    @pytest.mark.parametrize("rels", [("aunt", "mother"), ("stepmother", "mother")])
    def test_same_name_in_another_role_with_other_contacts_is_review(
        self, rels: tuple[str, str]
    ) -> None:
        """Maria Quix the aunt and Maria Quix the mother, each with her own phone and email."""
        mothers = household_of(("Maria", "mother"))
        assert "review" == decision_with(
            guardian("ga1", "Maria", email="m1@example.org", phone=HOME, rel=rels[0]),
            guardian("gs1", "Maria", email="m2@example.org", phone="(646) 555-0100", rel=rels[1]),
            mothers,
            mothers,
        )

    def test_guardian_says_nothing_of_sex(self) -> None:
        """A "guardian" may be a grandparent: Bill the guardian is not William the father."""
        fathers = household_of(("Bill", "father"), ("William", "father"))
        assert "review" == decision_with(
            guardian("ga1", "Bill", rel="guardian"),
            guardian("gs1", "William", phone=HOME, rel="father"),
            fathers,
            fathers,
        )

    def test_close_name_of_one_known_sex_with_a_shared_detail_is_auto(self) -> None:
        """Meliss (mother) and Melissa (mom) with one email: one woman, a dropped letter."""
        email = "mq@example.org"
        assert "auto" == decision_with(
            guardian("ga1", "Meliss", email=email, rel="mother"),
            guardian("gs1", "Melissa", email=email, rel="mom"),
        )
        assert "auto" != decision_with(  # a different ending and no known sex: review
            guardian("ga1", "Meliss", email=email, rel="parent"),
            guardian("gs1", "Melissa", email=email, rel="mom"),
        )

    def test_every_contact_changed_with_a_parent_of_known_sex_is_auto(self) -> None:
        """Pat, a "parent", and Pat, the mother: one woman once other Pats are mothers."""
        old = guardian("ga1", "Pat", email="pat@example.org", phone=HOME, rel="parent")
        new = guardian("gs1", "Pat", email="pat@new.org", phone="(646) 555-0100", rel="mother")
        mothers = household_of(("Pat", "mother"))
        assert "review" == decision_with(old, new)  # the mother's own account is no evidence
        assert "auto" == decision_with(old, new, mothers)

    def test_nickname_with_every_contact_changed_is_review(self) -> None:
        """Bill and William, both father, but each with another phone and email: review."""
        assert "review" == decision_with(
            guardian("ga1", "Bill", email="bq@example.org", phone=HOME, rel="father"),
            guardian("gs1", "William", email="wq@new.org", phone="(646) 555-0100", rel="father"),
        )

    @pytest.mark.parametrize(("old", "new"), [("Knught", "Knight"), ("Lin", "Lim")])
    def test_surname_slip_with_the_given_name_and_a_shared_detail_is_auto(
        self, old: str, new: str
    ) -> None:
        """Adam Knught and Adam Knight with one email: a mistyped surname."""
        assert "auto" == decision_with(
            guardian("ga1", "Adam", old, email="adamk@example.org"),
            guardian("gs1", "Adam", new, email="adamk@example.org", rel="father"),
        )

    def test_surname_slip_needs_the_given_name_and_a_shared_detail(self) -> None:
        """A surname slip with a nickname, or with nothing shared: review."""
        assert "review" == decision_with(
            guardian("ga1", "Bill", "Knught", email="bk@example.org"),
            guardian("gs1", "William", "Knight", email="bk@example.org", rel="father"),
        )
        assert "review" == decision_with(
            guardian("ga1", "Adam", "Knught", rel="father"),
            guardian("gs1", "Adam", "Knight", rel="father"),
        )

    def test_changed_surname_with_email_phone_and_role_is_auto(self) -> None:
        """Pat Quix became Pat Lee: same email, phone and role, so the same adult."""
        old = guardian("ga1", "Pat", "Quix", email="pat@example.org", phone=HOME, rel="mother")
        new = guardian("gs1", "Pat", "Lee", email="pat@example.org", phone=HOME, rel="mother")
        assert "auto" == decision_with(old, new)

    def test_changed_surname_with_less_is_review(self) -> None:
        """A surname that is not the child's, changed, with only the email (that does not
        spell her name) or with roles that conflict: review."""
        assert "review" == decision_with(
            guardian("ga1", "Pat", "Moss", email="pat@example.org", rel="mother"),
            guardian("gs1", "Pat", "Lee", email="pat@example.org", rel="mother"),
        )
        assert "review" == decision_with(
            guardian("ga1", "Pat", "Moss", email="pat@example.org", phone=HOME, rel="grandmother"),
            guardian("gs1", "Pat", "Lee", email="pat@example.org", phone=HOME, rel="mother"),
        )

    def test_changed_surname_with_email_and_phone_and_no_role_is_auto(self) -> None:
        """Pat Moss (no role) and Pat Lee, one email and one phone: one adult, a new surname."""
        assert "auto" == decision_with(
            guardian("ga1", "Pat", "Moss", email="pat@example.org", phone=HOME),
            guardian("gs1", "Pat", "Lee", email="pat@example.org", phone=HOME, rel="mother"),
        )

    def test_hand_typed_email_is_a_shared_detail(self) -> None:
        """Jenny and Jennifer, old address typed without its ".org": the same email."""
        assert "auto" == decision_with(
            guardian("ga1", "Jenny", email="jq@example"),
            guardian("gs1", "Jennifer", email="jq@example.org", rel="mother"),
        )

    def test_shared_placeholder_phone_is_not_a_shared_detail(self) -> None:
        """Bill and William with only 000-000-0000 in common, no roles: review."""
        assert "review" == decision_with(
            guardian("ga1", "Bill", phone="000-000-0000"),
            guardian("gs1", "William", phone="000-000-0000"),
        )

    def test_fewer_candidates_give_more_confidence(self) -> None:
        """The same pair is more likely one adult when the child lists fewer guardians."""
        old = guardian("ga1", "Bill", rel="father")
        new = guardian("gs1", "William", phone=HOME, rel="father")
        [alone] = one_pair(old, new)
        crowded = match(
            [kid("a1", old, guardian("ga2", "Mary", rel="mother"), guardian("ga3", "Ann"))],
            [kid("s1", new, guardian("gs2", "Mary", rel="mother"), guardian("gs3", "Ann"))],
            [merge("a1", "s1")],
        )
        [among] = [g for g in crowded if g.archived_guardian_id == "ga1"]
        assert alone.confidence > among.confidence
        assert alone.evidence == among.evidence


class TestSafety:
    """The rules that keep two different adults apart still hold."""

    @pytest.mark.parametrize("rels", [(None, None), ("parent", "parent"), (None, "mother")])
    @pytest.mark.parametrize(
        "names",
        [
            ("John", "Mary"),
            ("Paul", "Paula"),
            ("Daniel", "Danielle"),
            ("Juan", "Juana"),
            ("Francis", "Frances"),
            ("Christian", "Christina"),
            ("Gabriel", "Gabriela"),
            ("Hung", "Huong"),
            ("Mario", "Maria"),
            ("Diane", "Duane"),
        ],
    )
    def test_spouses_sharing_phone_email_and_surname_are_never_auto(
        self, names: tuple[str, str], rels: tuple[str | None, str | None]
    ) -> None:
        """One spouse on each side, household phone, email and surname, other given name."""
        for old, new in (names, names[::-1]):
            assert "auto" != decision_with(
                guardian("ga1", old, email=FAMILY_EMAIL, phone=HOME, rel=rels[0]),
                guardian("gs1", new, email=FAMILY_EMAIL, phone=HOME_DOTS, rel=rels[1]),
            )

    def test_both_spouses_on_both_sides_each_find_their_own(self) -> None:
        """Paul and Paula on both sides: each is merged into their own account, never crossed."""
        old = [
            guardian("ga1", "Paul", email=FAMILY_EMAIL, phone=HOME),
            guardian("ga2", "Paula", email=FAMILY_EMAIL, phone=HOME),
        ]
        new = [
            guardian("gs1", "Paula", email=FAMILY_EMAIL, phone=HOME_DOTS, rel="mother"),
            guardian("gs2", "Paul", email=FAMILY_EMAIL, phone=HOME_DOTS, rel="father"),
        ]
        result = match([kid("a1", *old)], [kid("s1", *new)], [merge("a1", "s1")])
        assert {("ga1", "gs2"), ("ga2", "gs1")} >= set(pairs(result))

    @pytest.mark.parametrize("contacts", [{}, {"phone": HOME}, {"email": FAMILY_EMAIL}])
    def test_parent_and_grandparent_of_one_name_are_not_auto(
        self, contacts: dict[str, str]
    ) -> None:
        """Robert Quix the father and Robert Quix the grandfather: never one adult."""
        assert "auto" != decision_with(
            guardian("ga1", "Robert", rel="father", **contacts),
            guardian("gs1", "Robert", rel="grandfather", **contacts),
        )
        assert "auto" != decision_with(
            guardian("ga1", "Bob", rel="father", **contacts),
            guardian("gs1", "Robert", rel="grandfather", **contacts),
        )

    @pytest.mark.parametrize("shared", [{"phone": HOME}, {"email": FAMILY_EMAIL}])
    def test_shared_detail_alone_is_never_enough(self, shared: dict[str, str]) -> None:
        """A shared phone or email with an unknown or initial given name: not auto."""
        for first in (None, "M", "Karen"):
            assert "auto" != decision_with(
                guardian("ga1", "Mary", rel="mother", **shared),
                guardian("gs1", first, rel="mother", **shared),
            )

    def test_ties_go_to_review(self) -> None:
        """Two old accounts equally like one new account: the one merge proposed is review."""
        pat = {"email": "pat@example.org", "phone": HOME, "rel": "mother"}
        result = match(
            [kid("a1", guardian("ga1", "Pat", **pat), guardian("ga2", "Pat", **pat))],
            [kid("s1", guardian("gs1", "Pat", **pat))],
            [merge("a1", "s1")],
        )
        assert [g.decision for g in result] == ["review"]
        assert "another account is nearly as likely" in result[0].reasons


def check_guardian_merge(g: GuardianMerge) -> None:
    """Invariants every guardian merge keeps."""
    assert 0.0 <= g.confidence <= 1.0
    levels = {e.comparison: e.level for e in g.evidence}
    assert set(GUARDIAN_COMPARISONS) <= set(levels)
    assert set(levels) - set(GUARDIAN_COMPARISONS) <= {"household_cap", "children"}
    for name, allowed in GUARDIAN_COMPARISONS.items():
        assert levels[name] in allowed
    assert (g.decision == "auto") == (not g.reasons)
    if g.decision == "auto":
        assert g.confidence >= 0.99
        assert levels["first_name"] in ("exact", "nickname", "close")
    assert g.students == tuple(sorted(set(g.students)))
    # Paired across the district (no merged child in common) exactly when it says so.
    assert bool(g.students) == (levels.get("children") != "none_merged")


# --- guardian_actions --------------------------------------------------------------------


@pytest.fixture
def action_case() -> tuple[Roster, list[Merge], list[GuardianMerge]]:
    """a1 is merged (ga1 matched, ga2 not); a2 is not merged and shares ga2, and has ga3."""
    archived = Roster(
        [
            kid("a1", guardian("ga1", "Pat", email="p@x.org"), guardian("ga2", "Lee")),
            kid("a2", guardian("ga2", "Lee"), guardian("ga3", "Sam")),
        ]
    )
    synced = Roster([kid("s1", guardian("gs1", "Pat", email="p@x.org"))])
    merges = [merge("a1", "s1")]
    found = match_guardians(archived, synced, merges)
    assert pairs(found) == {("ga1", "gs1"): "auto"}
    return archived, merges, found


def triples(actions: Sequence[GuardianAction]) -> list[tuple[str, str, str]]:
    return [(a.action, a.guardian_id, a.student_id) for a in actions]


class TestGuardianActions:
    """What happens to old guardian links of merged students, by policy."""

    def test_keep_old_flags_unmatched(
        self, action_case: tuple[Roster, list[Merge], list[GuardianMerge]]
    ) -> None:
        """keep_old: matched guardians need no action, unmatched ones are kept and flagged."""
        archived, merges, found = action_case
        assert triples(guardian_actions(archived, merges, found)) == [("flag", "ga2", "a1")]

    @pytest.mark.parametrize(("unmatched", "action"), [("remove", "detach"), ("review", "review")])
    def test_unmatched_policy(
        self,
        action_case: tuple[Roster, list[Merge], list[GuardianMerge]],
        unmatched: Any,
        action: str,
    ) -> None:
        """unmatched="remove" detaches and "review" asks, for unmatched guardians only."""
        archived, merges, found = action_case
        actions = guardian_actions(archived, merges, found, unmatched=unmatched)
        assert triples(actions) == [(action, "ga2", "a1")]
        assert all(a.reason for a in actions)

    def test_remove_old_detaches_every_old_guardian(
        self, action_case: tuple[Roster, list[Merge], list[GuardianMerge]]
    ) -> None:
        """remove_old detaches every old guardian of merged students, matched or not."""
        archived, merges, found = action_case
        for given in (found, []):
            actions = guardian_actions(archived, merges, given, policy="remove_old")
            assert triples(actions) == [("detach", "ga1", "a1"), ("detach", "ga2", "a1")]

    @pytest.mark.parametrize("policy", ["keep_old", "remove_old"])
    @pytest.mark.parametrize("unmatched", ["keep", "remove", "review"])
    def test_unmerged_students_are_never_touched(
        self,
        action_case: tuple[Roster, list[Merge], list[GuardianMerge]],
        policy: Any,
        unmatched: Any,
    ) -> None:
        """No action ever names a student that is not merged."""
        archived, merges, found = action_case
        actions = guardian_actions(archived, merges, found, policy=policy, unmatched=unmatched)
        assert actions
        assert {a.student_id for a in actions} == {"a1"}
        assert guardian_actions(archived, [], [], policy=policy, unmatched=unmatched) == []

    def test_action_round_trip_and_unknown_action(self) -> None:
        """An action survives to_dict/from_dict; an unknown action is refused."""
        action = GuardianAction("detach", "ga1", "a1", "district removes old guardians")
        assert GuardianAction.from_dict(action.to_dict()) == action
        with pytest.raises(ValueError, match="unknown guardian action"):
            GuardianAction.from_dict({**action.to_dict(), "action": "delete"})


# --- planner integration -----------------------------------------------------------------

CANARY_FIRST, CANARY_LAST = "Zephyrine", "Quillfeather"
CANARY_PARTNER = "Barnabus"
CANARY_EMAIL = "zephyrine.quillfeather@example.org"
CANARY_PHONE, CANARY_STAFF_PHONE = "(212) 555-0176", "(646) 555-0123"
CANARIES = (
    CANARY_FIRST,
    CANARY_LAST,
    CANARY_PARTNER,
    "Ozymandias",
    CANARY_EMAIL,
    "2125550176",
    "555-0176",
    "6465550123",
    "555-0123",
)


def canary_child(synced: bool) -> Student:
    """A child whose guardians (and a staff member) wear canary values."""
    mother = Contact(
        "gq-s" if synced else "gq-a",
        CANARY_FIRST,
        CANARY_LAST,
        CANARY_EMAIL.upper() if synced else CANARY_EMAIL,
        "212.555.0176" if synced else CANARY_PHONE,
        "Mother",
        None,
    )
    contacts = [mother]
    if not synced:  # the father's old account has no counterpart in the sync
        contacts.append(
            Contact("gq-a2", CANARY_PARTNER, CANARY_LAST, None, "(718) 555-0188", "father")
        )
    return make_student(
        "xs1" if synced else "xa1",
        "Ozymandias",
        CANARY_LAST,
        dob=DOB,
        grade=4 if synced else 3,
        school_id="schQ",
        street="17 Larkspur Lane",
        zip="10027",
        contacts=contacts,
    )


@pytest.fixture(scope="module")
def canary_rosters(background: SyntheticDistrict) -> tuple[Roster, Roster]:
    staff = StaffMember("tq-1", CANARY_FIRST, CANARY_LAST, CANARY_EMAIL, CANARY_STAFF_PHONE, "schQ")
    archived = Roster(
        (*background.archived.students, canary_child(synced=False)),
        background.archived.staff,
    )
    synced = Roster(
        (*background.synced.students, canary_child(synced=True)),
        (*background.synced.staff, staff),
    )
    return archived, synced


@pytest.fixture(scope="module")
def keep_plan(canary_rosters: tuple[Roster, Roster]) -> MergePlan:
    return build_plan(*canary_rosters, attrs.evolve(FAST, unmatched_old_guardians="review"))


@pytest.fixture(scope="module")
def remove_plan(canary_rosters: tuple[Roster, Roster]) -> MergePlan:
    return build_plan(*canary_rosters, attrs.evolve(FAST, guardian_policy="remove_old"))


class TestPlannerIntegration:
    """build_plan fills guardian merges, actions and multiple-role users."""

    def test_keep_old_plan_has_the_canary_decisions(self, keep_plan: MergePlan) -> None:
        """The canary mother is merged, the father reviewed, the staff-parent linked."""
        assert ("xa1", "xs1", "auto") in [
            (m.archived_id, m.synced_id, m.decision) for m in keep_plan.merges
        ]
        assert ("gq-a", "gq-s", "auto") in [
            (g.archived_guardian_id, g.synced_guardian_id, g.decision)
            for g in keep_plan.guardian_merges
        ]
        assert ("review", "gq-a2", "xa1") in triples(keep_plan.guardian_actions)
        assert {a.action for a in keep_plan.guardian_actions} == {"review"}
        [link] = [r for r in keep_plan.role_links if r.first_id == "tq-1"]
        assert (link.second_id, link.verdict, link.action) == ("gq-s", "same_person", "keep_apart")
        assert "phone" in link.differs
        for g in keep_plan.guardian_merges:
            check_guardian_merge(g)
        merged = {(m.archived_id, m.synced_id) for m in keep_plan.merges}
        assert all(set(g.students) <= merged for g in keep_plan.guardian_merges)

    def test_remove_old_plan_detaches_instead_of_merging(
        self, remove_plan: MergePlan, canary_rosters: tuple[Roster, Roster]
    ) -> None:
        """remove_old: no guardian merges, one detach per old guardian link of merged students."""
        assert remove_plan.guardian_merges == ()
        assert {a.action for a in remove_plan.guardian_actions} == {"detach"}
        merged = {m.archived_id for m in remove_plan.merges}
        expected = {
            (c.guardian_id, s.id)
            for s in canary_rosters[0].students
            if s.id in merged
            for c in s.contacts
        }
        got = [(a.guardian_id, a.student_id) for a in remove_plan.guardian_actions]
        assert len(got) == len(set(got))
        assert set(got) == expected
        assert {("gq-a", "xa1"), ("gq-a2", "xa1")} <= expected
        assert remove_plan.to_dict()["summary"]["guardian_merges"] == 0

    @pytest.mark.parametrize("which", ["keep", "remove"])
    def test_plan_round_trip_keeps_adult_sections(
        self, which: str, keep_plan: MergePlan, remove_plan: MergePlan, tmp_path: Path
    ) -> None:
        """Guardian merges, guardian actions and multiple-role users survive write and read."""
        plan = keep_plan if which == "keep" else remove_plan
        assert plan.guardian_actions
        assert plan.role_links
        path = tmp_path / "plan.json"
        plan.write(path)
        read = MergePlan.read(path)
        assert read.guardian_merges == plan.guardian_merges
        assert read.guardian_actions == plan.guardian_actions
        assert read.role_links == plan.role_links
        assert read == plan
        data = json.loads(path.read_text(encoding="utf-8"))
        assert len(data["guardian_merges"]) == len(plan.guardian_merges)
        assert len(data["guardian_actions"]) == len(plan.guardian_actions)
        assert len(data["multiple_role_users"]) == len(plan.role_links)
        assert data["summary"]["multiple_role_users"] == len(plan.role_links)

    def test_plan_json_holds_ids_only(self, keep_plan: MergePlan, remove_plan: MergePlan) -> None:
        """No guardian or staff name, email or phone reaches the plan JSON."""
        for plan in (keep_plan, remove_plan):
            text = plan.to_json().lower()
            for canary in CANARIES:
                assert canary.lower() not in text, f"leaked {canary!r}"
            assert "gq-a" in text  # the canary guardians are there, by id


# --- quality guard -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2])
def quality(request: pytest.FixtureRequest) -> tuple[SyntheticDistrict, MergePlan]:
    district = generate_district(1500, seed=request.param)
    return district, build_plan(district.archived, district.synced)


class TestQuality:
    """Guardian merges and multiple-role links against the generator's truth."""

    def test_guardian_auto_merges(self, quality: tuple[SyntheticDistrict, MergePlan]) -> None:
        """Auto guardian merges: precision >= 0.995, recall >= 0.94 of the reachable truth."""
        d, plan = quality
        truth = {(a, s) for a, s in d.guardian_truth.items() if s}
        reachable = d.reachable_guardian_pairs(plan.merges)
        auto = {
            (g.archived_guardian_id, g.synced_guardian_id)
            for g in plan.guardian_merges
            if g.decision == "auto"
        }
        assert len(reachable) > 500
        assert len(auto & truth) / len(auto) >= 0.995
        assert len(auto & reachable) / len(reachable) >= 0.94

    def test_guardian_merges_are_one_to_one(
        self, quality: tuple[SyntheticDistrict, MergePlan]
    ) -> None:
        """No old or new account appears in two guardian merges; invariants hold throughout."""
        _, plan = quality
        olds = Counter(g.archived_guardian_id for g in plan.guardian_merges)
        news = Counter(g.synced_guardian_id for g in plan.guardian_merges)
        assert max(olds.values()) == 1
        assert max(news.values()) == 1
        for g in plan.guardian_merges:
            check_guardian_merge(g)

    @pytest.mark.parametrize(
        ("side", "prefixes"), [("archived", ("ta", "ga")), ("synced", ("ts", "gs"))]
    )
    def test_staff_guardian_links(
        self, quality: tuple[SyntheticDistrict, MergePlan], side: str, prefixes: tuple[str, str]
    ) -> None:
        """same_person staff-guardian links: precision >= 0.99, recall >= 0.95 on each side."""
        d, _ = quality
        roster = d.archived if side == "archived" else d.synced
        truth = {
            (s, g)
            for s, g in d.staff_guardian_truth
            if s.startswith(prefixes[0]) and g.startswith(prefixes[1])
        }
        found = {
            (link.first_id, link.second_id)
            for link in find_multiple_roles(roster)
            if link.kind == "staff_guardian" and link.verdict == "same_person"
        }
        assert truth
        assert len(found & truth) / max(len(found), 1) >= 0.99
        assert len(found & truth) / len(truth) >= 0.95

    @pytest.mark.parametrize("policy", ["keep_old", "remove_old"])
    def test_planner_columns_give_the_public_results(
        self, quality: tuple[SyntheticDistrict, MergePlan], policy: Any
    ) -> None:
        """The planner's one-pass column path equals the public functions, on a district."""
        d, plan = quality
        settings = Settings(guardian_policy=policy, unmatched_old_guardians="review")
        found, folds, actions, synced = _plan_guardians(d.archived, d.synced, plan.merges, settings)
        expected, expected_folds = (
            match_guardians_with_folds(d.archived, d.synced, plan.merges)
            if policy == "keep_old"
            else ([], [])
        )
        accounts = (guardian_accounts(d.archived), guardian_accounts(d.synced))
        assert (expected, expected_folds) == (found, folds)
        assert expected == (
            match_guardians(d.archived, d.synced, plan.merges, accounts=accounts)
            if policy == "keep_old"
            else []
        )
        assert expected_folds == (
            match_guardians_with_folds(d.archived, d.synced, plan.merges, accounts=accounts)[1]
            if policy == "keep_old"
            else []
        )
        if policy == "keep_old":
            assert folds  # the district has adults with two old accounts
        matched = [*expected, *expected_folds]
        assert (
            guardian_actions(d.archived, plan.merges, matched, policy=policy, unmatched="review")
            == actions
        )
        assert (
            guardian_actions(
                d.archived,
                plan.merges,
                matched,
                policy=policy,
                unmatched="review",
                accounts=accounts[0],
            )
            == actions
        )
        assert find_multiple_roles(d.synced) == _find_roles(d.synced, synced)
        assert accounts[1] == synced.accounts()
