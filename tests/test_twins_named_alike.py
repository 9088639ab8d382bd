"""Twins named alike, one of whom left, and namesakes of other families (issue 10, the
three twins and two namesakes auto-merged at 150,000 students on district2).

Each rule has the pattern it sends to review and the slip it keeps automatic."""

from __future__ import annotations

import datetime as dt

from conftest import contact
from planner_support import kid, plan_with, targets

from merge_engine.model import Student
from merge_engine.plan import MergePlan

BORN = dt.date(2015, 3, 2)


def _others(
    prefix: str, first: str, gender: str, n: int = 5
) -> tuple[list[Student], list[Student]]:
    """``n`` children of other families named ``first``, each with its own synced record:
    the district gives the name to several children."""
    archived, synced = [], []
    for i in range(n):
        fields = {
            "last": f"Zorvath{prefix}{i}",
            "gender": gender,
            "dob": dt.date(2014, 1 + i, 10 + i),
            "street": f"{i + 1} Zorvath Road",
            "contacts": [contact(f"g-{prefix}{i}", f"212-555-02{i:02d}")],
        }
        archived.append(kid(f"{prefix}a{i}", first, **fields))  # type: ignore[arg-type]
        synced.append(kid(f"{prefix}s{i}", first, synced=True, **fields))  # type: ignore[arg-type]
    return archived, synced


def _district(*names: tuple[str, str]) -> tuple[list[Student], list[Student]]:
    archived: list[Student] = []
    synced: list[Student] = []
    for k, (first, gender) in enumerate(names):
        more_a, more_s = _others(f"n{k}", first, gender)
        archived += more_a
        synced += more_s
    return archived, synced


def _reasons(plan: MergePlan, archived_id: str) -> list[str]:
    return list(next(m.reasons for m in plan.merges if m.archived_id == archived_id))


class TestRhymingNames:
    """Jason left; his twin Mason stayed, and Mason's class was not on the old platform.
    The remaining record has Jason's birth date, guardians and address, and one letter
    apart; both are boys. A slip rarely changes how a name starts and rarely lands on
    another name of the district: rhyming names are a twin's."""

    def test_a_twin_with_a_rhyming_name_goes_to_review(self, background):
        extra_a, extra_s = _district(("Jason", "M"), ("Mason", "M"))
        archived = [kid("rj-a", "Jason", gender="M", dob=BORN)]
        synced = [kid("rj-s", "Mason", gender="M", dob=BORN, synced=True)]

        plan = plan_with(background, archived + extra_a, synced + extra_s)

        assert [("rj-s", "review")] == targets(plan, "rj-a")
        assert any("start with other sounds" in r for r in _reasons(plan, "rj-a"))

    def test_a_middle_name_that_agrees_keeps_the_typo_reading(self, background):
        extra_a, extra_s = _district(("Jason", "M"), ("Mason", "M"))
        archived = [kid("rj-a", "Jason", gender="M", dob=BORN, middle_name="Tobias")]
        synced = [kid("rj-s", "Mason", gender="M", dob=BORN, middle_name="Tobias", synced=True)]

        plan = plan_with(background, archived + extra_a, synced + extra_s)

        assert [("rj-s", "auto")] == targets(plan, "rj-a")

    def test_a_spelling_that_sounds_alike_stays_automatic(self, background):
        """Kamila for Camila: both names of the district, but C and K start alike."""
        extra_a, extra_s = _district(("Kamila", "F"), ("Camila", "F"))
        archived = [kid("rk-a", "Kamila", gender="F", dob=BORN)]
        synced = [kid("rk-s", "Camila", gender="F", dob=BORN, synced=True)]

        plan = plan_with(background, archived + extra_a, synced + extra_s)

        assert [("rk-s", "auto")] == targets(plan, "rk-a")

    def test_a_first_letter_slip_that_is_no_name_here_stays_automatic(self, background):
        """Nason for Mason starts with the same sound; Wason is no name of the district."""
        extra_a, extra_s = _district(("Mason", "M"))
        archived = [kid("rw-a", "Wason", gender="M", dob=BORN)]
        synced = [kid("rw-s", "Mason", gender="M", dob=BORN, synced=True)]

        plan = plan_with(background, archived + extra_a, synced + extra_s)

        assert [("rw-s", "auto")] == targets(plan, "rw-a")


class TestNamesakeOfAnotherHousehold:
    """Ananya Shah left; Aanya Shah of another family, born the same day, came. The birth
    date is the only anchor, and the household says another family."""

    @staticmethod
    def _pair(shared_guardian: bool) -> tuple[Student, Student]:
        archived = kid(
            "ns-a",
            "Ananya",
            last="Shah",
            dob=BORN,
            street="4954 Orchard Street",
            zip="55708",
            contacts=[contact("g-ns1", "338-555-0111", "janelle.g@example.org")],
        )
        own = [contact("g-ns2", "338-555-0177", "deepa.shah@example.org")]
        synced = kid(
            "ns-s",
            "Aanya",
            last="Shah",
            dob=BORN,
            street="3601 Hickory Drive",
            zip="55676",
            contacts=archived.contacts if shared_guardian else own,
            synced=True,
        )
        return archived, synced

    def test_a_similar_name_in_another_household_goes_to_review(self, background):
        archived, synced = self._pair(shared_guardian=False)

        plan = plan_with(background, [archived], [synced])

        assert [("ns-s", "review")] == targets(plan, "ns-a")
        assert any("a namesake, not a typo" in r for r in _reasons(plan, "ns-a"))

    def test_a_slip_in_a_family_that_moved_stays_automatic(self, background):
        """Another address but the same guardian: the family moved, the name has a slip."""
        archived, synced = self._pair(shared_guardian=True)

        plan = plan_with(background, [archived], [synced])

        assert [("ns-s", "auto")] == targets(plan, "ns-a")


class TestTwinTypedAlike:
    """Katelyn left; her twin Kaitlyn stayed, and Kaitlyn's archived record was typed
    "Katelyn" too. The two archived records look like one child typed twice."""

    def test_twins_typed_alike_are_not_merged_into_the_twin_who_stayed(self, background):
        archived = [
            kid("tt-a1", "Katelyn", gender="F", dob=BORN),
            kid("tt-a2", "Katelyn", gender=None, dob=BORN),
        ]
        synced = [kid("tt-s", "Kaitlyn", gender="F", dob=BORN, synced=True)]

        plan = plan_with(background, archived, synced)

        for archived_id in ("tt-a1", "tt-a2"):
            assert all(decision != "auto" for _, decision in targets(plan, archived_id))
        assert any("typed twice" in r for r in _reasons(plan, "tt-a1") + _reasons(plan, "tt-a2"))

    def test_a_child_typed_twice_under_the_synced_name_stays_automatic(self, background):
        archived = [
            kid("tt-a1", "Kaitlyn", gender="F", dob=BORN),
            kid("tt-a2", "Kaitlyn", gender=None, dob=BORN),
        ]
        synced = [kid("tt-s", "Kaitlyn", gender="F", dob=BORN, synced=True)]

        plan = plan_with(background, archived, synced)

        assert [("tt-s", "auto")] == targets(plan, "tt-a1")
        assert [("tt-s", "auto")] == targets(plan, "tt-a2")

    def test_one_record_with_the_spelling_slip_stays_automatic(self, background):
        archived = [kid("tt-a1", "Katelyn", gender="F", dob=BORN)]
        synced = [kid("tt-s", "Kaitlyn", gender="F", dob=BORN, synced=True)]

        plan = plan_with(background, archived, synced)

        assert [("tt-s", "auto")] == targets(plan, "tt-a1")
