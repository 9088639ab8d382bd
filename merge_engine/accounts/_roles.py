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

import bisect
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import numpy as np
from attrs import frozen

from ..matching._arrays import isin, unique, unique_inverse
from ..matching._normalize import nickname_index, normalize_email, normalize_name, normalize_phone
from ..model import Roster, StaffMember
from ..plan import LinkKind, RoleLink, Verdict
from ._guardian_columns import I64, GuardianAccount, _Coded, _Columns

__all__ = ["RoleLink", "find_multiple_roles"]

Kind = Literal["staff", "guardian"]


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


@functools.lru_cache(maxsize=50_000)
def _given(first_name: str) -> str:
    """The first word of a normalised given name."""
    return first_name.split(" ", 1)[0]


@functools.lru_cache(maxsize=50_000)
def _family(last_name: str) -> str:
    """A normalised surname without its spaces."""
    return last_name.replace(" ", "")


def _name_level(a: _Person, b: _Person) -> str:
    return _names(a.first, a.last, b.first, b.last)


def _names(first_a: str, last_a: str, first_b: str, last_b: str) -> str:
    if not first_a or not first_b or not last_a or not last_b:
        return "missing"
    if last_a != last_b:
        return "different"
    if first_a == first_b:
        return "exact"
    return "nickname" if nickname_index().equivalent(first_a, first_b) else "different"


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
    columns = (
        _Columns.from_accounts(accounts) if accounts is not None else _Columns.from_roster(roster)
    )
    return _find_roles(roster, columns)


def _find_roles(roster: Roster, guardians: _Columns) -> list[RoleLink]:
    """:func:`find_multiple_roles` on the guardian accounts of ``roster`` as columns.

    Only pairs that can be linked are compared: a link needs the surname
    and the given name (or a nickname) to agree, so guardians are grouped
    by surname with a shared email or phone, and staff look guardians up
    by surname and the given names equivalent to theirs. The conditions
    of :func:`_compare` are checked on integer codes first, so only the
    pairs that become links are built and compared one by one.
    """
    firsts = list(map(_given, guardians.first))
    lasts = list(map(_family, guardians.last))
    first_coded, last_coded = _Coded(firsts), _Coded(lasts)
    staff = [_from_staff(member) for member in sorted(roster.staff, key=lambda m: m.id)]
    staff_pairs = _staff_candidates(roster, guardians, staff, first_coded, last_coded)
    guardian_pairs = _guardian_candidates(guardians, first_coded, last_coded)
    needed = sorted({i for _, i in staff_pairs} | {i for pair in guardian_pairs for i in pair})
    schools = _schools_of(roster, guardians, np.array(needed, np.int64))
    persons = {
        i: _Person(
            guardians.ids[i],
            "guardian",
            firsts[i],
            lasts[i],
            guardians.email[i],
            guardians.phone[i],
            schools.get(i, frozenset()),
        )
        for i in needed
    }
    compared: list[tuple[LinkKind, _Person, _Person]] = [
        *(("staff_guardian", person, persons[i]) for person, i in staff_pairs),
        *(("guardian_guardian", persons[i], persons[j]) for i, j in guardian_pairs),
    ]
    links: dict[tuple[str, str], RoleLink] = {}
    for kind, person, other in compared:
        verdict, evidence, differs = _compare(person, other)
        if verdict is not None:
            key = (person.id, other.id)
            links[key] = RoleLink(kind, person.id, other.id, verdict, evidence, differs)
    return [links[k] for k in sorted(links)]


def _join(keys: I64, values: I64, query_keys: I64, query: I64) -> tuple[I64, I64]:
    """Every (``query[i]``, ``values[j]``) whose ``query_keys[i]`` equals ``keys[j]``.

    One sort of the keys and a search per query: only the matches are made,
    never the pairs that share a part of the key.
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    low = np.searchsorted(ordered, query_keys, side="left")
    counts = np.searchsorted(ordered, query_keys, side="right") - low
    which = np.repeat(np.arange(len(query_keys), dtype=np.int64), counts)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    return query[which], values[order[low[which] + offset]]


def _code_of(code_of: Callable[[str], int], values: Iterable[str]) -> I64:
    """Codes of other values in a coded column: ``-1`` when absent, ``-2`` when empty."""
    return np.array([code_of(v) if v else -2 for v in values], np.int64)


def _contact(guardians: _Columns, field_name: str) -> tuple[I64, int, Callable[[str], int]]:
    """The guardians' ``email`` or ``phone`` as codes (equal values share one), the code of
    an empty one and the code of any value (``-1`` when no guardian has it).

    Phones come from the numbers as matching compares them (``phone_key``,
    coded already), where every number no one can have is empty: those get
    codes of their own again (a staff member may have typed the same one).
    """
    if field_name == "email":
        email = guardians.coded("email")
        return email.codes, email.code_of(""), email.code_of
    key = guardians.coded("phone_key")
    empty = key.code_of("")
    codes = key.codes
    typed: dict[str, int] = {}  # placeholder number -> its code
    if empty >= 0:
        phones = guardians.phone
        for i in np.flatnonzero(codes == empty).tolist():
            phone = phones[i]
            if phone:
                if not typed:
                    codes = codes.copy()
                codes[i] = typed.setdefault(phone, len(key.values) + len(typed))
    if not typed:
        return codes, empty, key.code_of

    def code_of(phone: str) -> int:
        found = typed.get(phone)
        return key.code_of(phone) if found is None else found

    return codes, empty, code_of


def _staff_candidates(
    roster: Roster,
    guardians: _Columns,
    staff: list[_Person],
    first_coded: _Coded,
    last_coded: _Coded,
) -> list[tuple[_Person, int]]:
    """(staff, guardian) pairs with the surname, an equivalent given name and a reason to link.

    A reason: the same email or phone, or the exact given name and a child
    at the staff member's school (the conditions of :func:`_compare`). Each
    reason is a join on the name and that detail: the pairs that share only
    the name grow with the square of the district (four million at a
    million students), and are never made.
    """
    if not staff or not guardians.ids:
        return []
    width = len(first_coded.values)
    named_as: dict[str, set[str]] = {}  # canonical form -> guardians' given names that have it
    for first in first_coded.values:
        for canonical in nickname_index().canonicals(first):
            named_as.setdefault(canonical, set()).add(first)
    queries: list[tuple[int, int, bool]] = []  # (staff index, name code, given name exact)
    for s, person in enumerate(staff):
        last = last_coded.code_of(person.last)
        if not (person.first and person.last) or last < 0:
            continue
        names = {person.first} | nickname_index().canonicals(person.first)
        names |= named_as.get(person.first, set())
        for name in names:
            first = first_coded.code_of(name)
            if first >= 0:
                queries.append((s, last * width + first, name == person.first))
    if not queries:
        return []
    query_staff, query_name, query_exact = np.array(queries, np.int64).T
    named = last_coded.codes * width + first_coded.codes  # each guardian's name code
    found: list[tuple[I64, I64]] = []
    every = np.arange(len(guardians.ids), dtype=np.int64)
    for field_name in ("email", "phone"):
        codes, _, code_of = _contact(guardians, field_name)
        size = np.int64(int(codes.max()) + 1)
        code = _code_of(code_of, (getattr(p, field_name) for p in staff))[query_staff]
        ok = code >= 0
        found.append(
            _join(named * size + codes, every, query_name[ok] * size + code[ok], query_staff[ok])
        )
    school_code = {
        school: k for k, school in enumerate(sorted({x for p in staff for x in p.schools}))
    }
    staff_school = np.array([school_code[min(p.schools)] if p.schools else -1 for p in staff])
    ok = (query_exact == 1) & (staff_school[query_staff] >= 0)
    if ok.any():
        # The schools of the children of the guardians who carry such a name.
        accounts, schools = _school_rows(
            roster, guardians, np.flatnonzero(isin(named, query_name[ok]))
        )
        codes = np.array([school_code.get(x, -1) if x else -1 for x in schools], np.int64)
        known = codes >= 0
        n_schools = np.int64(len(school_code))
        found.append(
            _join(
                named[accounts[known]] * n_schools + codes[known],
                accounts[known],
                query_name[ok] * n_schools + staff_school[query_staff[ok]],
                query_staff[ok],
            )
        )
    n_guardians = np.int64(len(guardians.ids))
    pair = unique(np.concatenate([q * n_guardians + g for q, g in found]))
    member, guardian = pair // n_guardians, pair % n_guardians
    # A staff member's own account (the same id) is no second role.
    at = functools.partial(bisect.bisect_left, guardians.ids)
    own = np.array([at(p.id) for p in staff], np.int64)
    own[own == len(guardians.ids)] = 0
    same_id = np.array([guardians.ids[k] == p.id for k, p in zip(own.tolist(), staff, strict=True)])
    keep = np.flatnonzero(~(same_id[member] & (own[member] == guardian)))
    return [
        (staff[k], i) for k, i in zip(member[keep].tolist(), guardian[keep].tolist(), strict=True)
    ]


def _guardian_candidates(
    guardians: _Columns, first_coded: _Coded, last_coded: _Coded
) -> list[tuple[int, int]]:
    """Guardian pairs (by column index, smaller first) with a shared email or phone and name."""
    lasts = last_coded.codes
    has_last = lasts != last_coded.code_of("")
    pairs = []
    for field_name in ("email", "phone"):
        codes, empty, _ = _contact(guardians, field_name)
        members = np.flatnonzero((codes != empty) & has_last)
        key = codes[members] * len(last_coded.values) + lasts[members]
        order = np.argsort(key, kind="stable")
        members, key = members[order], key[order]
        # Each member pairs with the later members of its group.
        end = np.searchsorted(key, key, side="right")
        later = end - np.arange(len(key)) - 1
        left = np.repeat(np.arange(len(key), dtype=np.int64), later)
        offset = np.arange(int(later.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(later) - later, later
        )
        pairs.append(members[left] * len(guardians.ids) + members[left + 1 + offset])
    found = unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.int64)
    first, second = found // len(guardians.ids), found % len(guardians.ids)
    a, b = first_coded.codes[first], first_coded.codes[second]
    empty = first_coded.code_of("")
    agree = (a == b) & (a != empty)
    differ = np.flatnonzero((a != b) & (a != empty) & (b != empty))
    if len(differ):
        values = first_coded.values
        width = len(values)
        distinct, inverse = unique_inverse(a[differ] * width + b[differ])
        nickname = np.array(
            [
                nickname_index().equivalent(values[k // width], values[k % width])
                for k in distinct.tolist()
            ],
            np.bool_,
        )
        agree[differ] = nickname[inverse.reshape(-1)]
    keep = np.flatnonzero(agree)
    return list(zip(first[keep].tolist(), second[keep].tolist(), strict=True))


def _school_rows(
    roster: Roster, guardians: _Columns, accounts: I64
) -> tuple[I64, list[str | None]]:
    """(guardian column index, school of the child) for every child of the given guardians."""
    if guardians.row_position is not None:  # built from this roster: rows name the children
        wanted = np.zeros(len(guardians.ids), np.bool_)
        wanted[accounts] = True
        rows = np.flatnonzero(wanted[guardians.row_account])
        students = roster.students
        positions = guardians.row_position[rows].tolist()
        return guardians.row_account[rows], [students[p].school_id for p in positions]
    index = {guardians.ids[i]: i for i in accounts.tolist()}
    found, schools = [], []
    for student in roster.students:
        for contact in student.contacts:
            i = index.get(contact.guardian_id)
            if i is not None:
                found.append(i)
                schools.append(student.school_id)
    return np.array(found, np.int64), schools


def _schools_of(roster: Roster, guardians: _Columns, accounts: I64) -> dict[int, frozenset[str]]:
    """The schools the children of each given guardian attend."""
    found: dict[int, set[str]] = {}
    rows, schools = _school_rows(roster, guardians, accounts)
    for i, school in zip(rows.tolist(), schools, strict=True):
        if school:
            found.setdefault(i, set()).add(school)
    return {i: frozenset(s) for i, s in found.items()}
