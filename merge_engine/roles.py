"""Multiple-role users: one adult behind several accounts.

A staff member who is also a parent, or a parent of children at several
schools, gets one account per role when the name, email or phone differ
between the roles. This module finds them on one side of a district and
says which field differs, so the district can link or merge the accounts
(one account per person) or keep them apart on purpose.

A candidate pair must agree on the name (given name exactly or as a
nickname, surname exactly) and share a contact detail or, for staff, work
at a school one of the guardian's children attends. A shared phone or
email with different names is a household, not one person.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from attrs import field, frozen

from .guardians import GuardianAccount, guardian_accounts
from .model import Roster, StaffMember
from .normalize import nickname_index, normalize_email, normalize_name, normalize_phone

__all__ = ["RoleLink", "find_multiple_roles"]

Kind = Literal["staff", "guardian"]
Verdict = Literal["same_person", "possible"]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _sorted(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Evidence sorted by field, as JSON with sorted keys reads it back."""
    return tuple(sorted(value))


@frozen
class RoleLink:
    """Two accounts that belong to one adult, with the fields that differ between them."""

    kind: Literal["staff_guardian", "guardian_guardian"]
    first_id: str
    second_id: str
    verdict: Verdict
    evidence: tuple[tuple[str, str], ...] = field(converter=_sorted)  # (field, level)
    differs: tuple[str, ...] = field(converter=_tuple)
    action: Literal["report", "keep_apart", "link", "merge", "review"] = "report"

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "first_id": self.first_id,
            "second_id": self.second_id,
            "verdict": self.verdict,
            "evidence": dict(self.evidence),
            "differs": list(self.differs),
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoleLink:
        kind = str(data["kind"])
        verdict = str(data["verdict"])
        if kind not in ("staff_guardian", "guardian_guardian") or verdict not in (
            "same_person",
            "possible",
        ):
            raise ValueError("unknown role link kind or verdict")
        return cls(
            kind,  # type: ignore[arg-type]
            str(data["first_id"]),
            str(data["second_id"]),
            verdict,  # type: ignore[arg-type]
            [(str(k), str(v)) for k, v in dict(data.get("evidence", {})).items()],
            [str(x) for x in data.get("differs", [])],
            str(data.get("action", "report")),  # type: ignore[arg-type]
        )


@frozen
class _Person:
    id: str
    kind: Kind
    first: str
    last: str
    email: str
    phone: str
    schools: frozenset[str]


def _from_staff(member: StaffMember) -> _Person:
    return _Person(
        member.id,
        "staff",
        normalize_name(member.first_name).split(" ", 1)[0],
        normalize_name(member.last_name).replace(" ", ""),
        normalize_email(member.email),
        normalize_phone(member.phone),
        frozenset({member.school_id} if member.school_id else ()),
    )


def _from_guardian(account: GuardianAccount, schools: frozenset[str]) -> _Person:
    return _Person(
        account.id,
        "guardian",
        account.first_name.split(" ", 1)[0],
        account.last_name.replace(" ", ""),
        account.email,
        account.phone,
        schools,
    )


def _name_level(a: _Person, b: _Person) -> str:
    if not a.first or not b.first or not a.last or not b.last:
        return "missing"
    if a.last != b.last:
        return "different"
    if a.first == b.first:
        return "exact"
    return "nickname" if nickname_index().equivalent(a.first, b.first) else "different"


def _compare(
    a: _Person, b: _Person
) -> tuple[Verdict | None, tuple[tuple[str, str], ...], tuple[str, ...]]:
    name = _name_level(a, b)
    email = (
        "missing" if not a.email or not b.email else ("same" if a.email == b.email else "different")
    )
    phone = (
        "missing" if not a.phone or not b.phone else ("same" if a.phone == b.phone else "different")
    )
    school = (
        "shared"
        if a.schools & b.schools
        else ("different" if a.schools and b.schools else "missing")
    )
    evidence = (("name", name), ("email", email), ("phone", phone), ("school", school))
    differs = tuple(
        f
        for f, level in (("name", name), ("email", email), ("phone", phone))
        if level in ("different", "nickname") or (level == "missing" and f != "name")
    )
    if name not in ("exact", "nickname"):
        return None, evidence, differs
    if email == "same" or phone == "same":
        return "same_person", evidence, differs
    if name == "exact" and school == "shared":
        return "possible", evidence, differs
    return None, evidence, differs


def find_multiple_roles(
    roster: Roster, accounts: Mapping[str, GuardianAccount] | None = None
) -> list[RoleLink]:
    """Staff who are also guardians, and guardians with several accounts, on one side.

    Read-only and deterministic (sorted by ids). ``same_person`` links share
    the name and a phone or email; ``possible`` links share the exact name
    and a school but no contact detail and need a person to confirm.
    """
    schools_of: dict[str, set[str]] = {}
    for student in roster.students:
        for contact in student.contacts:
            if student.school_id:
                schools_of.setdefault(contact.guardian_id, set()).add(student.school_id)
    guardians = [
        _from_guardian(account, frozenset(schools_of.get(gid, ())))
        for gid, account in (
            accounts if accounts is not None else guardian_accounts(roster)
        ).items()
    ]
    staff = [_from_staff(member) for member in sorted(roster.staff, key=lambda m: m.id)]

    by_key: dict[tuple[str, str], list[_Person]] = {}
    for person in guardians:
        for key in _keys(person):
            by_key.setdefault(key, []).append(person)

    links: dict[tuple[str, str], RoleLink] = {}
    for person in (*staff, *guardians):
        # Two guardian accounts of one adult share a contact detail (same_person
        # needs one); probing guardians by name too would only compare the
        # many unrelated parents who share a common name.
        keys = _keys(person) if person.kind == "staff" else _contact_keys(person)
        for key in keys:
            for other in by_key.get(key, ()):
                if other.id == person.id or (person.kind == "guardian" and other.id < person.id):
                    continue
                verdict, evidence, differs = _compare(person, other)
                if verdict is None:
                    continue
                kind: Literal["staff_guardian", "guardian_guardian"] = (
                    "staff_guardian" if person.kind == "staff" else "guardian_guardian"
                )
                links[(person.id, other.id)] = RoleLink(
                    kind, person.id, other.id, verdict, evidence, differs
                )
    return [links[k] for k in sorted(links)]


def _contact_keys(person: _Person) -> Sequence[tuple[str, str]]:
    keys = []
    if person.email:
        keys.append(("email", person.email))
    if person.phone:
        keys.append(("phone", person.phone))
    return keys


def _keys(person: _Person) -> Sequence[tuple[str, str]]:
    keys = []
    if person.email:
        keys.append(("email", person.email))
    if person.phone:
        keys.append(("phone", person.phone))
    if person.last and person.first:
        keys += [("name", f"{variant} {person.last}") for variant in _variants(person.first)]
    return keys


@functools.lru_cache(maxsize=50_000)
def _variants(first: str) -> tuple[str, ...]:
    return tuple(sorted(nickname_index().canonicals(first)))
