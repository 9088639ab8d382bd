"""Guardian account patterns of real districts, each a hand-written roster with its decision.

Teachers type old accounts with what they have: a parent's email or phone,
often no name, the child's surname for a mother whose own is another.
Parents change email provider and phone. Households share an email or a
home phone. Each class below is one pattern; the safety classes check that
the rules that recover the first kinds never merge two different adults.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest
from conftest import DOB, make_student
from guardian_support import guardian as adult
from guardian_support import kid, merge

from merge_engine import Roster, Settings, Student, build_plan
from merge_engine.accounts._guardians import (
    GuardianMerge,
    compare_guardians,
    guardian_accounts,
    match_guardians,
)
from merge_engine.exceptions import SettingsError
from merge_engine.model import Contact
from merge_engine.plan import Merge
from merge_engine.testing.synthetic import SyntheticDistrict

HOME = "(212) 555-0147"
CELL = "(646) 555-0100"
FAMILY_EMAIL = "quix.family@example.org"


def decisions(
    archived: Sequence[Student],
    synced: Sequence[Student],
    merges: Sequence[Merge],
    settings: Settings | None = None,
) -> dict[tuple[str, str], str]:
    found = match_guardians(Roster(archived), Roster(synced), merges, settings=settings)
    return {(g.archived_guardian_id, g.synced_guardian_id): g.decision for g in found}


def on_one_child(
    old: Sequence[Contact], new: Sequence[Contact], *, child: str = "Quix", decision: str = "auto"
) -> dict[tuple[str, str], str]:
    """Decisions for old and new accounts listed on one merged child a1 -> s1."""
    return decisions(
        [kid("a1", *old, last=child)], [kid("s1", *new, last=child)], [merge("a1", "s1", decision)]
    )


class TestChangedContacts:
    """The same adult with a new email provider or phone."""

    def test_changed_email_same_name_and_phone_is_auto(self) -> None:
        old = adult("ga1", "Maria", email="maria.quix@yahoo.com", phone=HOME)
        new = adult("gs1", "Maria", email="maria.quix@gmail.com", phone=HOME, rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}

    def test_changed_email_same_name_and_role_no_phone_is_auto_on_a_sure_child(self) -> None:
        """Nothing shared but the full name and role: auto only when the children surely match."""
        old = adult("ga1", "Maria", email="maria.quix@yahoo.com", rel="mother")
        new = adult("gs1", "Maria", email="mquix@gmail.com", phone=CELL, rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}
        assert on_one_child([old], [new], decision="review") == {("ga1", "gs1"): "review"}

    def test_staff_parent_with_the_district_email_is_auto(self) -> None:
        """A teacher who is a parent: the SIS lists the work address, the phone is the same."""
        old = adult("ga1", "Pat", email="pat.quix@gmail.com", phone=CELL)
        new = adult("gs1", "Pat", email="pquix@district.k12.example.org", phone=CELL, rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}

    def test_reformatted_phone_is_the_same_phone(self) -> None:
        old = adult("ga1", None, None, phone="+1 212 555 0147", rel="father")
        new = adult("gs1", "John", phone="212.555.0147", rel="Father")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}


class TestUnnamedOldAccounts:
    """Old accounts a teacher typed with only an email or only a phone."""

    @pytest.mark.parametrize(
        "email", ["paula5278@icloud.com", "paula.quix@gmail.com", "pquix@comcast.net",
                  "quixp77@yahoo.com", "paulaquix@aol.com"],
    )  # fmt: skip
    def test_email_only_account_whose_address_spells_the_adult_is_auto(self, email: str) -> None:
        old = adult("ga1", None, None, email=email)
        new = adult("gs1", "Paula", email=email, phone=CELL, rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}
        levels = compare_guardians(
            guardian_accounts(Roster([kid("a1", old)]))["ga1"],
            guardian_accounts(Roster([kid("s1", new)]))["gs1"],
        )
        assert levels["first_name"] == "in_email"

    def test_email_only_account_with_a_family_address_is_review(self) -> None:
        """quix.family@ names nobody: without a role it could be either parent."""
        old = adult("ga1", None, None, email=FAMILY_EMAIL)
        new = adult("gs1", "Paula", email=FAMILY_EMAIL, rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "review"}

    def test_phone_only_account_with_the_same_role_is_auto(self) -> None:
        old = adult("ga1", None, None, phone=HOME, rel="Mother")
        new = adult("gs1", "Paula", email="paula@example.org", phone=HOME, rel="mother")
        other = adult("gs2", "John", email="john@example.org", phone=CELL, rel="father")
        assert on_one_child([old], [new, other]) == {("ga1", "gs1"): "auto"}

    def test_phone_only_account_without_a_role_is_review(self) -> None:
        """A number and nothing else: the home phone of either parent."""
        old = adult("ga1", None, None, phone=HOME)
        new = adult("gs1", "Paula", phone=HOME, rel="mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "review"}

    def test_surname_only_account_with_the_childs_surname_is_auto(self) -> None:
        """ "Mrs. Quix" typed for the mother Paula Lee, with her email and role."""
        old = adult("ga1", None, "Quix", email="paula.lee@example.org", rel="mother")
        new = adult("gs1", "Paula", "Lee", email="paula.lee@example.org", rel="Mother")
        assert on_one_child([old], [new]) == {("ga1", "gs1"): "auto"}


class TestChildsSurname:
    """A mother typed under the child's surname while her own is another."""

    @pytest.mark.parametrize("shared", [{"email": "lan.tran@gmail.com"}, {"phone": HOME}])
    def test_childs_surname_with_the_given_name_and_a_contact_is_auto(
        self, shared: dict[str, str]
    ) -> None:
        old = adult("ga1", "Lan", "Lam", **shared)
        new = adult("gs1", "Lan", "Tran", rel="Mother", **shared)
        assert on_one_child([old], [new], child="Lam") == {("ga1", "gs1"): "auto"}

    def test_another_surname_than_the_childs_is_review(self) -> None:
        old = adult("ga1", "Lan", "Moss", email="lt1980@gmail.com")
        new = adult("gs1", "Lan", "Tran", email="lt1980@gmail.com", rel="Mother")
        assert on_one_child([old], [new], child="Lam") == {("ga1", "gs1"): "review"}

    def test_another_surname_with_a_shared_email_that_spells_the_new_name_is_auto(self) -> None:
        """Lan Moss on the old account, Lan Tran on the sync, both at lan.tran@: her address."""
        old = adult("ga1", "Lan", "Moss", email="lan.tran@gmail.com")
        new = adult("gs1", "Lan", "Tran", email="lan.tran@gmail.com", rel="Mother")
        assert on_one_child([old], [new], child="Lam") == {("ga1", "gs1"): "auto"}
        # The address is hers only with her given name: Kim at lan.tran@ is another adult.
        other = adult("ga1", "Kim", "Moss", email="lan.tran@gmail.com")
        assert on_one_child([other], [new], child="Lam") != {("ga1", "gs1"): "auto"}
        # Nor with a role that says another adult.
        aunt = adult("ga1", "Lan", "Moss", email="lan.tran@gmail.com", rel="grandmother")
        assert on_one_child([aunt], [new], child="Lam") == {("ga1", "gs1"): "review"}


class TestHouseholdSafety:
    """Two adults of one household sharing a phone or an email are never merged into each other."""

    def test_mother_and_father_sharing_everything_each_find_their_own(self) -> None:
        old = [
            adult("ga1", None, None, email=FAMILY_EMAIL, phone=HOME, rel="mother"),
            adult("ga2", "John", email=FAMILY_EMAIL, phone=HOME, rel="father"),
        ]
        new = [
            adult("gs1", "John", email=FAMILY_EMAIL, phone=HOME, rel="Father"),
            adult("gs2", "Mary", email=FAMILY_EMAIL, phone=HOME, rel="Mother"),
        ]
        found = on_one_child(old, new)
        assert ("ga1", "gs1") not in found
        assert ("ga2", "gs2") not in found
        assert found.get(("ga2", "gs1")) == "auto"

    def test_address_spelling_one_spouse_but_held_by_both_is_not_auto(self) -> None:
        """Antonio's old account typed with monica.flores@, which both use: not Monica's."""
        email = "monica.flores@icloud.com"
        old = adult("ga1", None, None, email=email, phone=HOME, rel="parent")
        new = [
            adult("gs1", "Monica", "Flores", email=email, phone=HOME, rel="mother"),
            adult("gs2", "Antonio", "Flores", email=email, phone=HOME, rel="father"),
        ]
        assert "auto" not in on_one_child([old], new).values()

    def test_spouses_address_with_the_other_spouses_phone_is_review(self) -> None:
        """The email spells Yuko, the phone is Nicholas's: the contacts disagree, so review."""
        old = adult("ga1", None, None, email="choiy@outlook.com", phone=HOME)
        new = [
            adult("gs1", "Yuko", "Choi", email="choiy@outlook.com", phone=CELL, rel="mother"),
            adult("gs2", "Nicholas", "Choi", phone=HOME, rel="father"),
        ]
        assert "auto" not in on_one_child([old], new).values()

    def test_unnamed_father_is_never_merged_into_the_mother(self) -> None:
        old = adult("ga1", None, None, email="paula.quix@gmail.com", phone=HOME, rel="father")
        new = adult("gs1", "Paula", email="paula.quix@gmail.com", phone=HOME, rel="mother")
        assert on_one_child([old], [new]).get(("ga1", "gs1")) != "auto"

    def test_two_mothers_sharing_a_home_phone_are_review(self) -> None:
        old = adult("ga1", None, None, phone=HOME, rel="mother")
        new = [
            adult("gs1", "Ann", phone=HOME, rel="mother"),
            adult("gs2", "Beth", "Moss", phone=HOME, rel="mother"),
        ]
        assert "auto" not in on_one_child([old], new).values()

    def test_paula_is_not_paul_as_a_spouses_address(self) -> None:
        """paula5@ spells "Paul A." too, but Paula is a given name of the district."""
        old = adult("ga1", None, None, email="paula5@example.org", phone=HOME)
        new = adult("gs1", "Paul", "Anderson", email="paula5@example.org", phone=HOME)
        elsewhere = kid("x1", adult("gx1", "Paula", "Moss", rel="mother"))
        found = decisions([kid("a1", old), elsewhere], [kid("s1", new)], [merge("a1", "s1")])
        assert found == {("ga1", "gs1"): "review"}
        alone = decisions([kid("a1", old)], [kid("s1", new)], [merge("a1", "s1")])
        assert alone == {("ga1", "gs1"): "auto"}  # no Paula in the district: paulA is Paul A.


class TestAcrossTheDistrict:
    """A parent whose old account met no merged child: the older child left, a sibling joined."""

    def test_same_full_name_and_email_is_auto_with_no_students(self) -> None:
        old = adult("ga1", "Maria", "Quix", email="maria.quix@gmail.com", rel="mother")
        new = adult("gs1", "Maria", "Quix", email="maria.quix@gmail.com", rel="Mother")
        found = match_guardians(
            Roster([kid("a1", old), kid("a2")]),
            Roster([kid("s1", new), kid("s2")]),
            [merge("a2", "s2")],
        )
        [g] = found
        assert (g.archived_guardian_id, g.synced_guardian_id, g.decision) == ("ga1", "gs1", "auto")
        assert g.students == ()
        assert ("children", "none_merged") in {(e.comparison, e.level) for e in g.evidence}

    def test_nickname_across_the_district_is_review(self) -> None:
        old = adult("ga1", "Bill", "Quix", phone=HOME)
        new = adult("gs1", "William", "Quix", phone=HOME, rel="father")
        [g] = match_guardians(Roster([kid("a1", old)]), Roster([kid("s1", new)]), [])
        assert g.decision == "review"
        assert any("met on no merged student" in r for r in g.reasons)

    def test_two_candidates_across_the_district_give_nothing(self) -> None:
        """Maria Quix the mother and Maria Quix the grandmother share a home phone."""
        old = adult("ga1", "Maria", "Quix", phone=HOME)
        new = [adult("gs1", "Maria", "Quix", phone=HOME), adult("gs2", "Maria", "Quix", phone=HOME)]
        assert match_guardians(Roster([kid("a1", old)]), Roster([kid("s1", *new)]), []) == []

    def test_another_given_name_across_the_district_gives_nothing(self) -> None:
        old = adult("ga1", "Mary", "Quix", email=FAMILY_EMAIL, phone=HOME)
        new = adult("gs1", "John", "Quix", email=FAMILY_EMAIL, phone=HOME)
        assert match_guardians(Roster([kid("a1", old)]), Roster([kid("s1", new)]), []) == []


class TestSettingsReachTheMatcher:
    """Every number of the guardian matcher comes from Settings."""

    OLD = adult("ga1", "Pat", email="pat@example.org", rel="mother")
    NEW = adult("gs1", "Pat", email="pat@example.org", rel="Mother")

    def test_bits_table(self) -> None:
        assert on_one_child([self.OLD], [self.NEW]) == {("ga1", "gs1"): "auto"}
        weak = Settings(
            guardian_bits={
                "first_name": {"exact": 0.0},
                "last_name": {"exact": 0.0},
                "email": {"exact": 0.5},
                "relationship": {"same_role": 0.0},
            }
        )
        found = decisions([kid("a1", self.OLD)], [kid("s1", self.NEW)], [merge("a1", "s1")], weak)
        assert found == {("ga1", "gs1"): "review"}

    def test_margin(self) -> None:
        """Two sync accounts of one adult: a margin of 0 lets the better one through."""
        newer = adult("gs2", "Pat", phone=HOME, rel="Mother")
        args = ([kid("a1", self.OLD)], [kid("s1", self.NEW, newer)], [merge("a1", "s1")])
        assert decisions(*args, Settings(guardian_margin_bits=60.0)) == {("ga1", "gs1"): "review"}
        assert decisions(*args, Settings(guardian_margin_bits=0.0)) == {("ga1", "gs1"): "auto"}

    def test_close_threshold(self) -> None:
        old = adult("ga1", "Jennifer", email="jq@example.org", rel="mother")
        new = adult("gs1", "Jenifer", email="jq@example.org", rel="mother")
        args = ([kid("a1", old)], [kid("s1", new)], [merge("a1", "s1")])
        assert decisions(*args, Settings()) == {("ga1", "gs1"): "auto"}
        strict = decisions(*args, Settings(guardian_close_threshold=0.99))
        assert "auto" not in strict.values()  # Jenifer is now another name: capped away

    def test_name_conflict_cap(self) -> None:
        """Mary and John sharing everything: capped out of the plan, or into review."""
        old = adult("ga1", "Mary", email=FAMILY_EMAIL, phone=HOME)
        new = adult("gs1", "John", email=FAMILY_EMAIL, phone=HOME)
        args = ([kid("a1", old)], [kid("s1", new)], [merge("a1", "s1")])
        assert decisions(*args, Settings()) == {}
        loose = Settings(guardian_name_conflict_max_probability=0.5)
        assert decisions(*args, loose) == {("ga1", "gs1"): "review"}

    @pytest.mark.parametrize(
        "bits",
        [{"first": {"exact": 1}}, {"email": {"close": 1}}, {"email": {"exact": "x"}},
         {"email": {"exact": float("inf")}}, {"email": 3}],
    )  # fmt: skip
    def test_bad_bits_are_a_settings_error(self, bits: object) -> None:
        with pytest.raises(SettingsError, match="guardian_bits"):
            Settings(guardian_bits=bits)  # type: ignore[arg-type]

    def test_bits_round_trip_through_the_plan_settings(self) -> None:
        custom = Settings(guardian_bits={"phone": {"exact": 3.0}})
        again = Settings.from_mapping(custom.to_dict())
        assert again == custom
        assert again.guardian_bits_table()["phone"]["exact"] == 3.0
        assert again.guardian_bits_table()["email"]["exact"] == 6.0


# --- a district outside North America, end to end --------------------------------------------

NON_US = {
    "GB": ("07700 900123", "+44 7700 900123"),
    "MX": ("55 1234 5678", "+52 55 1234 5678"),
}


def family(region: str, synced: bool) -> Student:
    """A child whose mother was typed on the old platform by her local phone number alone."""
    local, international = NON_US[region]
    mother = (
        adult(
            "gn-s1", "Ana", "Ruiz", email="ana.ruiz@example.org", phone=international, rel="Mother"
        )
        if synced
        else adult("gn-a1", None, None, phone=local, rel="mother")
    )
    return make_student(
        "ns1" if synced else "na1",
        "Valentina",
        "Ruiz",
        dob=DOB,
        grade=5 if synced else 4,
        gender="F",
        school_id="schN",
        contacts=[mother],
    )


@pytest.mark.parametrize("region", sorted(NON_US))
def test_non_us_district_merges_guardians_only_with_its_phone_region(
    region: str, background: SyntheticDistrict
) -> None:
    """Local numbers (07700 900123, 55 1234 5678) are the sync's +44 / +52 numbers only when
    read in the district's region: then the mother's phone-only old account merges."""
    archived = Roster((*background.archived.students, family(region, False)))
    synced = Roster((*background.synced.students, family(region, True)))
    results = {}
    for name, settings in (("local", Settings(phone_region=region)), ("us", Settings())):
        plan = build_plan(archived, synced, settings)
        assert any(m.archived_id == "na1" and m.synced_id == "ns1" for m in plan.merges)
        found = {(g.archived_guardian_id, g.synced_guardian_id): g for g in plan.guardian_merges}
        results[name] = found.get(("gn-a1", "gn-s1"))
    local, us = results["local"], results["us"]
    assert local is not None and local.decision == "auto"
    assert ("phone", "exact") in {(e.comparison, e.level) for e in local.evidence}
    assert us is None or us.decision == "review"
    if us is not None:
        assert ("phone", "exact") not in {(e.comparison, e.level) for e in us.evidence}


def test_guardian_accounts_read_phones_in_the_region() -> None:
    roster = Roster([kid("a1", adult("g1", "Ana", phone="07700 900123"))])
    assert guardian_accounts(roster, "GB")["g1"].phone == "+447700900123"
    assert guardian_accounts(roster)["g1"].phone != "+447700900123"


def test_guardian_merge_of_a_non_us_plan_is_a_plain_value() -> None:
    """Guardian merges stay plain values whatever the region (a to_dict round trip)."""
    old, new = family("GB", False), family("GB", True)
    [g] = match_guardians(
        Roster([old]), Roster([new]), [merge("na1", "ns1")], settings=Settings(phone_region="GB")
    )
    assert GuardianMerge.from_dict(g.to_dict()) == g
    assert attrs.asdict(g)["decision"] == "auto"
