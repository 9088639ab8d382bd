"""Old accounts known by one detail: merged only when it names or singles out one adult.

Hand-written families: child a1 merged into s1, whose sync lists the mother
(gs1, Maria Quix) and the father (gs2), each with a phone and an email of
their own. The old account ga1 was typed by a teacher with a phone number
only, or an email only, or the child's surname. It is the mother's when her
number is nobody else's in the district and the father has another, when
its email spells her full name and no other adult's, or when its own
address spells her full name; in every other case it stays in review.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardian_support import HOME, guardian, kid, merge

from merge_engine import Roster
from merge_engine.accounts._guardians import match_guardians
from merge_engine.model import Contact
from merge_engine.plan import GuardianMerge, Merge

CELL = "(646) 555-0188"
MOTHER = guardian("gs1", "Maria", email="maria.quix@example.org", phone=HOME, rel="mother")
FATHER = guardian("gs2", "Jose", email="jose.quix@example.org", phone=CELL, rel="father")
PHONE_ONLY = guardian("ga1", None, None, phone=HOME)


def decide(
    old: Sequence[Contact],
    synced: Sequence[Contact] = (MOTHER, FATHER),
    more_archived: Sequence[Contact] = (),
    student_merge: Merge | None = None,
) -> GuardianMerge | None:
    """ga1's guardian merge (``more_archived``: contacts of another, unmerged archived child)."""
    archived = [kid("a1", *old)]
    if more_archived:
        archived.append(kid("a9", *more_archived))
    found = match_guardians(
        Roster(archived), Roster([kid("s1", *synced)]), [student_merge or merge("a1", "s1")]
    )
    return next((g for g in found if g.archived_guardian_id == "ga1"), None)


def levels(g: GuardianMerge) -> dict[str, str]:
    return {e.comparison: e.level for e in g.evidence}


def test_a_phone_only_account_is_the_adult_whose_number_it_is() -> None:
    g = decide([PHONE_ONLY])
    assert g is not None
    assert (g.synced_guardian_id, g.decision) == ("gs1", "auto")
    assert levels(g)["singled_out"] == "phone"
    assert levels(g)["first_name"] == "missing"


def test_the_other_parent_without_a_phone_could_own_the_number() -> None:
    father = guardian("gs2", "Jose", email="jose.quix@example.org", rel="father")
    g = decide([PHONE_ONLY], synced=(MOTHER, father))
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_a_home_phone_both_parents_list_singles_out_nobody() -> None:
    father = guardian("gs2", "Jose", email="jose.quix@example.org", phone=HOME, rel="father")
    g = decide([PHONE_ONLY], synced=(MOTHER, father))
    assert g is None or g.decision == "review"


def test_the_only_adult_the_sync_lists_is_not_singled_out() -> None:
    """The mother alone on the sync: the number may be the home phone of a parent who left."""
    g = decide([PHONE_ONLY], synced=(MOTHER,))
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_a_number_another_old_account_holds_is_a_households() -> None:
    """The father's own old account, on another child, was typed with the same number."""
    g = decide([PHONE_ONLY], more_archived=[guardian("ga2", "Jose", phone=HOME, rel="father")])
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_an_account_with_an_email_is_not_known_by_its_phone_alone() -> None:
    g = decide([guardian("ga1", None, None, email="jq1979@example.net", phone=HOME)])
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_a_role_that_contradicts_the_owner_of_the_number() -> None:
    g = decide([guardian("ga1", None, None, phone=HOME, rel="father")])
    assert g is None or g.decision == "review"


def test_on_a_child_whose_own_merge_is_in_review() -> None:
    unsure = Merge("a1", "s1", 0.9, "review", 3.0, None, [])
    g = decide([PHONE_ONLY], student_merge=unsure)
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "phone"  # the level holds; the rule wants a sure child


# --- an unnamed account whose email spells one adult's full name -------------------------

OLD_ADDRESS = "maria.quix@old.example"  # her address in the old system, since changed


def test_an_unnamed_account_whose_email_spells_her_full_name() -> None:
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS)])
    assert g is not None
    assert (g.synced_guardian_id, g.decision) == ("gs1", "auto")
    assert (levels(g)["first_name"], levels(g)["singled_out"]) == ("in_email", "email_name")
    assert levels(g)["email"] == "different"


def test_an_email_with_her_given_name_alone_is_not_enough() -> None:
    """maria1980@ may be another Maria's (a grandmother's, a friend's)."""
    g = decide([guardian("ga1", None, None, email="maria1980@old.example")])
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_an_email_that_could_name_two_adults_of_the_child() -> None:
    """mquix@ spells Maria Quix and Manuel Quix alike."""
    manuel = guardian("gs2", "Manuel", email="manuel.q@example.org", phone=CELL, rel="father")
    g = decide([guardian("ga1", None, None, email="mquix@old.example")], synced=(MOTHER, manuel))
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_an_unnamed_account_beside_another_holding_her_number() -> None:
    """The father's old account lists her phone: the family's details are in play, and an
    unnamed account stays in review (as with a shared contact)."""
    father = guardian("ga2", "Jose", email=FATHER.email, phone=HOME, rel="father")
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS), father])
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "email_name"


def test_a_household_sharing_her_address_may_have_typed_it_for_either() -> None:
    father = guardian("gs2", "Jose", email=MOTHER.email, phone=CELL, rel="father")
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS)], synced=(MOTHER, father))
    assert g is None or g.decision == "review"


def test_an_unnamed_account_with_another_phone() -> None:
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS, phone="(917) 555-0110")])
    assert g is not None and g.decision == "review"
    assert levels(g)["singled_out"] == "no"


def test_an_unnamed_account_sharing_the_fathers_phone() -> None:
    """Her name in the address, his number: whose account is it? (another account's contact)"""
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS, phone=CELL)])
    assert g is None or g.decision == "review"


def test_an_email_naming_her_on_a_child_whose_merge_is_in_review() -> None:
    unsure = Merge("a1", "s1", 0.9, "review", 3.0, None, [])
    g = decide([guardian("ga1", None, None, email=OLD_ADDRESS)], student_merge=unsure)
    assert g is not None and g.decision == "review"


# --- a surname the old account's own email spells ----------------------------------------


def test_a_teacher_typed_the_childs_surname_and_her_own_address_says_hers() -> None:
    """ "Maria Lopez" (the child's surname) with her old address maria.quix@: Maria Quix."""
    g = decide([guardian("ga1", "Maria", "Lopez", email=OLD_ADDRESS, rel="mother")])
    assert g is not None
    assert (g.synced_guardian_id, g.decision) == ("gs1", "auto")
    assert levels(g)["last_name"] == "in_email"


def test_an_address_spelling_another_surname_is_no_explanation() -> None:
    g = decide([guardian("ga1", "Maria", "Lopez", email="maria.lopez@old.example", rel="mother")])
    assert g is not None and g.decision == "review"
    assert levels(g)["last_name"] == "different"
