"""Synthetic districts with known truth, for measuring and testing the matcher.

Real archived rosters never leave a district, and their truth is unknown
anyway. Here one set of hidden families is rendered twice: a hand-typed
archive (nicknames, typos, missing birth dates, duplicates) and a later
SIS sync (formal names, new ids, promoted grades, new guardian accounts).
Because both come from the same hidden people, the twin of every
archived record, guardian and multi-role staff member is known.

Everything is drawn from one ``random.Random(seed)``, and nothing depends
on hash ordering, so a seed always yields the same district.

Why one long module: every draw comes from that one random stream in a fixed order, so
the families, the archive and the sync are generated in sequence here; splitting the
steps across modules would make the order (and with it every benchmark number) depend
on import structure. Not split on purpose.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import gc
import itertools
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from attrs import Factory, define, field, frozen

from merge_engine.accounts._guardians import guardian_accounts
from merge_engine.matching._names import (
    COMMON_NICKNAMES,
    EMAIL_PROVIDERS,
    GROUPS,
    METROS,
    OTHER_AREA_CODES,
    SIMILAR_NAME_PAIRS,
    STATE_NAMES,
    STREET_DIRECTIONS,
    STREET_NAMES,
    STREET_SUFFIXES,
    NameGroup,
)
from merge_engine.model import Contact, Roster, StaffMember, Student

__all__ = ["SyntheticDistrict", "generate_district"]

# --- Rates. Shares are per child (or per record/adult where said). ---------------------
BASE_YEAR = 2023  # archived school year starts in fall 2023; the sync a year later
TWIN_RATE = 0.015  # children who are one of a twin pair (US twin birth rate ~3% of births / 2)
SIMILAR_TWIN_NAMES_RATE = 0.15  # twin pairs named alike (Aiden/Aidan, Mia/Maya)
DUPLICATE_RATE = 0.02  # children typed into the archive twice (two teachers)
LEFT_RATE = 0.06  # archived children with no synced twin, graduates included
FAMILY_LEAVE_SHARE = 0.5  # of non-graduating leavers, share whose whole family moved away
GRADUATE_RATE = 0.95  # grade-12 children who graduated before the sync
TWIN_SPLIT_RATE = 0.05  # twin pairs where one twin left and the other stayed
NEW_RATE = 0.15  # synced children absent from the archive
NEW_SIBLING_SHARE = 0.35  # of those, share joining a family already in the archive
PROMOTED_RATE = 0.88  # archived grade g -> synced g + 1
RETAINED_RATE = 0.10  # same grade (the remaining 2% skip or go back)
SAME_YEAR_GRADE_CHANGE = 0.01  # grade changes when the sync is in the archive's year
SCHOOL_MOVE_RATE = 0.03  # random school change besides level changes (5->6, 8->9)
FAMILY_MOVED_RATE = 0.08  # families with a different address on the synced side
ZONE_CHANGE_ON_MOVE = 0.5  # moved families that also changed attendance zone
STUDENTS_PER_SCHOOL = 450
STUDENTS_PER_STAFF = 15
STAFF_RETAINED_RATE = 0.85  # archived staff still employed at the sync
PARENT_STAFF_RATE = 0.10  # staff who are also guardians of district students
PARENT_STAFF_DIFF_RATE = 0.5  # of those, staff record differs in email, phone or name
# Archived (hand-typed) noise, per record.
ARCH_NICKNAME_RATE = 0.12  # first name typed as a nickname, when one exists
ARCH_FIRST_TYPO_RATE = 0.03
ARCH_LAST_TYPO_RATE = 0.03
ARCH_UPPER_RATE = 0.04  # JOSE GARCIA
ARCH_LOWER_RATE = 0.02  # jose garcia
ARCH_ACCENT_KEPT = 0.35  # accented names typed with their accents
ARCH_COMPOUND_FIRST_ONLY = 0.4  # "María José" typed as "Maria"
ARCH_COMPOUND_LAST_FIRST_ONLY = 0.35  # "García López" typed as "Garcia"
ARCH_DOB_MISSING = 0.15
ARCH_DOB_SWAP = 0.02  # day and month swapped (when both <= 12)
ARCH_DOB_DIGIT = 0.02  # one digit wrong
ARCH_MIDDLE_FULL = 0.15  # middle name typed in full (else initial or nothing)
ARCH_MIDDLE_INITIAL = 0.05
ARCH_GRADE_MISSING = 0.05
ARCH_GRADE_WRONG = 0.02
ARCH_GENDER_MISSING = 0.25
ARCH_STUDENT_NUMBER = 0.20  # records carrying the SIS student number
ARCH_SIS_ID = 0.02  # records carrying the SIS id (an earlier partial import)
ARCH_EMAIL_RATE = 0.40  # students in grade 6+ with an email on the archived side
ARCH_ADDRESS_RATE = 0.5
ARCH_CONTACT_LINK = 0.9  # each family guardian account linked to a given archived record
ARCH_DUP_GUARDIAN_RATE = 0.03  # adults with two archived accounts (one per child)
# Synced (SIS) side.
SIS_KEEPS_ACCENTS = 0.7  # districts whose SIS keeps accents (per district)
SIS_UPPER_NAMES = 0.1  # districts whose SIS exports names in capitals (per district)
SYNC_MIDDLE_RATE = 0.7
SYNC_EMAIL_RATE = 0.9  # students in grade 3+ with a district email
SYNC_ADDRESS_RATE = 0.95
SUFFIX_RATE = 0.025  # boys named after their father (Jr, III)
COMPOUND_SURNAME_RATE = 0.15  # Hispanic families using both surnames (García López)
HYPHENATED_SURNAME_RATE = 0.02  # other families with a hyphenated surname (Smith-Jones)
# Guardians.
ARCH_ACCOUNT_RATE = 0.8  # parents with an account on the old platform (grandparents half)
SYNC_ACCOUNT_RATE = 0.93  # parents present in the SIS contacts (grandparents 0.7)
GRANDPARENT_RATE = 0.12
SHARED_PHONE_RATE = 0.15  # two-parent families sharing a household phone
SHARED_EMAIL_RATE = 0.05  # ... or one email
EMAIL_CHANGED_RATE = 0.10  # adults whose email differs between sides
PHONE_CHANGED_RATE = 0.05
ARCH_EMAIL_MISSING = 0.10
ARCH_PHONE_MISSING = 0.30
SYNC_EMAIL_MISSING = 0.12
SYNC_PHONE_MISSING = 0.05
INVALID_EMAIL_RATE = 0.01
INVALID_PHONE_RATE = 0.01
ARCH_GUARDIAN_NICKNAME = 0.15
CONTACT_SIS_ID_RATE = 0.6
OUT_OF_AREA_PHONE = 0.15

# Grade weights -2 (PreK) .. 12: hand-made rosters lean to elementary grades.
_GRADE_WEIGHTS = (0.35, 0.05, *([1.0] * 6), *([0.85] * 3), *([0.4] * 4))
_GRADES = tuple(range(-2, 13))
_KIDS_PER_FAMILY = ((1, 0.42), (2, 0.36), (3, 0.15), (4, 0.05), (5, 0.02))
_ROLE_GENDER = {"Mother": "F", "Father": "M", "Grandmother": "F", "Grandfather": "M"}


@frozen
class SyntheticDistrict:
    """An archived and a synced roster of the same district, with the answers.

    ``staff_guardian_truth`` holds every (staff id, guardian account id) pair of
    one adult across both sides (``ta``/``ts`` with ``ga``/``gs``); filter on the
    id prefixes for one side. ``stats`` counts the hidden structure (families,
    twin pairs, leavers...) for reports; tests check rates against the rosters.
    """

    archived: Roster
    synced: Roster
    truth: Mapping[str, str | None]  # archived student id -> synced student id, None if left
    guardian_truth: Mapping[str, str | None]  # archived account id -> synced account id
    staff_guardian_truth: tuple[tuple[str, str], ...]  # (staff id, guardian id), same person
    seed: int
    staff_truth: Mapping[str, str | None] = field(factory=dict)  # archived -> synced staff id
    stats: Mapping[str, int] = field(factory=dict)  # counts of the hidden structure

    def reachable_guardian_pairs(self, merges: Iterable[Any]) -> set[tuple[str, str]]:
        """True (old, new) account pairs that sit on a merged student pair.

        Guardian matching compares accounts only across merged students, so
        these are the pairs it can propose; recall is measured against them.
        """
        old, new = guardian_accounts(self.archived), guardian_accounts(self.synced)
        merged = {(m.archived_id, m.synced_id) for m in merges}
        return {
            (a, s)
            for a, s in self.guardian_truth.items()
            if s
            and a in old
            and s in new
            and any((x, y) in merged for x in old[a].student_ids for y in new[s].student_ids)
        }


# --- Small helpers -----------------------------------------------------------------------

_T = TypeVar("_T")


class _Random(random.Random):
    """``random.Random`` with a float-based ``randrange``, several times cheaper.

    Uniform to within 2**-53, plenty for a simulation; the generator spends
    most of its time drawing small integers.
    """

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            return int(self.random() * start)
        return start + int(self.random() * (stop - start))


class _Pool(Generic[_T]):
    """Weighted choice by bisection (``random.choices`` is slower per call)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[_T], weights: Sequence[float] | None = None) -> None:
        self.items = tuple(items)
        if weights is None:  # Zipf-like by rank: a few common names, a long tail
            weights = [(rank + 8.0) ** -0.9 for rank in range(len(self.items))]
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]
        self.cum[-1] = float("inf")  # so rounding can never index past the end

    def pick(self, rng: random.Random) -> _T:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


@frozen
class _GroupPools:
    group: NameGroup
    child: tuple[_Pool[str], _Pool[str]]  # (male, female)
    adult: tuple[_Pool[str], _Pool[str]]
    surnames: _Pool[str]


@functools.cache
def _group_pools() -> _Pool[_GroupPools]:
    """Pools are built once per process: building them per call would dominate small runs."""
    pools = [
        _GroupPools(
            g,
            (_Pool(g.child_m), _Pool(g.child_f)),
            (_Pool(g.adult_m), _Pool(g.adult_f)),
            _Pool(g.surnames),
        )
        for g in GROUPS
    ]
    return _Pool(pools, [g.weight for g in GROUPS])


@functools.cache
def _nicknames(name: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Real nicknames of a formal name; familiar ones (Bill, Kate, Alex) weighted up."""
    found = sorted(_nick_namer().nicknames_of(name.lower()))
    names = tuple(n.capitalize() for n in found if n != name.lower())
    weights = tuple(
        4.0 if n in COMMON_NICKNAMES or name.lower().startswith(n[:2].lower()) else 1.0
        for n in names
    )
    return names, weights


@functools.cache
def _nick_namer() -> Any:
    from nicknames import NickNamer  # noqa: PLC0415  (reads its data file once)

    return NickNamer()


@functools.lru_cache(maxsize=20_000)
def _fold(text: str) -> str:
    """ASCII without accents, as many SIS exports and most typists write names."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return folded.replace("ø", "o").replace("Ø", "O")


_ALNUM = re.compile(r"[^a-z0-9]")


@functools.lru_cache(maxsize=100_000)
def _slug(text: str) -> str:
    return _ALNUM.sub("", _fold(text).lower())


_QWERTY = "qwertyuiop asdfghjkl zxcvbnm"
_NEIGHBOURS: dict[str, str] = {}
for _row in _QWERTY.split():
    for _i, _ch in enumerate(_row):
        _NEIGHBOURS[_ch] = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]


def _typo(rng: random.Random, name: str) -> str:
    """One keyboard slip: insert, delete, substitute or transpose (rarely the first letter)."""
    if len(name) < 3:
        return name
    pos = rng.randrange(1, len(name))
    op = rng.randrange(4)
    near = _NEIGHBOURS.get(name[pos].lower()) or "aeiou"
    if op == 0:
        return name[:pos] + near[rng.randrange(len(near))] + name[pos:]
    if op == 1:
        return name[:pos] + name[pos + 1 :]
    if op == 2:
        return name[:pos] + near[rng.randrange(len(near))] + name[pos + 1 :]
    if pos == len(name) - 1:
        pos -= 1
    return name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :]


@functools.cache
def _school_year_start(year: int) -> int:
    """Ordinal of September 2: children born from then on start school a year later."""
    return dt.date(year, 9, 2).toordinal()


def _format_phone(digits: str, style: int) -> str:
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if style == 0:
        return f"+1{digits}"
    if style == 1:
        return f"({area}) {exchange}-{line}"
    if style == 2:
        return f"{area}-{exchange}-{line}"
    if style == 3:
        return f"{area}.{exchange}.{line}"
    if style == 4:
        return digits
    return f"+1 {area} {exchange} {line}"


_ARCH_PHONE_STYLES = _Pool(range(6), (0.05, 0.35, 0.35, 0.1, 0.12, 0.03))
# Two parents 62%, single mother 26%, single father 7%, another guardian 5%.
_HOUSEHOLDS: _Pool[tuple[str, ...]] = _Pool(
    (("Mother", "Father"), ("Mother",), ("Father",), ("Guardian",)), (0.62, 0.26, 0.07, 0.05)
)
_TYPED_STREET_STYLES = _Pool((2, 3, 4, 5), (0.35, 0.35, 0.15, 0.15))  # see _street
_ARCH_MISSING = (ARCH_EMAIL_MISSING, ARCH_PHONE_MISSING)
_SYNC_MISSING = (SYNC_EMAIL_MISSING, SYNC_PHONE_MISSING)
_SYNC_PHONE_STYLES = _Pool((0, 1, 4), (0.6, 0.2, 0.2))
_PROVIDERS = _Pool([p for p, _ in EMAIL_PROVIDERS], [w for _, w in EMAIL_PROVIDERS])


# --- Hidden people (the truth both rosters are rendered from) ------------------------------

_Address = tuple[int, int, str, int, str, int, str]
# number, direction (-1 none), street, suffix index, unit, town index, ZIP


@define(eq=False)
class _Adult:
    first: str
    last: str
    gender: str
    relationship: str  # Mother, Father, Grandmother, Grandfather or Guardian
    email_a: str = ""  # personal email at archive time
    email_s: str = ""  # ... and at the sync (changed now and then)
    phone_a: str = ""  # ten digits
    phone_s: str = ""
    on_a: bool = False  # has an account on the old platform
    on_s: bool = False  # listed as a contact in the SIS
    staff_mode: str = ""  # for parent-staff: "same", "email", "phone" or "name"
    n_arch: int = 0  # old platform accounts: 0, 1, or 2 when the parent signed up twice
    arch_accounts: list[Contact] = Factory(list)  # each guardian account is one Contact,
    sync_account: Contact | None = None  # shared by all the records that list it

    @property
    def main(self) -> bool:
        return self.relationship in ("Mother", "Father", "Guardian")


@define(eq=False)
class _Child:
    family: _Family
    first: str
    gender: str
    dob: dt.date
    last: str
    middle: str | None = None
    suffix: str = ""  # Jr, III
    grade_a: int | None = None  # None: not in the archive
    grade_s: int | None = None  # None: not in the sync (left)
    school_a: str = ""
    school_s: str = ""
    copies: int = 0  # archived records of this child (2: typed twice)
    links: list[list[Contact]] = Factory(list)  # guardian accounts of each archived copy
    sid: str = ""  # synced student id
    sis_id: str = ""
    state_id: str = ""
    student_number: str = ""
    email: str = ""  # district student email


@define(eq=False)
class _Family:
    group: _GroupPools
    parts: tuple[str, ...]  # surname parts: ("García", "López") or ("Smith", "Jones")
    surname: str
    address: _Address = (0, -1, "", 0, "", 0, "")
    address_s: _Address = (0, -1, "", 0, "", 0, "")
    zone: int = 0  # index of the elementary attendance zone
    zone_s: int = 0
    adults: list[_Adult] = Factory(list)
    children: list[_Child] = Factory(list)
    # The SIS writes a household the same way on every sibling: rendered once.
    sync_address: tuple[str | None, str | None, str | None, str | None] | None = None
    sync_contacts: tuple[Contact, ...] | None = None


@define(eq=False)
class _StaffPerson:
    first: str
    last: str
    gender: str
    adult: _Adult | None  # set for staff who are also guardians
    email: str = ""
    phone: str = ""
    school_a: str = ""
    school_s: str = ""
    on_a: bool = False
    on_s: bool = False
    id_a: str = ""
    id_s: str = ""


# --- The generator -----------------------------------------------------------------------


_PRIME_8 = 899_999_963  # largest prime below 9 * 10**8: sis ids stay 9 digits
_PRIME_9 = 8_999_999_993  # ... below 9 * 10**9: state ids stay 10 digits


def _ids(prefix: str, count: int) -> list[str]:
    template = f"{prefix}%0{max(6, len(str(count)))}d"
    return [template % i for i in range(1, count + 1)]


def generate_district(
    n_students: int,
    *,
    seed: int = 0,
    synced_dob: bool = True,
    schools: int | None = None,
    same_year: bool = False,
) -> SyntheticDistrict:
    """A district of about ``n_students`` archived records and its later sync, with truth.

    ``synced_dob=False`` simulates a sync without birth dates; ``same_year``
    a sync in the archive's own school year (no promotion, no graduates);
    ``schools`` overrides the school count (default one per 450 students).
    """
    if n_students < 1:
        raise ValueError("n_students must be at least 1")
    if schools is not None and schools < 1:
        raise ValueError("schools must be at least 1")
    # A million small objects whose few cycles build() breaks itself: collector passes
    # would only cost time (about a quarter of the run at 150,000 students).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Builder(n_students, seed, synced_dob, schools, same_year).build()
    finally:
        if gc_was_enabled:
            gc.enable()


class _Builder:
    """Draws hidden families, then renders them as the two rosters."""

    def __init__(
        self, n: int, seed: int, synced_dob: bool, schools: int | None, same_year: bool
    ) -> None:
        self.rng = rng = _Random(seed)
        self.n, self.seed, self.synced_dob, self.same_year = n, seed, synced_dob, same_year
        self.year_s = BASE_YEAR if same_year else BASE_YEAR + 1
        self.groups = _group_pools()
        self.us = self.groups.items[0]
        self.grades = _Pool(_GRADES, _GRADE_WEIGHTS)
        self.kids = _Pool([k for k, _ in _KIDS_PER_FAMILY], [w for _, w in _KIDS_PER_FAMILY])
        self.metro = METROS[rng.randrange(len(METROS))]
        self.towns = _Pool(range(len(self.metro.towns)))  # first town biggest
        self.domain = f"{_slug(self.metro.towns[0])}schools.org"
        self.sis_accents = rng.random() < SIS_KEEPS_ACCENTS
        self.sis_upper = rng.random() < SIS_UPPER_NAMES
        self.sis_street_upper = rng.random() < 0.3
        graduates = 0.0 if same_year else _GRADE_WEIGHTS[-1] / sum(_GRADE_WEIGHTS) * GRADUATE_RATE
        other = max(0.0, (LEFT_RATE - graduates) / (1.0 - graduates))
        self.p_family_leave = other * FAMILY_LEAVE_SHARE
        self.p_child_leave = other * (1.0 - FAMILY_LEAVE_SHARE)
        mean_kids = sum(k * w for k, w in _KIDS_PER_FAMILY)
        self.p_twins = TWIN_RATE * mean_kids / (2.0 - TWIN_RATE)
        self.used_emails: set[str] = set()
        self.used_numbers: set[int] = set()
        self.sis_names: dict[str, str] = {}
        self.twin_pairs = 0
        self.moved_families = 0
        total = schools if schools is not None else max(3, round(n / STUDENTS_PER_SCHOOL))
        ids = [f"sch{i:04d}" for i in range(1, total + 1)]
        rng.shuffle(ids)
        if total == 1:
            self.levels = (ids, ids, ids)
        elif total == 2:
            self.levels = (ids[:1], ids[:1], ids[1:])
        else:
            n_mid, n_high = max(1, round(total * 0.2)), max(1, round(total * 0.17))
            n_elem = total - n_mid - n_high
            self.levels = (ids[:n_elem], ids[n_elem : n_elem + n_mid], ids[n_elem + n_mid :])

    # -- schools, grades, dates --

    def _school(self, grade: int, zone: int) -> str:
        """The zoned school for a grade: elementary K-5 feeds middle 6-8 feeds high 9-12."""
        level = self.levels[0 if grade <= 5 else 1 if grade <= 8 else 2]
        return level[zone * len(level) // len(self.levels[0])]

    def _moved_school(self, grade: int, zone: int) -> str:
        if self.rng.random() < SCHOOL_MOVE_RATE:
            level = self.levels[0 if grade <= 5 else 1 if grade <= 8 else 2]
            return level[self.rng.randrange(len(level))]
        return self._school(grade, zone)

    def _dob(self, grade: int, year: int) -> dt.date:
        """Birth date consistent with the grade: 5 years old on Sept 1 means kindergarten."""
        start = _school_year_start(year - grade - 6)
        return dt.date.fromordinal(start + int(self.rng.random() * 365))

    def _next_grade(self, grade: int) -> int:
        rng = self.rng
        r = rng.random()
        if self.same_year:
            if r < SAME_YEAR_GRADE_CHANGE:
                return min(12, max(-2, grade + (-1, 1)[rng.randrange(2)]))
            return grade
        if grade == -2:  # PreK goes on to kindergarten (transitional K now and then)
            return 0 if r < 0.9 else -1
        if r < PROMOTED_RATE:
            return min(12, grade + 1)
        if r < PROMOTED_RATE + RETAINED_RATE:
            return grade
        return min(12, max(-2, grade + (-1, 2)[rng.randrange(2)]))

    # -- people --

    def _first_name(self, fam: _Family, gender: str, adult: bool = False) -> str:
        group = fam.group if self.rng.random() < fam.group.group.own_first_rate else self.us
        return (group.adult if adult else group.child)[gender == "F"].pick(self.rng)

    def _unique_email(self, local: str, domain: str) -> str:
        """Distinct people never share an address by accident (only households do)."""
        email = f"{local}@{domain}"
        while email in self.used_emails:
            email = f"{local}{self.rng.randrange(1, 1000)}@{domain}"
        self.used_emails.add(email)
        return email

    def _personal_email(self, first: str, last: str) -> str:
        rng = self.rng
        f, surname = _slug(first) or "parent", _slug(last) or "family"
        style = rng.randrange(6)
        if style == 0:
            local = f"{f}.{surname}"
        elif style == 1:
            local = f"{f}{surname}"
        elif style == 2:
            local = f"{f[0]}{surname}"
        elif style == 3:
            local = f"{f}_{surname}"
        else:
            local = f"{surname}{f[0]}" if style == 4 else f"{f}{surname[0]}"
        if rng.random() < 0.45:
            local += str(rng.randrange(1, 100))
        return self._unique_email(local, _PROVIDERS.pick(rng))

    def _work_email(self, first: str, last: str) -> str:
        return self._unique_email(f"{_slug(first)}.{_slug(last)}", self.domain)

    def _phone(self) -> str:
        """Ten NANP digits that phonenumbers accepts: a real area code, exchange 2-9xx."""
        rng = self.rng
        codes = OTHER_AREA_CODES if rng.random() < OUT_OF_AREA_PHONE else self.metro.area_codes
        exchange = 555
        while exchange == 555 or exchange % 100 == 11:
            exchange = rng.randrange(200, 1000)
        return f"{codes[rng.randrange(len(codes))]}{exchange}{rng.randrange(10000):04d}"

    def _address(self) -> _Address:
        rng = self.rng
        town = self.towns.pick(rng)
        prefixes = self.metro.zip_prefixes
        zip_code = f"{prefixes[town % len(prefixes)]}{(town * 13 + 1 + rng.randrange(4)) % 100:02d}"
        unit = ""
        if rng.random() < 0.15:
            unit = f"{rng.randrange(1, 40)}{'ABCD'[rng.randrange(4)] if rng.random() < 0.3 else ''}"
        return (
            rng.randrange(100, 10000) if rng.random() < 0.8 else rng.randrange(1, 100),
            rng.randrange(4) if rng.random() < 0.12 else -1,
            STREET_NAMES[rng.randrange(len(STREET_NAMES))],
            rng.randrange(len(STREET_SUFFIXES)),
            unit,
            town,
            zip_code,
        )

    def _adults(self, fam: _Family) -> None:
        rng = self.rng
        roles = _HOUSEHOLDS.pick(rng)
        if len(roles) < 3 and rng.random() < GRANDPARENT_RATE:
            roles += ("Grandmother" if rng.random() < 0.65 else "Grandfather",)
        for role in roles:
            gender = _ROLE_GENDER.get(role) or ("F" if rng.random() < 0.7 else "M")
            if role == "Father" or (role == "Grandfather" and rng.random() < 0.6):
                last = fam.parts[0]
            elif role == "Mother" and len(fam.parts) == 2:
                last = fam.parts[1]
            elif role in ("Mother", "Guardian", "Grandmother") and rng.random() < (
                0.9 if "Father" not in roles else 0.6
            ):
                last = fam.parts[0]
            else:
                last = fam.group.surnames.pick(rng)
            adult = _Adult(self._first_name(fam, gender, adult=True), last, gender, role)
            adult.email_a = self._personal_email(adult.first, last)
            adult.phone_a = self._phone()
            adult.email_s = (
                self._personal_email(adult.first, last)
                if rng.random() < EMAIL_CHANGED_RATE
                else adult.email_a
            )
            adult.phone_s = self._phone() if rng.random() < PHONE_CHANGED_RATE else adult.phone_a
            fam.adults.append(adult)
        if roles[:2] == ("Mother", "Father"):
            mother, father = fam.adults[0], fam.adults[1]
            if rng.random() < SHARED_PHONE_RATE:
                father.phone_a, father.phone_s = mother.phone_a, mother.phone_s
            if rng.random() < SHARED_EMAIL_RATE:
                father.email_a, father.email_s = mother.email_a, mother.email_s

    def _family(self, *, new: bool) -> _Family:
        rng = self.rng
        group = self.groups.pick(rng)
        first = group.surnames.pick(rng)
        parts: tuple[str, ...] = (first,)
        surname = first
        hispanic = group.group.key == "hispanic"
        if rng.random() < (COMPOUND_SURNAME_RATE if hispanic else HYPHENATED_SURNAME_RATE):
            second = group.surnames.pick(rng)
            if second != first:
                parts = (first, second)
                surname = f"{first} {second}" if hispanic else f"{first}-{second}"
        fam = _Family(group, parts, surname)
        self._adults(fam)
        fam.address = fam.address_s = self._address()
        fam.zone = fam.zone_s = rng.randrange(len(self.levels[0]))
        if rng.random() < FAMILY_MOVED_RATE:
            self.moved_families += 1
            fam.address_s = self._address()
            if rng.random() < ZONE_CHANGE_ON_MOVE:
                fam.zone_s = rng.randrange(len(self.levels[0]))
        year = self.year_s if new else BASE_YEAR
        grades: list[int] = []
        for _ in range(self.kids.pick(rng)):
            grade = self.grades.pick(rng)
            for _retry in range(5):  # siblings rarely share a grade
                if grade not in grades:
                    break
                grade = self.grades.pick(rng)
            grades.append(grade)
            self._child(fam, grade, year, new=new)
        if rng.random() < self.p_twins:
            self._twin(fam, fam.children[rng.randrange(len(fam.children))], year, new=new)
        return fam

    def _child(
        self,
        fam: _Family,
        grade: int,
        year: int,
        *,
        new: bool,
        gender: str = "",
        first: str = "",
        dob: dt.date | None = None,
    ) -> _Child:
        rng = self.rng
        gender = gender or ("F" if rng.random() < 0.5 else "M")
        if not first:
            taken = [c.first for c in fam.children]
            first = self._first_name(fam, gender)
            for _retry in range(20):
                if first not in taken:
                    break
                first = self._first_name(fam, gender)
        child = _Child(fam, first, gender, dob or self._dob(grade, year), fam.surname)
        if rng.random() < SYNC_MIDDLE_RATE:
            middle = self._first_name(fam, gender)
            child.middle = middle if middle != first else None
        if gender == "M" and fam.group is self.us and rng.random() < SUFFIX_RATE:
            father = next((a for a in fam.adults if a.relationship == "Father"), None)
            if father and father.first not in [c.first for c in fam.children]:
                child.first = father.first
                child.suffix = "Jr" if rng.random() < 0.8 else "III"
        if new:
            child.grade_s = grade
            child.school_s = self._school(grade, fam.zone_s)
        else:
            child.grade_a = grade
            child.school_a = self._school(grade, fam.zone)
            child.copies = 2 if rng.random() < DUPLICATE_RATE else 1
        fam.children.append(child)
        return child

    def _twin(self, fam: _Family, base: _Child, year: int, *, new: bool) -> None:
        """A twin: same birth date, grade, school and guardians; a different first name."""
        rng = self.rng
        grade = base.grade_s if new else base.grade_a
        assert grade is not None
        self.twin_pairs += 1
        if rng.random() < SIMILAR_TWIN_NAMES_RATE:
            one, one_gender, other, other_gender = SIMILAR_NAME_PAIRS[
                rng.randrange(len(SIMILAR_NAME_PAIRS))
            ]
            if all(c.first not in (one, other) for c in fam.children if c is not base):
                if base.gender != one_gender and base.middle:
                    base.middle = self._first_name(fam, one_gender)
                base.first, base.gender, base.suffix = one, one_gender, ""
                self._child(
                    fam, grade, year, new=new, gender=other_gender, first=other, dob=base.dob
                )
                return
        self._child(fam, grade, year, new=new, dob=base.dob)

    def _fates(self, fam: _Family) -> None:
        """Who left, and where the rest are a year on. Twins share a fate unless split."""
        rng = self.rng
        family_leaves = rng.random() < self.p_family_leave
        by_dob: dict[dt.date, list[_Child]] = {}
        for child in fam.children:
            by_dob.setdefault(child.dob, []).append(child)
        for group in by_dob.values():
            grade = group[0].grade_a
            assert grade is not None
            graduated = not self.same_year and grade == 12 and rng.random() < GRADUATE_RATE
            if family_leaves or graduated or rng.random() < self.p_child_leave:
                continue
            next_grade = self._next_grade(grade)
            school = self._moved_school(next_grade, fam.zone_s)
            stay = group
            if len(group) > 1 and rng.random() < TWIN_SPLIT_RATE:
                leaver = group[rng.randrange(len(group))]
                stay = [c for c in group if c is not leaver]
            for child in stay:
                child.grade_s, child.school_s = next_grade, school

    def _families(self) -> tuple[list[_Family], int]:
        """Archived families first, then new siblings and new families up to the new share."""
        rng = self.rng
        families: list[_Family] = []
        target = max(1, round(self.n / (1.0 + DUPLICATE_RATE)))
        count = 0
        while count < target:
            fam = self._family(new=False)
            self._fates(fam)
            families.append(fam)
            count += len(fam.children)
        staying = sum(1 for f in families for c in f.children if c.grade_s is not None)
        n_new = round(NEW_RATE / (1.0 - NEW_RATE) * staying)
        n_siblings = round(n_new * NEW_SIBLING_SHARE)
        hosts = [f for f in families if any(c.grade_s is not None for c in f.children)]
        for _ in range(n_siblings if hosts else 0):
            fam = hosts[rng.randrange(len(hosts))]
            if not self.same_year and rng.random() < 0.6:  # a younger sibling starting school
                grade = 0 if rng.random() < 0.75 else -2
            else:
                grade = self.grades.pick(rng)
            self._child(fam, grade, self.year_s, new=True)
        new_count = n_siblings if hosts else 0
        while new_count < n_new:
            fam = self._family(new=True)
            families.append(fam)
            new_count += len(fam.children)
        return families, n_siblings if hosts else 0

    def _presence(self, fam: _Family) -> None:
        """Which adults had an old platform account, and which the SIS lists as contacts."""
        rng = self.rng
        has_a = any(c.copies for c in fam.children)
        has_s = any(c.grade_s is not None for c in fam.children)
        for adult in fam.adults:
            main = adult.main
            adult.on_a = has_a and rng.random() < (ARCH_ACCOUNT_RATE if main else 0.5)
            adult.on_s = has_s and rng.random() < (SYNC_ACCOUNT_RATE if main else 0.7)
        if has_a and not any(a.on_a for a in fam.adults):
            fam.adults[0].on_a = True
        if has_s and not any(a.on_s for a in fam.adults):
            fam.adults[0].on_s = True
        several = sum(1 for c in fam.children if c.copies) > 1
        for adult in fam.adults:
            if adult.on_a:
                adult.n_arch = 2 if several and rng.random() < ARCH_DUP_GUARDIAN_RATE else 1

    def _staff_people(self, families: list[_Family], n_a: int, n_s: int) -> list[_StaffPerson]:
        """Teachers on each side; some are parents too (multi-role users)."""
        rng = self.rng
        staff_a = max(1, round(n_a / STUDENTS_PER_STAFF))
        staff_s = max(1, round(n_s / STUDENTS_PER_STAFF))
        candidates = [a for f in families for a in f.adults if a.on_a and a.on_s]
        n_parents = min(len(candidates), round(PARENT_STAFF_RATE * (staff_a + staff_s) / 2))
        people: list[_StaffPerson] = []
        for adult in rng.sample(candidates, n_parents):
            person = _StaffPerson(adult.first, adult.last, adult.gender, adult)
            person.on_a = person.on_s = True
            mode = "same"
            if rng.random() < PARENT_STAFF_DIFF_RATE:
                mode = ("email", "phone", "name")[rng.randrange(3)]
                if mode == "name" and not _nicknames(adult.first)[0]:
                    mode = "email"
            adult.staff_mode = mode
            adult.n_arch = 1  # kept simple so the staff truth pairs stay clean
            person.email = self._work_email(adult.first, adult.last)
            if mode != "email":  # signed up as a parent with the school address
                adult.email_a = adult.email_s = person.email
            person.phone = self._phone()
            people.append(person)
        n_both = round(max(0, staff_a - n_parents) * STAFF_RETAINED_RATE)
        plan = (
            [(True, True)] * n_both
            + [(True, False)] * max(0, staff_a - n_parents - n_both)
            + [(False, True)] * max(0, staff_s - n_parents - n_both)
        )
        for on_a, on_s in plan:
            group = self.groups.pick(rng)
            gender = "F" if rng.random() < 0.75 else "M"
            first = group.adult[gender == "F"].pick(rng)
            last = group.surnames.pick(rng)
            person = _StaffPerson(first, last, gender, None)
            person.on_a, person.on_s = on_a, on_s
            person.email = self._work_email(first, last)
            person.phone = self._phone() if rng.random() < 0.4 else ""
            people.append(person)
        all_schools = sorted({s for level in self.levels for s in level})
        for person in people:
            person.school_a = person.school_s = all_schools[rng.randrange(len(all_schools))]
            if rng.random() < 0.1:
                person.school_s = all_schools[rng.randrange(len(all_schools))]
        return people

    # -- rendering: how each side wrote people down --

    def _unique_int(self, low: int, high: int) -> int:
        value = self.rng.randrange(low, high)
        while value in self.used_numbers:
            value = self.rng.randrange(low, high)
        self.used_numbers.add(value)
        return value

    def _typed(self, name: str, nick_rate: float, typo_rate: float) -> str:
        """A name as a teacher or parent typed it: nickname, slip of a key, accents dropped."""
        rng = self.rng
        r = rng.random()  # one draw: a nickname or a typo (both at once is rare enough)
        if r < nick_rate:
            nicks, weights = _nicknames(name)
            if nicks:
                name = rng.choices(nicks, weights)[0]
        elif r < nick_rate + typo_rate:
            name = _typo(rng, name)
        if not name.isascii() and rng.random() >= ARCH_ACCENT_KEPT:
            name = _fold(name)
        return name

    def _typed_surname(self, fam: _Family, suffix: str) -> str:
        rng = self.rng
        last, r = fam.surname, rng.random()
        if len(fam.parts) == 2 and " " in last:  # both Hispanic surnames
            if r < ARCH_COMPOUND_LAST_FIRST_ONLY:
                last = fam.parts[0]
            elif r < ARCH_COMPOUND_LAST_FIRST_ONLY + 0.15:
                last = "-".join(fam.parts)
        elif len(fam.parts) == 2:  # hyphenated
            if r < 0.25:
                last = last.replace("-", " ")
            elif r < 0.4:
                last = fam.parts[0]
        elif " " in last and r < 0.2:
            last = last.replace(" ", "")  # DeLaCruz
        if "'" in last and rng.random() < 0.3:
            last = last.replace("'", "")  # OBrien
        last = self._typed(last, 0.0, ARCH_LAST_TYPO_RATE)
        if suffix and rng.random() < 0.4:
            last = f"{last} {suffix}{'.' if suffix == 'Jr' else ''}"
        return last

    def _sis(self, name: str) -> str:
        """A name as this district's SIS exports it (accents kept or not, maybe capitals)."""
        out = self.sis_names.get(name)
        if out is None:
            out = name if self.sis_accents else _fold(name)
            out = out.upper() if self.sis_upper else out
            self.sis_names[name] = out
        return out

    def _noisy_dob(self, dob: dt.date) -> dt.date | None:
        rng = self.rng
        r = rng.random()
        if r < ARCH_DOB_MISSING:
            return None
        r -= ARCH_DOB_MISSING
        if r < ARCH_DOB_SWAP:
            if dob.day <= 12 and dob.day != dob.month:
                return dob.replace(month=dob.day, day=dob.month)
        elif r < ARCH_DOB_SWAP + ARCH_DOB_DIGIT:
            for _retry in range(5):  # one digit of the year, month or day off by one
                which, step = rng.randrange(3), (-1, 1)[rng.randrange(2)]
                value = (dob.year, dob.month, dob.day)[which]
                value = value - value % 10 + (value % 10 + step) % 10
                try:
                    if which == 0:
                        return dob.replace(year=value)
                    if value and which == 1:
                        return dob.replace(month=value)
                    if value:
                        return dob.replace(day=value)
                except ValueError:
                    continue
        return dob

    def _street(self, address: _Address, style: int) -> str:
        """Style 0/1: SIS (USPS abbreviations, 1 in capitals); 2-5: hand-typed variants."""
        number, direction, street, suffix, unit = address[:5]
        full, abbr = STREET_SUFFIXES[suffix]
        words = [str(number)]
        if style <= 1:
            if direction >= 0:
                words.append(STREET_DIRECTIONS[direction][1])
            words += [street, abbr, "Apt", unit] if unit else [street, abbr]
            text = " ".join(words)
            return text.upper() if style == 1 else text
        rng = self.rng
        if direction >= 0:
            words.append(STREET_DIRECTIONS[direction][rng.randrange(2)])
        words += [street, full if style in (2, 5) else abbr + ("." if style == 3 else "")]
        text = " ".join(words)
        if unit and rng.random() < 0.7:
            text += f" #{unit}" if style == 3 else f", Apt {unit}"
        return text.lower() if style == 4 else text.upper() if style == 5 else text

    def _identifiers(self, families: list[_Family]) -> None:
        """SIS numbers drawn at random, so no id encodes generation order (or truth)."""
        rng = self.rng
        children = [c for f in families for c in f.children]
        k = len(children)
        top = max(3_000_000, 20 * k)
        numbers = rng.sample(range(1, top), k)
        # The other ids are bijections of the number (multiplication modulo a prime above
        # the range), so they are unique too and look random, at no extra sampling cost.
        a, b = rng.randrange(10**6, 10**7), rng.randrange(10**7, 10**8)
        domain = f"students.{self.domain}"
        used = self.used_emails
        for child, number in zip(children, numbers, strict=True):
            child.student_number = f"{number:07d}"
            child.sis_id = str(10**8 + (number * a + b) % _PRIME_8)
            child.state_id = str(10**9 + (number * b + a) % _PRIME_9)
            if (child.grade_s or 0) < 3 and (child.grade_a or 0) < 6:
                continue  # young children have no school email on either side
            grad = (child.dob.year + 19) % 100
            local = f"{_slug(child.first)}.{_slug(child.family.parts[0])}{grad:02d}"
            email = f"{local}@{domain}"
            if email in used:
                email = self._unique_email(local, domain)
            used.add(email)
            child.email = email

    def _contact_values(
        self,
        email: str,
        digits: str,
        styles: _Pool[int],
        missing: tuple[float, float],
        keep: bool,
    ) -> tuple[str | None, str | None]:
        """Email and phone as one side holds them: sometimes missing, rarely garbage."""
        rng = self.rng
        phone: str | None = _format_phone(digits, styles.pick(rng))
        out_email: str | None = email
        if keep:  # a staff member's own guardian account: kept whole so the truth is clean
            return out_email, phone
        r = rng.random()
        if r < missing[0]:
            out_email = None
        elif r < missing[0] + INVALID_EMAIL_RATE:
            local, _, domain = email.partition("@")
            out_email = (
                f"{local}@{domain.split('.')[0]}",
                f"{local} @{domain}",
                f"{local}{domain}",
                f"{local}@@{domain}",
            )[rng.randrange(4)]
        r = rng.random()
        if r < missing[1]:
            phone = None
        elif r < missing[1] + INVALID_PHONE_RATE:
            phone = (f"{digits[3:6]}-{digits[6:]}", "000-000-0000", digits[:9])[rng.randrange(3)]
        return out_email, phone

    def _accounts(self, fam: _Family, ids_a: Iterator[str], ids_s: Iterator[str]) -> None:
        """Each adult's guardian accounts, ids dealt from pre-shuffled pools."""
        rng = self.rng
        for adult in fam.adults:
            keep = bool(adult.staff_mode)
            for copy in range(adult.n_arch):
                nick = 0.0 if adult.staff_mode == "name" else ARCH_GUARDIAN_NICKNAME
                first = self._typed(adult.first, nick, ARCH_FIRST_TYPO_RATE / 2)
                last = self._typed(adult.last, 0.0, ARCH_LAST_TYPO_RATE / 2)
                if rng.random() < ARCH_LOWER_RATE:
                    first, last = first.lower(), last.lower()
                email = adult.email_a if not copy else self._personal_email(first, last)
                email_v, phone = self._contact_values(
                    email, adult.phone_a, _ARCH_PHONE_STYLES, _ARCH_MISSING, keep
                )
                r = rng.random()
                if r < 0.4:
                    relationship = None
                elif r < 0.7 and adult.relationship in ("Mother", "Father"):
                    relationship = "Parent"
                else:
                    relationship = adult.relationship
                adult.arch_accounts.append(
                    Contact(next(ids_a), first, last, email_v, phone, relationship, None)
                )
            if adult.on_s:
                email_v, phone = self._contact_values(
                    adult.email_s, adult.phone_s, _SYNC_PHONE_STYLES, _SYNC_MISSING, keep
                )
                sis_id = None
                if rng.random() < CONTACT_SIS_ID_RATE:
                    sis_id = str(self._unique_int(10**6, 10**7))
                adult.sync_account = Contact(
                    next(ids_s),
                    self._sis(adult.first),
                    self._sis(adult.last),
                    email_v,
                    phone,
                    adult.relationship,
                    sis_id,
                )

    def _link(self, fam: _Family) -> None:
        """Which guardian accounts each archived record lists: most, never none.

        A parent may not have joined every teacher's class, but every account
        is on at least one record (else it would be invisible in the roster).
        """
        rng = self.rng
        records = [(i, c) for i, c in enumerate(fam.children) for _ in range(c.copies)]
        linked: set[str] = set()
        for index, child in records:
            accounts = [
                a.arch_accounts[index % len(a.arch_accounts)] for a in fam.adults if a.arch_accounts
            ]
            chosen = [a for a in accounts if rng.random() < ARCH_CONTACT_LINK] or accounts[:1]
            child.links.append(chosen)
            linked.update(a.guardian_id for a in chosen)
        order = {c.guardian_id: n for n, a in enumerate(fam.adults) for c in a.arch_accounts}
        for adult in fam.adults:
            for k, account in enumerate(adult.arch_accounts):
                if account.guardian_id in linked:
                    continue
                # Records that can only list this account of the adult, so the adult is absent.
                fits = [(i, c) for i, c in records if i % len(adult.arch_accounts) == k]
                _index, child = fits[rng.randrange(len(fits))]
                links = child.links[rng.randrange(len(child.links))]
                links.append(account)
                links.sort(key=lambda c: order[c.guardian_id])
                linked.add(account.guardian_id)

    def _archived_student(self, child: _Child, sid: str, copy: int) -> Student:
        rng = self.rng
        fam = child.family
        first = child.first
        if " " in first and rng.random() < ARCH_COMPOUND_FIRST_ONLY:
            first = first.split()[0]
        first = self._typed(first, ARCH_NICKNAME_RATE, ARCH_FIRST_TYPO_RATE)
        last = self._typed_surname(fam, child.suffix)
        middle = None
        if child.middle:
            r = rng.random()
            if r < ARCH_MIDDLE_FULL:
                middle = self._typed(child.middle, 0.0, 0.0)
            elif r < ARCH_MIDDLE_FULL + ARCH_MIDDLE_INITIAL:
                middle = child.middle[0]
        r = rng.random()
        if r < ARCH_UPPER_RATE + ARCH_LOWER_RATE:
            upper = r < ARCH_UPPER_RATE
            first, last = (first.upper(), last.upper()) if upper else (first.lower(), last.lower())
            if middle:
                middle = middle.upper() if upper else middle.lower()
        grade, r = child.grade_a, rng.random()
        if r < ARCH_GRADE_MISSING:
            grade = None
        elif r < ARCH_GRADE_MISSING + ARCH_GRADE_WRONG and grade is not None:
            grade = min(12, max(-2, grade + (-1, 1)[rng.randrange(2)]))
        school = child.school_a
        if copy and rng.random() < 0.2:  # the second teacher was at another school
            school = self._moved_school(child.grade_a or 0, rng.randrange(len(self.levels[0])))
        number = None
        if rng.random() < ARCH_STUDENT_NUMBER:
            number, r = child.student_number, rng.random()
            if r < 0.3:
                number = number.lstrip("0") or number
            elif r < 0.4:
                number = "0" + number
        email = None
        if (child.grade_a or 0) >= 6 and rng.random() < ARCH_EMAIL_RATE:
            email = (
                child.email
                if rng.random() < 0.65
                else self._personal_email(child.first, fam.parts[0])
            )
        street = city = state = zip_code = None
        if rng.random() < ARCH_ADDRESS_RATE:
            street = self._street(fam.address, _TYPED_STREET_STYLES.pick(rng))
            city, r = self.metro.towns[fam.address[5]], rng.random()
            city = city.upper() if r < 0.1 else city.lower() if r < 0.15 else city
            state, r = self.metro.state, rng.random()
            state = STATE_NAMES[state] if r < 0.1 else state.lower() if r < 0.2 else state
            zip_code = fam.address[6] if rng.random() < 0.85 else None
        return Student(  # positional, in field order: a third faster than keywords
            sid,
            first,
            last,
            middle,
            self._noisy_dob(child.dob),
            grade,
            None if rng.random() < ARCH_GENDER_MISSING else child.gender,
            school,
            child.sis_id if rng.random() < ARCH_SIS_ID else None,  # sis_id
            None,  # state_id
            number,
            email,
            street,
            city,
            state,
            zip_code,
            tuple(child.links[copy]),
        )

    def _synced_student(self, child: _Child) -> Student:
        rng = self.rng
        fam = child.family
        last = f"{child.last} {child.suffix}" if child.suffix else child.last
        if fam.sync_address is None:
            fam.sync_address = (None, None, None, None)
            if rng.random() < SYNC_ADDRESS_RATE:
                zip_plus = fam.address_s[6]
                if rng.random() < 0.15:
                    zip_plus += f"-{rng.randrange(10000):04d}"
                fam.sync_address = (
                    self._street(fam.address_s, 1 if self.sis_street_upper else 0),
                    self.metro.towns[fam.address_s[5]],
                    self.metro.state,
                    zip_plus,
                )
        if fam.sync_contacts is None:
            fam.sync_contacts = tuple(a.sync_account for a in fam.adults if a.sync_account)
        street, city, state, zip_code = fam.sync_address
        r = rng.random()
        grade = child.grade_s
        sis = self._sis
        return Student(  # positional, in field order: a third faster than keywords
            child.sid,
            sis(child.first),
            sis(last),
            sis(child.middle) if child.middle else None,
            child.dob if self.synced_dob else None,
            grade,
            "X" if r < 0.004 else None if r < 0.006 else child.gender,
            child.school_s,
            child.sis_id,
            child.state_id,
            child.student_number,
            child.email if (grade or 0) >= 3 and rng.random() < SYNC_EMAIL_RATE else None,
            street,
            city,
            state,
            zip_code,
            fam.sync_contacts,
        )

    def _staff_member(self, person: _StaffPerson, archived: bool) -> StaffMember:
        rng = self.rng
        school = person.school_a if archived else person.school_s
        sid = person.id_a if archived else person.id_s
        sis_id = None if archived else f"T{self._unique_int(10**6, 10**7)}"
        styles = _ARCH_PHONE_STYLES if archived else _SYNC_PHONE_STYLES
        phone = _format_phone(person.phone, styles.pick(rng)) if person.phone else None
        adult = person.adult
        if adult is None:
            if archived:
                first = self._typed(person.first, ARCH_NICKNAME_RATE / 2, ARCH_FIRST_TYPO_RATE / 3)
                last = self._typed(person.last, 0.0, ARCH_LAST_TYPO_RATE / 3)
            else:
                first, last = self._sis(person.first), self._sis(person.last)
            return StaffMember(sid, first, last, person.email, phone, school, sis_id)
        account = adult.arch_accounts[0] if archived else adult.sync_account
        assert account is not None
        first, email = account.first_name or adult.first, account.email
        if adult.staff_mode == "email":
            email = person.email
        elif adult.staff_mode == "name":
            nicks, weights = _nicknames(adult.first)
            first = rng.choices(nicks, weights)[0]
        if adult.staff_mode != "phone":
            phone = account.phone
        last = account.last_name or adult.last
        return StaffMember(sid, first, last, email, phone, school, sis_id)

    def build(self) -> SyntheticDistrict:
        rng = self.rng
        families, n_siblings = self._families()
        for fam in families:
            self._presence(fam)
        archived_children = [c for f in families for c in f.children if c.copies]
        synced_children = [c for f in families for c in f.children if c.grade_s is not None]
        n_records = sum(c.copies for c in archived_children)
        people = self._staff_people(families, n_records, len(synced_children))
        adults = [a for f in families for a in f.adults]
        # Ids are dealt from shuffled pools (and records shuffled before numbering), so
        # neither ids nor order hint at the truth.
        ids_a = _ids("ga", sum(a.n_arch for a in adults))
        ids_s = _ids("gs", sum(1 for a in adults if a.on_s))
        rng.shuffle(ids_a)
        rng.shuffle(ids_s)
        deal_a, deal_s = iter(ids_a), iter(ids_s)
        for fam in families:
            self._accounts(fam, deal_a, deal_s)
            self._link(fam)
        self._identifiers(families)
        rng.shuffle(synced_children)
        for child, sid in zip(synced_children, _ids("s", len(synced_children)), strict=True):
            child.sid = sid
        synced = [self._synced_student(c) for c in synced_children]
        records = [(c, k) for c in archived_children for k in range(c.copies)]
        rng.shuffle(records)
        archived: list[Student] = []
        truth: dict[str, str | None] = {}
        for (child, copy), aid in zip(records, _ids("a", len(records)), strict=True):
            archived.append(self._archived_student(child, aid, copy))
            truth[aid] = child.sid or None
        guardian_truth = dict(
            sorted(
                (c.guardian_id, a.sync_account.guardian_id if a.sync_account else None)
                for a in adults
                for c in a.arch_accounts
            )
        )
        staff_a = [p for p in people if p.on_a]
        staff_s = [p for p in people if p.on_s]
        rng.shuffle(staff_a)
        rng.shuffle(staff_s)
        for person, tid in zip(staff_a, _ids("ta", len(staff_a)), strict=True):
            person.id_a = tid
        for person, tid in zip(staff_s, _ids("ts", len(staff_s)), strict=True):
            person.id_s = tid
        members_a = [self._staff_member(p, archived=True) for p in staff_a]
        members_s = [self._staff_member(p, archived=False) for p in staff_s]
        pairs: list[tuple[str, str]] = []
        for person in people:
            if person.adult is None:
                continue
            guardian_ids = [c.guardian_id for c in person.adult.arch_accounts]
            if person.adult.sync_account is not None:
                guardian_ids.append(person.adult.sync_account.guardian_id)
            pairs += [(s, g) for s in (person.id_a, person.id_s) if s for g in guardian_ids]
        stats = {
            "families": len(families),
            "archived_records": n_records,
            "archived_children": len(archived_children),
            "duplicated_children": sum(1 for c in archived_children if c.copies > 1),
            "left_children": sum(1 for c in archived_children if c.grade_s is None),
            "synced_children": len(synced_children),
            "new_children": sum(1 for c in synced_children if not c.copies),
            "new_siblings": n_siblings,
            "twin_pairs": self.twin_pairs,
            "moved_families": self.moved_families,
            "archived_guardians": len(ids_a),
            "synced_guardians": len(ids_s),
            "archived_staff": len(staff_a),
            "synced_staff": len(staff_s),
            "parent_staff": sum(1 for p in people if p.adult is not None),
        }
        for fam in families:  # break family<->child cycles so refcounting frees them now
            fam.children.clear()
        return SyntheticDistrict(
            archived=Roster(archived, members_a, source="synthetic:archived", format="native"),
            synced=Roster(
                synced,
                members_s,
                source="synthetic:synced",
                format="native",
                has_dob_column=self.synced_dob,
            ),
            truth=truth,
            guardian_truth=guardian_truth,
            staff_guardian_truth=tuple(sorted(pairs)),
            seed=self.seed,
            staff_truth={p.id_a: p.id_s or None for p in sorted(staff_a, key=lambda p: p.id_a)},
            stats=stats,
        )
