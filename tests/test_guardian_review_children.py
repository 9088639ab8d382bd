"""Guardian pairs met only on student merges in review, and the evidence that still names the adult.

A student merge in review (names and school alone) may pair two different
children, so a guardian pair met on it is identified by a shared contact,
not by a full name, unless something else says who the adult is: a full name
rare in the district and carried by no other account of either side, or a
co-guardian of the same children identified by a shared contact and full
name (the children are one household's). Each test is a hand-written roster
with its decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardian_support import guardian as adult
from guardian_support import kid
from guardian_support import merge as child_merge

from merge_engine import Roster
from merge_engine.accounts._guardians import match_guardians
from merge_engine.model import Contact, Student
from merge_engine.plan import Merge

CELL = "(646) 555-0100"
OTHER_CELL = "(917) 555-0199"


def merge(archived_id: str, synced_id: str, decision: str = "review") -> Merge:
    return child_merge(archived_id, synced_id, decision)  # type: ignore[arg-type]


# Other families of the district, each with its own adult on both sides (full names all
# different): 12 given names times 12 surnames, enough accounts (about 150 a side) for a
# name carried once to be rare (see UNIQUE_NAME_SHARE).
_GIVEN = (
    "Ana",
    "Ben",
    "Carla",
    "Dev",
    "Eve",
    "Farid",
    "Gina",
    "Hugo",
    "Ines",
    "Jon",
    "Kofi",
    "Lea",
)
_SURNAMES = ("Lopez", "Okafor", "Ng", "Patel", "Stone", "Haddad", "Rossi", "Berg", "Ito", "Kerr")
_NEIGHBOURS = [(first, last) for first in _GIVEN for last in (*_SURNAMES, "Moss", "Vega")]


def neighbours(side: str) -> list[Student]:
    return [
        kid(f"{side}{k}", adult(f"n{side}{k}", first, last, phone=f"(212) 556-{k:04d}"), last=last)
        for k, (first, last) in enumerate(_NEIGHBOURS, start=10)
    ]


def decided(
    old: Sequence[Contact],
    new: Sequence[Contact],
    *,
    decision: str = "review",
    district: bool = True,
    more: tuple[Sequence[Student], Sequence[Student]] = ((), ()),
) -> dict[tuple[str, str], str]:
    """Decisions for the accounts of one child a1 -> s1 (its merge ``decision``), in a district
    of other families (``district``) and ``more`` students on each side."""
    archived = [kid("a1", *old), *more[0], *(neighbours("a") if district else [])]
    synced = [kid("s1", *new), *more[1], *(neighbours("s") if district else [])]
    merges = [merge("a1", "s1", decision)]
    if district:
        merges += [merge(f"a{k}", f"s{k}", "auto") for k in range(10, 10 + len(_NEIGHBOURS))]
    found = match_guardians(Roster(archived), Roster(synced), merges)
    return {
        (g.archived_guardian_id, g.synced_guardian_id): g.decision
        for g in found
        if g.archived_guardian_id in ("ga1", "ga2")
    }


class TestRareUniqueFullName:
    """A parent who changed email, on a child whose merge is in review."""

    def test_a_rare_full_name_nobody_else_carries_is_auto(self) -> None:
        old = adult("ga1", "Sylvia", email="sylvia88@gmail.com", rel="mother")
        new = adult("gs1", "Sylvia", email="squix94@yahoo.com", phone=CELL, rel="Mother")
        assert decided([old], [new]) == {("ga1", "gs1"): "auto"}

    def test_in_a_roster_of_one_family_every_name_is_unique_and_none_is_rare(self) -> None:
        old = adult("ga1", "Sylvia", email="sylvia88@gmail.com", rel="mother")
        new = adult("gs1", "Sylvia", email="squix94@yahoo.com", phone=CELL, rel="Mother")
        assert decided([old], [new], district=False) == {("ga1", "gs1"): "review"}

    def test_a_namesake_elsewhere_in_the_district_keeps_it_in_review(self) -> None:
        """Another Sylvia Quix on the sync side: the name no longer names one adult."""
        old = adult("ga1", "Sylvia", email="sylvia88@gmail.com", rel="mother")
        new = adult("gs1", "Sylvia", email="squix94@yahoo.com", phone=CELL, rel="Mother")
        namesake = kid("s9", adult("gs9", "Sylvia", phone=OTHER_CELL, rel="Mother"))
        assert decided([old], [new], more=([], [namesake])) == {("ga1", "gs1"): "review"}

    def test_conflicting_roles_keep_it_in_review(self) -> None:
        old = adult("ga1", "Sylvia", email="sylvia88@gmail.com", rel="grandmother")
        new = adult("gs1", "Sylvia", email="squix94@yahoo.com", phone=CELL, rel="Mother")
        assert decided([old], [new]) == {("ga1", "gs1"): "review"}

    def test_every_contact_changed_on_a_sure_child_is_auto_when_the_name_is_rare(self) -> None:
        """Both email and phone changed, no role on the old account: a rare unique name."""
        old = adult("ga1", "Cynthia", email="cq4024@outlook.com", phone=OTHER_CELL)
        new = adult("gs1", "Cynthia", email="cynthia_quix@gmail.com", phone=CELL, rel="Mother")
        assert decided([old], [new], decision="auto") == {("ga1", "gs1"): "auto"}
        assert decided([old], [new], decision="auto", district=False) == {("ga1", "gs1"): "review"}


class TestUnnamedAccountOnAReviewChild:
    """An old account typed with only an email that spells the adult's name."""

    def test_email_spelling_a_rare_unique_name_is_auto(self) -> None:
        old = adult("ga1", None, None, email="marjoriequix91@yahoo.com", rel="mother")
        new = adult("gs1", "Marjorie", email="mquix@gmail.com", phone=CELL, rel="Mother")
        assert decided([old], [new]) == {("ga1", "gs1"): "auto"}
        assert decided([old], [new], district=False) == {("ga1", "gs1"): "review"}

    def test_an_old_account_that_carries_the_name_keeps_it_in_review(self) -> None:
        """A named Marjorie Quix on the old side may be the adult: the email is not enough."""
        old = adult("ga1", None, None, email="marjoriequix91@yahoo.com", rel="mother")
        new = adult("gs1", "Marjorie", email="mquix@gmail.com", phone=CELL, rel="Mother")
        named = kid("a9", adult("ga9", "Marjorie", phone=OTHER_CELL, rel="mother"))
        assert decided([old], [new], more=([named], []))[("ga1", "gs1")] == "review"


class TestHouseholdConfirmed:
    """A co-guardian identified by a shared contact says the children are one household's."""

    def test_same_full_name_with_a_confirming_father_is_auto(self) -> None:
        """A common name (other Marias in the district), the father shares a phone: auto."""
        mother_old = adult("ga1", "Maria", email="maria88@gmail.com", rel="mother")
        mother_new = adult("gs1", "Maria", email="mquix@yahoo.com", rel="Mother")
        father_old = adult("ga2", "John", phone=CELL, rel="father")
        father_new = adult("gs2", "John", phone=CELL, rel="Father")
        marias = (
            [kid("a8", adult("ga8", "Maria", "Quix", phone="(212) 555-0180"))],
            [kid("s8", adult("gs8", "Maria", "Quix", phone="(212) 555-0180"))],
        )
        alone = decided([mother_old], [mother_new], more=marias)
        assert alone == {("ga1", "gs1"): "review"}  # a common name on a review child
        both = decided([mother_old, father_old], [mother_new, father_new], more=marias)
        assert both == {("ga1", "gs1"): "auto", ("ga2", "gs2"): "auto"}

    def test_a_father_who_shares_only_the_phone_without_his_name_confirms_nothing(self) -> None:
        mother_old = adult("ga1", "Maria", email="maria88@gmail.com", rel="mother")
        mother_new = adult("gs1", "Maria", email="mquix@yahoo.com", rel="Mother")
        father_old = adult("ga2", None, None, phone=CELL, rel="father")
        father_new = adult("gs2", "John", phone=CELL, rel="Father")
        marias = (
            [kid("a8", adult("ga8", "Maria", "Quix", phone="(212) 555-0180"))],
            [kid("s8", adult("gs8", "Maria", "Quix", phone="(212) 555-0180"))],
        )
        found = decided([mother_old, father_old], [mother_new, father_new], more=marias)
        assert found[("ga1", "gs1")] == "review"


class TestOwnEmailSpellsTheNewSurname:
    """Melanie Michael on the old account, her address melanie_head@; Melanie Head on the sync."""

    def test_a_rare_unique_name_spelled_by_her_own_address_is_auto(self) -> None:
        old = adult("ga1", "Melanie", "Michael", email="melanie_quix@gmail.com", rel="mother")
        new = adult("gs1", "Melanie", "Quix", email="mquix50@yahoo.com", phone=CELL, rel="Mother")
        assert decided([old], [new]) == {("ga1", "gs1"): "auto"}
        assert decided([old], [new], district=False) == {("ga1", "gs1"): "review"}

    def test_an_old_account_with_the_new_name_keeps_it_in_review(self) -> None:
        old = adult("ga1", "Melanie", "Michael", email="melanie_quix@gmail.com", rel="mother")
        new = adult("gs1", "Melanie", "Quix", email="mquix50@yahoo.com", phone=CELL, rel="Mother")
        named = kid("a9", adult("ga9", "Melanie", "Quix", phone=OTHER_CELL, rel="mother"))
        assert decided([old], [new], more=([named], []))[("ga1", "gs1")] == "review"


def _grid_district(side: str, n_given: int, n_surnames: int) -> list[Student]:
    """A district of one-adult families whose full names are every given name with every
    surname (each a made-up word, so no name is a real one), but the first."""
    given = [
        a + b
        for a in ("Al", "Bo", "Ca", "Di", "Ed", "Fa", "Gu", "Ha", "Io", "Ju", "Ko", "Lu")
        for b in ("na", "ro", "li", "ta", "mo", "ve", "ka", "si", "du", "pe")
    ][:n_given]
    surnames = [
        a + b
        for a in ("Mar", "Tol", "Ves", "Kin", "Dor", "Pell", "Sun", "Ruh", "Obb", "Wen")
        for b in ("ard", "ley", "ston", "ick", "field", "ov", "berg", "ton", "ez", "ani")
    ]
    names = [(f, s) for f in given for s in surnames[:n_surnames]][1:]
    return [
        kid(
            f"{side}g{k}",
            adult(f"g{side}g{k}", f, s, phone=f"(3{k // 10000:02d}) 555-{k % 10000:04d}"),
            last=s,
        )
        for k, (f, s) in enumerate(names)
    ]


class TestRarityIsAShareNotACount:
    """Rarity does not depend on the size of the district (UNIQUE_NAME_SHARE).

    The first given name with the first surname of a grid district, carried
    by the one adult who changed email, on a child whose merge is in review.
    """

    def _decided(self, n_given: int, n_surnames: int) -> str:
        old = adult("ga1", "Alna", "Marard", email="alna88@gmail.com", rel="mother")
        new = adult("gs1", "Alna", "Marard", email="amarard@yahoo.com", phone=CELL, rel="Mother")
        archived = [kid("a1", old, last="Marard"), *_grid_district("a", n_given, n_surnames)]
        synced = [kid("s1", new, last="Marard"), *_grid_district("s", n_given, n_surnames)]
        found = match_guardians(Roster(archived), Roster(synced), [merge("a1", "s1")])
        return {g.archived_guardian_id: g.decision for g in found}["ga1"]

    def test_a_rare_name_in_a_large_district_is_auto_though_namesakes_are_expected(self) -> None:
        """12,000 accounts a side: 100 carry the given name and 120 the surname, so one
        namesake is expected somewhere in the district, but its share is 8e-5."""
        assert self._decided(120, 100) == "auto"

    def test_a_common_name_stays_in_review(self) -> None:
        """5,000 accounts a side: 100 carry the given name and 50 the surname, a share of 2e-4."""
        assert self._decided(50, 100) == "review"


class TestRareNameOnASureChild:
    """Both contacts changed and no role on the old account, on a child whose merge is auto.

    The adults who could be this one are those of the child's two records: a
    rare full name identifies the adult even when a namesake elsewhere in the
    district (another family's) carries it too.
    """

    def _decided(self, namesakes: int) -> str:
        old = adult("ga1", "Cynthia", email="cq4024@outlook.com", phone=OTHER_CELL)
        new = adult("gs1", "Cynthia", email="cynthia_quix@gmail.com", phone=CELL, rel="Mother")
        elsewhere = [
            kid(f"s9{k}", adult(f"gs9{k}", "Cynthia", phone=f"(718) 555-01{k:02d}"), school="sch2")
            for k in range(namesakes)
        ]
        archived = [kid("a1", old), *_grid_district("a", 40, 40)]
        synced = [kid("s1", new), *elsewhere, *_grid_district("s", 40, 40)]
        found = match_guardians(Roster(archived), Roster(synced), [merge("a1", "s1", "auto")])
        return {g.archived_guardian_id: g.decision for g in found}["ga1"]

    def test_a_rare_name_with_a_namesake_in_another_family_is_auto(self) -> None:
        """1,600 accounts a side; the sync's other Cynthia Quix is another child's mother."""
        assert self._decided(namesakes=1) == "auto"

    def test_a_name_common_in_the_district_stays_in_review(self) -> None:
        """Twenty other Cynthia Quixes on the sync side: the name's share is (21 / 1,620)
        squared, above 1e-4; a grandmother of the child may carry it."""
        assert self._decided(namesakes=20) == "review"

    def test_without_the_namesake_the_rule_before_applies(self) -> None:
        """No namesake: the name is rare and unique, auto as before (fact unique_name)."""
        assert self._decided(namesakes=0) == "auto"
