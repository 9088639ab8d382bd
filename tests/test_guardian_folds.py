"""An adult with two old accounts: the second is folded into the first, and never another adult's.

Hand-written families: siblings a1 and a2 merged into s1 and s2, whose sync
lists the mother (gs1) and the father (gs2). The old system knew the mother
twice (ga1, and ga2 made with a mistyped email) in the cases that fold;
in the others the two old accounts are two people of one household, who
share a family email, a home phone or a name.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardian_support import FAMILY_EMAIL, HOME, guardian, kid, merge

from merge_engine import Roster, Student
from merge_engine.accounts._guardians import match_guardians_with_folds
from merge_engine.model import Contact
from merge_engine.plan import GuardianFold, GuardianMerge

MARIA = {"email": "maria.quix@example.org", "phone": HOME, "rel": "mother"}
MISTYPED = {"email": "maria.qiux@example.org", "phone": HOME, "rel": "mother"}
JOSE = {"email": "jose.quix@example.org", "phone": "(646) 555-0188", "rel": "father"}


def family(old_1: Sequence[Contact], old_2: Sequence[Contact]) -> tuple[list[Student], ...]:
    """Siblings: a1 with ``old_1`` and a2 with ``old_2``; s1 and s2 with the sync's two parents."""
    synced = [guardian("gs1", "Maria", **MARIA), guardian("gs2", "Jose", **JOSE)]
    return (
        [kid("a1", *old_1), kid("a2", *old_2)],
        [kid("s1", *synced), kid("s2", *synced)],
    )


def decide(
    old_1: Sequence[Contact], old_2: Sequence[Contact]
) -> tuple[dict[str, tuple[str, str]], list[GuardianFold]]:
    """Each old account's guardian merge (sync account, decision), and the folds."""
    archived, synced = family(old_1, old_2)
    found, folds = match_guardians_with_folds(
        Roster(archived), Roster(synced), [merge("a1", "s1"), merge("a2", "s2")]
    )
    return by_old(found), folds


def by_old(found: Sequence[GuardianMerge]) -> dict[str, tuple[str, str]]:
    return {g.archived_guardian_id: (g.synced_guardian_id, g.decision) for g in found}


def fold_of(fold: GuardianFold) -> tuple[str, str, str, str]:
    return (fold.archived_guardian_id, fold.into_guardian_id, fold.synced_guardian_id,
            fold.decision)  # fmt: skip


class TestFolded:
    """Two old accounts that each identify the mother's sync account are her."""

    def test_a_second_login_with_a_mistyped_email_is_folded_into_the_first(self) -> None:
        merges, folds = decide(
            [guardian("ga1", "Maria", **MARIA)], [guardian("ga2", "Maria", **MISTYPED)]
        )
        assert merges == {"ga1": ("gs1", "auto")}  # the merge is no longer a tie in review
        assert [fold_of(f) for f in folds] == [("ga2", "ga1", "gs1", "auto")]
        assert folds[0].students == (("a2", "s2"),)
        assert {e.comparison: e.level for e in folds[0].evidence}["email"] == "different"

    def test_the_account_that_matches_best_is_kept(self) -> None:
        """The mistyped login on the first child: the correct one keeps the adult's history."""
        merges, folds = decide(
            [guardian("ga1", "Maria", **MISTYPED)], [guardian("ga2", "Maria", **MARIA)]
        )
        assert merges == {"ga2": ("gs1", "auto")}
        assert [fold_of(f) for f in folds] == [("ga1", "ga2", "gs1", "auto")]

    def test_an_unnamed_second_account_whose_email_spells_her_name(self) -> None:
        """The first login is typed by name (an old email), the second only with her email,
        which spells Maria Quix and is nobody else's."""
        first = guardian("ga1", "Maria", email="mq1980@example.net", rel="mother")
        second = guardian("ga2", None, None, email=MARIA["email"])
        merges, folds = decide([first], [second])
        # Her current address matches best: that account is kept, the named one joins it.
        assert merges == {"ga2": ("gs1", "auto")}
        assert [fold_of(f) for f in folds] == [("ga1", "ga2", "gs1", "auto")]
        kept = match_guardians_with_folds(
            Roster(family([first], [second])[0]),
            Roster(family([first], [second])[1]),
            [merge("a1", "s1"), merge("a2", "s2")],
        )[0][0]
        assert {e.comparison: e.level for e in kept.evidence}["first_name"] == "in_email"

    def test_three_old_accounts_of_one_adult_are_two_folds(self) -> None:
        archived, synced = family(
            [guardian("ga1", "Maria", **MARIA)], [guardian("ga2", "Maria", **MISTYPED)]
        )
        third = guardian("ga3", "Maria", email="mraia.quix@example.org", phone=HOME)
        archived.append(kid("a3", third))
        synced.append(kid("s3", *synced[0].contacts))
        merges = [merge("a1", "s1"), merge("a2", "s2"), merge("a3", "s3")]
        found, folds = match_guardians_with_folds(Roster(archived), Roster(synced), merges)
        assert by_old(found) == {"ga1": ("gs1", "auto")}
        assert [fold_of(f) for f in folds] == [
            ("ga2", "ga1", "gs1", "auto"),
            ("ga3", "ga1", "gs1", "auto"),
        ]


class TestNeverFolded:
    """Two old accounts of two adults of one household share details, never an identity."""

    def test_mother_and_father_sharing_the_family_email(self) -> None:
        """The father's old account carries the family email and no name or role."""
        shared = {"email": FAMILY_EMAIL}
        archived, synced = family(
            [guardian("ga1", "Maria", rel="mother", **shared)],
            [guardian("ga2", None, None, **shared)],
        )
        # The sync holds the family email on the mother's account only.
        synced = [
            kid(s.id, guardian("gs1", "Maria", rel="mother", **shared), *s.contacts[1:])
            for s in synced
        ]
        found, folds = match_guardians_with_folds(
            Roster(archived), Roster(synced), [merge("a1", "s1"), merge("a2", "s2")]
        )
        assert folds == []
        assert by_old(found)["ga1"] == ("gs1", "auto")
        assert by_old(found).get("ga2", ("", "review"))[1] == "review"

    def test_the_family_email_spelling_the_mothers_name(self) -> None:
        """maria.quix@ typed on the father's account too: an address two accounts hold
        names nobody, so it cannot make the father's account hers."""
        merges, folds = decide(
            [guardian("ga1", "Maria", **MARIA)],
            [guardian("ga2", None, None, email=MARIA["email"])],
        )
        assert folds == []
        assert merges["ga1"] == ("gs1", "auto")
        assert merges.get("ga2", ("", "review"))[1] == "review"

    def test_mother_and_father_sharing_the_home_phone(self) -> None:
        merges, folds = decide(
            [guardian("ga1", "Maria", phone=HOME, rel="mother")],
            [guardian("ga2", None, None, phone=HOME)],
        )
        assert folds == []
        assert merges["ga1"] == ("gs1", "auto")
        assert merges.get("ga2", ("", "review"))[1] == "review"

    def test_two_parents_named_alike_with_their_roles(self) -> None:
        """Pat (the mother) and Pat (the father) with the family email: the roles conflict."""
        pat = {"email": FAMILY_EMAIL, "phone": HOME}
        archived = [
            kid("a1", guardian("ga1", "Pat", rel="mother", **pat)),
            kid("a2", guardian("ga2", "Pat", rel="father", **pat)),
        ]
        synced_pat = guardian("gs1", "Pat", rel="mother", **pat)
        synced = [kid("s1", synced_pat), kid("s2", synced_pat)]
        found, folds = match_guardians_with_folds(
            Roster(archived), Roster(synced), [merge("a1", "s1"), merge("a2", "s2")]
        )
        assert folds == []
        assert by_old(found) == {"ga1": ("gs1", "auto")}

    def test_two_accounts_listed_on_one_child_are_two_guardians(self) -> None:
        """Jose Quix and Jose Quix (a father and a grandfather sharing a phone and an email)
        both on a1's list: each identifies the father's sync account, but they are two."""
        merges, folds = decide(
            [guardian("ga1", "Jose", **JOSE), guardian("ga3", "Jose", **JOSE)],
            [guardian("ga2", "Maria", **MARIA)],
        )
        assert folds == []
        assert merges["ga2"] == ("gs1", "auto")
        assert [merges.get(g, ("gs2", "review")) for g in ("ga1", "ga3")].count(
            ("gs2", "review")
        ) == 2  # a tie: one is proposed for review, the other stays

    def test_different_sis_ids_are_two_people(self) -> None:
        """Two Maria Quix whom the SIS knows as two people: the better one is merged alone."""
        merges, folds = decide(
            [guardian("ga1", "Maria", sis="P-1", **MARIA)],
            [guardian("ga2", "Maria", sis="P-9", **MISTYPED)],
        )
        assert folds == []
        assert merges == {"ga1": ("gs1", "auto")}
