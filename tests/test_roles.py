"""Multiple-role users: staff who are also guardians, and guardians with several accounts."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence

import pytest
from conftest import make_student

from merge_engine import Roster, Student
from merge_engine.accounts._guardians import guardian_accounts
from merge_engine.accounts._roles import (
    RoleLink,
    _compare,
    _from_staff,
    _Person,
    find_multiple_roles,
)
from merge_engine.model import Contact, StaffMember

HOME = "(212) 555-0147"


def kid(student_id: str, *contacts: Contact, school: str = "sch1") -> Student:
    """A student carrying the given guardian contacts."""
    return make_student(student_id, "Kid", "Quix", school_id=school, contacts=contacts)


def parent(
    gid: str,
    first: str,
    last: str = "Quix",
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Contact:
    return Contact(gid, first, last, email, phone, "parent")


def staff(
    sid: str,
    first: str,
    last: str = "Quix",
    *,
    email: str | None = None,
    phone: str | None = None,
    school: str | None = "sch9",
) -> StaffMember:
    return StaffMember(sid, first, last, email, phone, school)


def links_of(students: Sequence[Student], members: Sequence[StaffMember] = ()) -> list[RoleLink]:
    return find_multiple_roles(Roster(students, members))


def evidence(link: RoleLink) -> dict[str, str]:
    return dict(link.evidence)


class TestStaffGuardian:
    """A staff member who is also a guardian."""

    def test_same_name_and_email_with_other_phone(self) -> None:
        """Same name and email: same_person, and the differing phone is named."""
        [link] = links_of(
            [kid("s1", parent("g1", "Dana", email="dana@example.org", phone=HOME))],
            [staff("t1", "Dana", email="DANA@example.org", phone="(646) 555-0100")],
        )
        assert (link.kind, link.first_id, link.second_id) == ("staff_guardian", "t1", "g1")
        assert link.verdict == "same_person"
        assert link.differs == ("phone",)
        assert evidence(link) == {
            "name": "exact",
            "email": "same",
            "phone": "different",
            "school": "different",
        }
        assert link.action == "report"

    def test_everything_agreeing_differs_in_nothing(self) -> None:
        """Same name, email and (reformatted) phone: same_person with nothing differing."""
        [link] = links_of(
            [kid("s1", parent("g1", "Dana", email="dana@example.org", phone=HOME))],
            [staff("t1", "Dana", email="dana@example.org", phone="212.555.0147")],
        )
        assert (link.verdict, link.differs) == ("same_person", ())

    def test_nickname_with_same_phone(self) -> None:
        """Bob (staff) and Robert (guardian) with one phone: same_person, the name differs."""
        [link] = links_of(
            [kid("s1", parent("g1", "Robert", "Vell", phone=HOME))],
            [staff("t1", "Bob", "Vell", email="bv@school.org", phone="212-555-0147")],
        )
        assert (link.first_id, link.second_id, link.verdict) == ("t1", "g1", "same_person")
        assert "name" in link.differs
        assert evidence(link)["name"] == "nickname"
        assert evidence(link)["phone"] == "same"

    def test_exact_name_and_shared_school_without_contact_is_possible(self) -> None:
        """Exact name, a child at the staff member's school, no shared contact: possible."""
        [link] = links_of(
            [kid("s1", parent("g1", "Ines", "Marr"), school="sch3")],
            [staff("t1", "Ines", "Marr", email="im@school.org", school="sch3")],
        )
        assert (link.first_id, link.second_id, link.verdict) == ("t1", "g1", "possible")
        assert evidence(link)["school"] == "shared"

    def test_exact_name_at_another_school_without_contact_is_nothing(self) -> None:
        """The same name alone, at different schools, links nothing."""
        assert (
            links_of(
                [kid("s1", parent("g1", "Ines", "Marr"), school="sch3")],
                [staff("t1", "Ines", "Marr", email="im@school.org", school="sch7")],
            )
            == []
        )

    def test_nickname_and_shared_school_without_contact_is_nothing(self) -> None:
        """A nickname needs a shared contact detail; a shared school is not enough."""
        assert (
            links_of(
                [kid("s1", parent("g1", "Robert", "Vell"), school="sch3")],
                [staff("t1", "Bob", "Vell", school="sch3")],
            )
            == []
        )

    @pytest.mark.parametrize(
        ("guardian_first", "guardian_last"), [("John", "Quix"), ("Mary", "Okafor")]
    )
    def test_shared_contact_with_other_name_is_a_household(
        self, guardian_first: str, guardian_last: str
    ) -> None:
        """Spouses sharing a phone and email (or a different surname) are not one person."""
        assert (
            links_of(
                [
                    kid(
                        "s1",
                        parent(
                            "g1",
                            guardian_first,
                            guardian_last,
                            email="fam@example.org",
                            phone=HOME,
                        ),
                    )
                ],
                [staff("t1", "Mary", email="fam@example.org", phone=HOME, school="sch1")],
            )
            == []
        )


class TestGuardianGuardian:
    """One adult behind several guardian accounts."""

    def test_one_adult_with_two_accounts(self) -> None:
        """Same name and email on two accounts: one guardian_guardian link, lower id first."""
        [link] = links_of(
            [
                kid("s1", parent("g7", "Ana", "Ruiz", email="ana@example.org", phone=HOME)),
                kid("s2", parent("g3", "Ana", "Ruiz", email="ANA@example.org"), school="sch2"),
            ]
        )
        assert (link.kind, link.first_id, link.second_id) == ("guardian_guardian", "g3", "g7")
        assert link.verdict == "same_person"
        assert link.differs == ("phone",)

    def test_spouses_sharing_everything_are_not_linked(self) -> None:
        """Two parents sharing phone and email but not given name: no link."""
        assert (
            links_of(
                [
                    kid(
                        "s1",
                        parent("g1", "Mary", email="fam@example.org", phone=HOME),
                        parent("g2", "John", email="fam@example.org", phone=HOME),
                    )
                ]
            )
            == []
        )

    def test_siblings_sharing_one_account_link_nothing(self) -> None:
        """One account on two children is one account, not two roles."""
        pat = parent("g1", "Pat", email="pat@example.org", phone=HOME)
        assert links_of([kid("s1", pat), kid("s2", pat)]) == []


def mixed_roster() -> tuple[list[Student], list[StaffMember]]:
    """Several adults in several roles, for ordering checks."""
    students = [
        kid("s1", parent("g5", "Dana", email="dana@example.org")),
        kid("s2", parent("g2", "Robert", "Vell", phone=HOME)),
        kid("s3", parent("g9", "Ana", "Ruiz", email="ana@example.org"), school="sch3"),
        kid("s4", parent("g1", "Ana", "Ruiz", email="ana@example.org", phone="(646) 555-0100")),
        kid("s5", parent("g4", "Ines", "Marr"), school="sch3"),
    ]
    members = [
        staff("t2", "Dana", email="dana@example.org"),
        staff("t1", "Bob", "Vell", phone=HOME),
        staff("t3", "Ines", "Marr", school="sch3"),
        staff("t0", "Ana", "Ruiz", email="ana@example.org"),
    ]
    return students, members


def test_deterministic_and_sorted() -> None:
    """Links come sorted by ids, the same for any input order, and with accounts given."""
    students, members = mixed_roster()
    links = find_multiple_roles(Roster(students, members))
    keys = [(link.first_id, link.second_id) for link in links]
    assert keys == sorted(keys)
    assert keys == [
        ("g1", "g9"),
        ("t0", "g1"),
        ("t0", "g9"),
        ("t1", "g2"),
        ("t2", "g5"),
        ("t3", "g4"),
    ]
    rng = random.Random(3)
    for _ in range(5):
        rng.shuffle(students)
        rng.shuffle(members)
        roster = Roster(students, members)
        assert find_multiple_roles(roster) == links
        assert find_multiple_roles(roster, guardian_accounts(roster)) == links


def test_link_round_trips_through_json() -> None:
    """Every link survives to_dict, JSON and from_dict unchanged; bad kinds are refused."""
    students, members = mixed_roster()
    links = find_multiple_roles(Roster(students, members))
    assert links
    for link in links:
        assert RoleLink.from_dict(json.loads(json.dumps(link.to_dict()))) == link
    with pytest.raises(ValueError, match="unknown role link"):
        RoleLink.from_dict({**links[0].to_dict(), "verdict": "maybe"})


def brute_force(roster: Roster) -> list[RoleLink]:
    """Reference: every staff member against every guardian, every two guardians, one by one."""
    accounts = guardian_accounts(roster)
    schools: dict[str, set[str]] = {}
    for student in roster.students:
        for contact in student.contacts:
            if student.school_id:
                schools.setdefault(contact.guardian_id, set()).add(student.school_id)
    guardians = [
        _Person(
            gid,
            "guardian",
            a.first_name.split(" ", 1)[0],
            a.last_name.replace(" ", ""),
            a.email,
            a.phone,
            frozenset(schools.get(gid, ())),
        )
        for gid, a in accounts.items()
    ]
    links: dict[tuple[str, str], RoleLink] = {}
    for member in sorted(roster.staff, key=lambda m: m.id):
        person = _from_staff(member)
        for other in guardians:
            verdict, evidence, differs = _compare(person, other)
            if verdict is not None and other.id != person.id:
                links[(person.id, other.id)] = RoleLink(
                    "staff_guardian", person.id, other.id, verdict, evidence, differs
                )
    for first, second in itertools.combinations(guardians, 2):  # accounts come sorted by id
        verdict, evidence, differs = _compare(first, second)
        if verdict == "same_person":  # two guardian accounts need a shared email or phone
            links[(first.id, second.id)] = RoleLink(
                "guardian_guardian", first.id, second.id, verdict, evidence, differs
            )
    return [links[k] for k in sorted(links)]


@pytest.mark.parametrize("seed", range(40))
def test_matches_a_brute_force_reference(seed: int) -> None:
    """On random rosters (nicknames, shared and placeholder details, schools), every link."""
    rng = random.Random(seed)
    firsts = ["Bob", "Robert", "Chris", "Christine", "Pat", "Patricia", ""]
    lasts = ["Vell", "De La Cruz", "DeLaCruz", ""]
    emails = ["a@example.org", "A@example.org ", "b@example.org", "", None]
    phones = [HOME, "212.555.0147", "(646) 555-0100", "000-000-0000", "(212) 155-0100", None]
    schools = ["sch1", "sch2", None]
    gids = [f"g{i}" for i in range(rng.randrange(1, 12))] + ["t1"]  # an id staff use too
    students = [
        kid(
            f"s{i}",
            *(
                Contact(
                    rng.choice(gids),
                    rng.choice(firsts),
                    rng.choice(lasts),
                    rng.choice(emails),
                    rng.choice(phones),
                    "parent",
                )
                for _ in range(rng.randrange(4))
            ),
            school=rng.choice(schools) or "",
        )
        for i in range(rng.randrange(1, 16))
    ]
    members = [
        staff(
            f"t{i}",
            rng.choice(firsts[:-1]),
            rng.choice(lasts[:-1]),
            email=rng.choice(emails),
            phone=rng.choice(phones),
            school=rng.choice(schools),
        )
        for i in range(rng.randrange(6))
    ]
    roster = Roster(students, members)

    assert brute_force(roster) == find_multiple_roles(roster)
    assert brute_force(roster) == find_multiple_roles(roster, guardian_accounts(roster))
