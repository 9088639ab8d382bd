"""A second district generator, designed independently of merge_engine.testing.synthetic (issue 10).

Why: matching rules tuned on one generator can fit that generator's quirks. This one
builds a district from families over two school years and corrupts the teacher-typed
archive with error rates taken, where we could, from published studies of
administrative and school records. Every rate is a field of :class:`Rates` and is
listed with its source, or marked as an engineering estimate, in
benchmarks/CORRUPTION.md. Main sources (see that file for what each one supports):

- Damerau (1964), CACM 7(3): ~80% of misspellings are one insertion, deletion,
  substitution or transposition; Pollock & Zamora (1984), CACM 27(4): >90% single-error,
  omissions most common, the first letter is rarely wrong.
- Winkler (1990, ASA Proc. Survey Research Methods; 2006 Census RR Statistics #2006-2):
  in census matching files a large share (order of a fifth) of true-match first names
  and a smaller share (order of a tenth) of surnames do not agree character by character.
- Christen & Pudjijono (2009, PAKDD) and Christen & Vatsalan (2013, CIKM, GeCo):
  corruption types for personal data (keyboard typos, phonetic variants, nicknames,
  missing values, swapped fields); the mechanisms, not the rates.
- Harron et al. (2017), Big Data & Society 4(2); Bohensky et al. (2010), BMC Health
  Services Research 10:346: linkage error is higher for minority-ethnic names, so the
  typo rates are raised for names unfamiliar to the typist.
- CDC NVSS, Births: Final Data (2019-2021): twin birth rate ~31-33 per 1,000 births.
- US Census Bureau, CPS ASEC geographic mobility: 8-10% of people move per year (higher
  for families with young children); GAO-11-40 (2010) on student mobility.
- US Census Bureau 1990 name files: surnames and adults' given names, frequency-weighted.

Usage: python benchmarks/district2.py --students 2000 --seed 1 [--no-archived-dob]
[--no-synced-dob] [--write DIR] prints a summary (and writes both rosters as CSV).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import random
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import district2_names as nm

from merge_engine.model import Contact, Roster, StaffMember, Student

__all__ = ["District2", "Rates", "generate", "generate_district2"]

ARCHIVE_YEAR = 2024  # the archive is the 2024-25 school year, the sync 2025-26
CLUSTERS = (  # (name, share of families): a mid-size US district, roughly
    ("general", 0.60),
    ("hispanic", 0.25),
    ("vietnamese", 0.03),
    ("chinese", 0.03),
    ("korean", 0.015),
    ("south_asian", 0.045),
    ("east_african_arabic", 0.03),
)
EAST_ASIAN = ("vietnamese", "chinese", "korean")


@dataclass(frozen=True)
class Rates:
    """Every probability the generator uses; sources in benchmarks/CORRUPTION.md."""

    # Population and the year between archive and sync
    twin_delivery: float = 0.0155  # twin births ~31-33/1000 babies (CDC NVSS)
    alike_twin_names: float = 0.15  # estimate
    family_leaves: float = 0.07  # CPS ASEC mover rate, most moves leave a small district
    family_joins: float = 0.07
    student_leaves: float = 0.02  # private/charter transfers, dropouts (estimate)
    retained: float = 0.015  # NCES: ~1-2% of K-8 students retained a year
    old_for_grade: float = 0.05  # redshirting and earlier retention (estimate)
    moves_within: float = 0.04  # family moves inside the district (new address, zone)
    class_in_archive: float = 0.8  # share of classes whose teacher used the old platform
    typed_twice: float = 0.02  # a child typed by two teachers (estimate)
    # Names typed by teachers (per archived record)
    given_typo: float = 0.025  # Damerau/Pollock-Zamora mechanism; rate: estimate in range
    surname_typo: float = 0.03  # of manual-entry studies (0.5-4% per field)
    unfamiliar_factor: float = 2.0  # Harron 2017 / Bohensky 2010: higher for minority names
    nickname: float = 0.10  # of children whose name has a common short form (estimate)
    spelling_variant: float = 0.12  # phonetic alternates (Aiden/Aidan), GeCo-style
    school_english_name: float = 0.10  # East Asian children going by an English name
    goes_by_middle: float = 0.015
    name_swap: float = 0.004  # given/surname fields swapped (Christen: swapped fields)
    name_swap_east_asian: float = 0.03  # family-name-first order
    patronymic_confusion: float = 0.10  # Somali naming: father's name typed as surname
    case_variant: float = 0.05
    stray_space: float = 0.02
    drop_punctuation: float = 0.5  # D'Andre -> Dandre / D Andre, Mary-Kate -> Mary Kate
    drop_accent: float = 0.9  # teacher types no accent where the SIS has one
    sis_accent: float = 0.5  # SIS keeps the accent on a name that has one
    surname_initial: float = 0.004  # "Noah S." style class lists
    compound_surname: float = 0.35  # Hispanic children with two surnames in the SIS
    surname_change: float = 0.008  # families whose children's surname changes (estimate)
    middle_initial_typed: float = 0.08
    # Birth dates
    archived_dob_blank: float = 0.08  # blank cells where the archive has the column
    dob_error: float = 0.02  # hospital/admin studies: 1-3% of DOBs disagree
    # Other fields
    archived_gender_blank: float = 0.3
    gender_error: float = 0.005
    grade_error: float = 0.005
    archived_address: float = 0.15
    # Guardians
    guardian_email_change: float = 0.12  # estimate (email churn is not well published)
    guardian_phone_change: float = 0.10  # moves (CPS ASEC) plus carrier changes
    guardian_email_typo: float = 0.02
    guardian_no_sis_id: float = 0.12
    archived_guardian_email: float = 0.85
    archived_guardian_phone: float = 0.55
    archived_guardian_name: float = 0.75
    archived_second_guardian: float = 0.35
    separate_account: float = 0.02  # one adult given a second old account by a typo
    synced_email_missing: float = 0.06
    synced_phone_missing: float = 0.04
    staff_parent: float = 0.25  # share of staff who are guardians of district children
    guardian_work_email: float = 0.3  # staff parents who give the district email


@dataclass
class _Guardian:
    key: int
    first: str
    last: str
    sex: str
    relationship: str
    email: str
    phone: str
    email_new: str
    phone_new: str
    has_sis: bool
    staff: bool = False
    staff_email: str | None = None
    in_archive_year: bool = True
    in_sync_year: bool = True


@dataclass
class _Child:
    key: int
    family: int
    cluster: str
    sex: str
    given: str  # legal given name (may be compound "Maria Fernanda")
    middle: str | None
    surname: str  # legal surname in the archive year (may be compound)
    surname_sync: str
    dob: dt.date
    grade0: int  # grade in the archive year (-1: starts kindergarten in the sync year)
    grade1: int | None  # grade in the sync year, None when gone
    twin_of: int | None = None
    accent: bool = False


@dataclass
class _Family:
    key: int
    cluster: str
    surname: str
    zone: int
    zone_sync: int
    address: tuple[str, str, str, str]
    address_sync: tuple[str, str, str, str]
    guardians: list[_Guardian]
    children: list[_Child] = field(default_factory=list)
    leaves: bool = False
    joins: bool = False


@dataclass(frozen=True)
class District2:
    """Both rosters with the truth and a log of what was done to each archived record."""

    archived: Roster
    synced: Roster
    truth: dict[str, str | None]
    twin_pairs: set[tuple[str, str]]  # (archived id, synced id) of two different twins
    sibling_pairs: set[tuple[str, str]]  # same, for non-twin siblings
    guardian_truth: dict[str, str | None]
    duplicates: dict[str, str]  # second archived record -> first record of the same child
    corruptions: dict[str, tuple[str, ...]]  # archived id -> corruption kinds applied
    opportunities: dict[str, int]  # records on which a conditional corruption could apply
    rates: Rates


class _Weighted:
    """Draw from items by weight (cumulative table, bisect)."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    @classmethod
    def zipf(cls, items: Sequence[str], s: float = 1.0, shift: float = 1.0) -> _Weighted:
        unique = list(dict.fromkeys(items))
        return cls(unique, [1.0 / (rank + shift) ** s for rank in range(len(unique))])

    def draw(self, rng: random.Random) -> str:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def _title(name: str) -> str:
    """Census names are upper case: McDonald, O'Brien, Smith."""
    low = name.capitalize()
    if low.startswith("Mc") and len(low) > 3:
        return "Mc" + low[2:].capitalize()
    if low in _O_NAMES:
        return "O'" + low[1:].capitalize()
    return low


_O_NAMES = {
    "Obrien",
    "Oconnor",
    "Oneal",
    "Oneill",
    "Odonnell",
    "Oneil",
    "Oconnell",
    "Orourke",
    "Okeefe",
    "Omalley",
    "Oreilly",
    "Oconner",
    "Obryan",
    "Ohara",
    "Odaniel",
    "Ogrady",
    "Oleary",
    "Otoole",
    "Oshea",
    "Osullivan",
    "Okane",
    "Oquinn",
    "Odea",
    "Odonovan",
}


def _load_census() -> dict[str, _Weighted]:
    path = Path(__file__).with_name("data") / "census1990_names.tsv"
    lists: dict[str, tuple[list[str], list[float]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        kind, name, freq = line.split("\t")
        names, weights = lists.setdefault(kind, ([], []))
        names.append(_title(name))
        weights.append(max(float(freq), 0.0005))
    return {kind: _Weighted(n, w) for kind, (n, w) in lists.items()}


class _Names:
    """Frequency-weighted name draws per cluster."""

    def __init__(self) -> None:
        census = _load_census()
        self.census_last = census["last"]
        self.adult = {"M": census["male"], "F": census["female"]}
        z = _Weighted.zipf
        self.given = {
            # Shift 25: the top name ~1% of a sex, rank 10 ~0.75%, rank 100 ~0.2%, rank 500
            # ~0.05%, close to the SSA rankings of the 2010s.
            ("general", "F"): z(nm.GIRLS, 1.0, 25),
            ("general", "M"): z(nm.BOYS, 1.0, 25),
            ("hispanic", "F"): z(nm.HISPANIC_GIRLS, 1.0, 12),
            ("hispanic", "M"): z(nm.HISPANIC_BOYS, 1.0, 12),
            ("vietnamese", "F"): z(nm.VIETNAMESE_GIRLS, 0.8, 3),
            ("vietnamese", "M"): z(nm.VIETNAMESE_BOYS, 0.8, 3),
            ("chinese", "F"): z(nm.CHINESE_GIRLS, 0.8, 3),
            ("chinese", "M"): z(nm.CHINESE_BOYS, 0.8, 3),
            ("korean", "F"): z(nm.KOREAN_GIRLS, 0.8, 3),
            ("korean", "M"): z(nm.KOREAN_BOYS, 0.8, 3),
            ("south_asian", "F"): z(nm.SOUTH_ASIAN_GIRLS, 1.0, 6),
            ("south_asian", "M"): z(nm.SOUTH_ASIAN_BOYS, 1.0, 6),
            ("east_african_arabic", "F"): z(nm.EAST_AFRICAN_ARABIC_GIRLS, 1.0, 6),
            ("east_african_arabic", "M"): z(nm.EAST_AFRICAN_ARABIC_BOYS, 1.0, 6),
        }
        # Share of children of a cluster given a name from the general list.
        self.general_share = {
            "general": 1.0,
            "hispanic": 0.35,
            "vietnamese": 0.5,
            "chinese": 0.6,
            "korean": 0.6,
            "south_asian": 0.15,
            "east_african_arabic": 0.05,
        }
        self.surnames = {  # exponent: how concentrated the head is
            # Garcia ~2% of Hispanic people (Census 2010 surnames); rarer ones from census.
            "hispanic": z(nm.HISPANIC_SURNAMES, 0.6, 10),
            "vietnamese": z(nm.VIETNAMESE_SURNAMES, 1.2, 1),  # Nguyen ~32%, Tran 14%, Le 8%
            "chinese": z(nm.CHINESE_SURNAMES, 0.8, 3),  # Wang, Li, Zhang, Chen ~5% each
            "korean": z(nm.KOREAN_SURNAMES, 1.0, 1),  # Kim ~26%, Lee 13%, Park 8.5%
            "south_asian": z(nm.SOUTH_ASIAN_SURNAMES, 0.9, 2),  # Patel ~12%
            "east_african_arabic": z(nm.EAST_AFRICAN_ARABIC_SURNAMES, 1.0, 1),
        }
        self.middle = {"F": z(nm.MIDDLE_GIRLS, 0.8), "M": z(nm.MIDDLE_BOYS, 0.8)}
        self.adult_extra = {"M": nm.ADULT_MALE_EXTRA, "F": nm.ADULT_FEMALE_EXTRA}
        self.coined = {
            sex: z([p + s for p in nm.COINED_PREFIXES for s in suffixes], 0.7, 10)
            for sex, suffixes in (("F", nm.COINED_SUFFIXES_F), ("M", nm.COINED_SUFFIXES_M))
        }
        self.variants = {name: group for group in nm.SPELLING_VARIANTS for name in group}

    def child_given(self, rng: random.Random, cluster: str, sex: str) -> str:
        if rng.random() < self.general_share[cluster]:
            # Names outside the top ~600 (a quarter of US children): coined ones.
            if rng.random() < (0.3 if sex == "F" else 0.2):
                return self.coined[sex].draw(rng)
            return self.given[("general", sex)].draw(rng)
        return self.given[(cluster, sex)].draw(rng)

    def surname(self, rng: random.Random, cluster: str) -> str:
        if cluster == "general" or (cluster == "hispanic" and rng.random() < 0.25):
            return self.census_last.draw(rng)
        return self.surnames[cluster].draw(rng)

    def adult_given(self, rng: random.Random, cluster: str, sex: str) -> str:
        extra = self.adult_extra[sex].get(cluster)
        if extra and rng.random() < 0.7:
            return rng.choice(extra)
        return _title(self.adult[sex].draw(rng))


# --- Corruption primitives ----------------------------------------------------------------

_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    """Keys next to each letter on a QWERTY keyboard (same row, and the rows around it)."""
    out: dict[str, str] = {}
    for row, line in enumerate(_KEYBOARD):
        for col, ch in enumerate(line):
            near = []
            for r in (row - 1, row, row + 1):
                if 0 <= r < len(_KEYBOARD):
                    near += [
                        _KEYBOARD[r][c]
                        for c in (col - 1, col, col + 1)
                        if 0 <= c < len(_KEYBOARD[r]) and (r, c) != (row, col)
                    ]
            out[ch] = "".join(near)
    return out


_NEIGHBOURS = _neighbours()


def typo(rng: random.Random, word: str) -> str:
    """One keystroke error (Damerau's four kinds), rarely on the first letter."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 2:
        return word
    inner = letters[1:] if rng.random() < 0.95 else letters
    i = rng.choice(inner)
    ch = word[i]
    kind = rng.choices(("omit", "sub", "insert", "swap"), (0.35, 0.3, 0.2, 0.15))[0]
    if kind == "omit":
        out = word[:i] + word[i + 1 :]
    elif kind == "sub":
        near = _NEIGHBOURS.get(ch.lower(), string.ascii_lowercase)
        new = rng.choice(near)
        out = word[:i] + (new.upper() if ch.isupper() else new) + word[i + 1 :]
    elif kind == "insert":
        new = ch.lower() if rng.random() < 0.6 else rng.choice(_NEIGHBOURS.get(ch.lower(), "e"))
        out = word[: i + 1] + new + word[i + 1 :]
    else:
        j = i + 1 if i + 1 < len(word) and word[i + 1].isalpha() else i - 1
        a, b = sorted((i, j))
        out = word[:a] + word[b] + word[a] + word[b + 1 :]
        if a == 0 and word[0].isupper():
            out = out[0].upper() + out[1].lower() + out[2:]
    # An edit that changes nothing (swapping "nn", typing "s" next to "s") becomes an omission.
    return out if out.lower() != word.lower() else word[:i] + word[i + 1 :]


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _format_phone(rng: random.Random, digits: str, style: int | None = None) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    forms = (
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
        f"{a}.{b}.{c}",
        f"{a}{b}{c}",
        f"+1 {a} {b} {c}",
        f"1-{a}-{b}-{c}",
        f"{a} {b} {c}",
    )
    return forms[rng.randrange(len(forms)) if style is None else style]


def _new_phone(rng: random.Random, area: str) -> str:
    return area + str(rng.randint(200, 989)) + f"{rng.randrange(10_000):04d}"


# --- The generator ------------------------------------------------------------------------


class _Builder:
    def __init__(self, n_students: int, seed: int, rates: Rates) -> None:
        self.rng = random.Random(seed)
        self.n = n_students
        self.rates = rates
        self.names = _Names()
        self.keys = itertools.count(1)
        self.families: list[_Family] = []
        self.area_codes = [str(self.rng.randint(201, 989)) for _ in range(3)]
        self.n_zones = max(1, round(n_students / 450))
        self.domain = f"d{seed % 1000}.k12.example.org"
        self.used_emails: set[str] = set()

    # Families -------------------------------------------------------------------------
    def build(self) -> None:
        # Classes take ~80% of children into the archive, leavers come out of it: build
        # enough families that the archive holds about n students.
        target = self.n / (self.rates.class_in_archive * 0.99)
        enrolled = 0
        while enrolled < target:
            fam = self._family(joins=False)
            enrolled += sum(0 <= c.grade0 <= 12 for c in fam.children)
        joining = round(len(self.families) * self.rates.family_joins)
        for _ in range(joining):
            self._family(joins=True)

    def _cluster(self) -> str:
        names, weights = zip(*CLUSTERS, strict=True)
        return self.rng.choices(names, weights)[0]

    def _address(self) -> tuple[str, str, str, str]:
        rng = self.rng
        street, kind = rng.choice(nm.STREETS), rng.choice(nm.STREET_TYPES)[0]
        city = rng.choice(nm.CITIES)
        return (
            f"{rng.randint(100, 9899)} {street} {kind}",
            city,
            "MN",
            f"55{rng.randint(100, 999)}",
        )

    def _family(self, *, joins: bool) -> _Family:
        rng, r = self.rng, self.rates
        cluster = self._cluster()
        surname = self.names.surname(rng, cluster)
        if cluster == "hispanic" and rng.random() < r.compound_surname:
            second = self.names.surname(rng, cluster)
            if second != surname:
                surname = f"{surname}{rng.choice(('-', ' '))}{second}"
        address = self._address()
        zone = rng.randrange(self.n_zones)
        fam = _Family(
            key=next(self.keys),
            cluster=cluster,
            surname=surname,
            zone=zone,
            zone_sync=zone,
            address=address,
            address_sync=address,
            guardians=[],
            joins=joins,
        )
        if not joins and rng.random() < r.family_leaves:
            fam.leaves = True
        if not joins and not fam.leaves and rng.random() < r.moves_within:
            fam.address_sync = self._address()
            fam.zone_sync = rng.randrange(self.n_zones)
        self._guardians(fam)
        self._children(fam)
        if not fam.children:
            return self._family(joins=joins)
        if not joins and rng.random() < r.surname_change:
            # Adoption, remarriage, legitimation: the children's legal surname changes.
            first = fam.surname.replace("-", " ").split()[0]
            new = self.names.surname(rng, fam.cluster)
            changed = new if rng.random() < 0.6 else f"{first}-{new}"
            for child in fam.children:
                child.surname_sync = changed
        self.families.append(fam)
        return fam

    def _guardians(self, fam: _Family) -> None:
        rng, r = self.rng, self.rates
        layout = rng.choices(("two", "mother", "father", "grand"), (0.64, 0.24, 0.06, 0.06))[0]
        people: list[tuple[str, str]] = {
            "two": [("F", "Mother"), ("M", "Father")],
            "mother": [("F", "Mother")],
            "father": [("M", "Father")],
            "grand": [("F", "Grandmother")],
        }[layout]
        if layout == "two" and rng.random() < 0.05:
            people = [("F", "Mother"), ("F", "Mother")]
        if rng.random() < 0.1:
            people = [*people, (rng.choice("FM"), rng.choice(("Grandmother", "Guardian")))]
        parts = fam.surname.replace("-", " ").split()
        family_last = parts[0]
        for i, (sex, rel) in enumerate(people):
            last = family_last
            if sex == "F" and rel == "Mother" and len(parts) == 2 and fam.cluster == "hispanic":
                last = parts[1]  # the child's second surname is the mother's first
            elif (
                sex == "F"
                and rel == "Mother"
                and rng.random()
                < (0.6 if fam.cluster in ("hispanic", "vietnamese", "chinese", "korean") else 0.2)
            ):
                last = self.names.surname(rng, fam.cluster)
            if rel in ("Grandmother", "Guardian") and rng.random() < 0.5:
                last = self.names.surname(rng, fam.cluster)
            first = self.names.adult_given(rng, fam.cluster, sex)
            email = self._email(first, last)
            phone = _new_phone(rng, rng.choice(self.area_codes))
            g = _Guardian(
                key=next(self.keys),
                first=first,
                last=last,
                sex=sex,
                relationship=rel,
                email=email,
                phone=phone,
                email_new=email,
                phone_new=phone,
                has_sis=rng.random() >= r.guardian_no_sis_id,
            )
            if rng.random() < r.guardian_email_change:
                g.email_new = self._email(first, last)
            if rng.random() < r.guardian_phone_change:
                g.phone_new = _new_phone(rng, rng.choice(self.area_codes))
            if i >= 2 and rng.random() < 0.3:
                g.in_sync_year = False  # a helper adult no longer listed
            fam.guardians.append(g)
        if fam.joins:
            for g in fam.guardians:
                g.in_archive_year = False
        elif len(fam.guardians) >= 2 and rng.random() < 0.03:
            fam.guardians[1].in_sync_year = False  # separation: one parent dropped
        elif rng.random() < 0.02:
            sex = "M" if fam.guardians[0].sex == "F" else "F"
            first = self.names.adult_given(rng, fam.cluster, sex)
            last = self.names.surname(rng, fam.cluster)
            email = self._email(first, last)
            phone = _new_phone(rng, rng.choice(self.area_codes))
            fam.guardians.append(
                _Guardian(
                    key=next(self.keys),
                    first=first,
                    last=last,
                    sex=sex,
                    relationship="Stepparent",
                    email=email,
                    phone=phone,
                    email_new=email,
                    phone_new=phone,
                    has_sis=rng.random() >= r.guardian_no_sis_id,
                    in_archive_year=False,
                )
            )

    def _email(self, first: str, last: str) -> str:
        rng = self.rng
        f = strip_accents(first).lower().replace(" ", "").replace("'", "")
        la = strip_accents(last).lower().replace(" ", "").replace("'", "").replace("-", "")
        pattern = rng.randrange(6)
        local = (
            f"{f}.{la}",
            f"{f[0]}{la}",
            f"{f}{la}{rng.randint(1, 99)}",
            f"{f}_{la}",
            f"{la}{f[0]}{rng.randint(70, 99)}",
            f"{f}{rng.randint(100, 9999)}",
        )[pattern]
        domains, weights = zip(*nm.EMAIL_DOMAINS, strict=True)
        for _ in range(20):
            email = f"{local}@{rng.choices(domains, weights)[0]}"
            if email not in self.used_emails:
                break
            local += str(rng.randint(0, 9))
        self.used_emails.add(email)
        return email

    def _children(self, fam: _Family) -> None:
        rng, r = self.rng, self.rates
        births = rng.choices((1, 2, 3, 4), (0.42, 0.38, 0.14, 0.06))[0]
        grade = rng.randint(-1, 14) if not fam.joins else rng.randint(-1, 12)
        used: set[str] = set()
        for b in range(births):
            if b:
                grade -= rng.choices((1, 2, 3, 4, 5), (0.12, 0.33, 0.3, 0.15, 0.1))[0]
            if grade < -1:
                break
            twins = rng.random() < r.twin_delivery
            born = self._dob(grade)
            kids = [self._child(fam, grade, born, used)]
            if twins:
                kids.append(self._child(fam, grade, born, used, twin=kids[0]))
            if grade > 12:
                continue
            fam.children.extend(kids)

    def _dob(self, grade: int) -> dt.date:
        rng = self.rng
        year = ARCHIVE_YEAR - 6 - grade + 1  # kindergarten at 5 on September 1
        if rng.random() < self.rates.old_for_grade:
            year -= 1
        start = dt.date(year - 1, 9, 2)
        return start + dt.timedelta(days=rng.randrange(365))

    def _child(
        self, fam: _Family, grade: int, born: dt.date, used: set[str], twin: _Child | None = None
    ) -> _Child:
        rng, r = self.rng, self.rates
        identical = twin is not None and rng.random() < 1 / 3
        sex = twin.sex if twin is not None and identical else rng.choice("FM")
        given = None
        if twin is not None and rng.random() < r.alike_twin_names:
            given = self._alike_twin_name(twin, sex)
        while given is None or given in used:
            given = self.names.child_given(rng, fam.cluster, sex)
        used.add(given)
        middle = self._middle(fam, sex, given)
        # A sibling's given name as a middle name would make siblings look like one child
        # going by the middle name; parents rarely do that.
        for _ in range(5):
            if middle is None or middle not in used or fam.cluster == "east_african_arabic":
                break
            middle = self._middle(fam, sex, given)
        if middle in used and fam.cluster != "east_african_arabic":
            middle = None
        if middle:
            used.add(middle)
        child = _Child(
            key=next(self.keys),
            family=fam.key,
            cluster=fam.cluster,
            sex=sex,
            given=given,
            middle=middle,
            surname=fam.surname,
            surname_sync=fam.surname,
            dob=born,
            grade0=grade,
            grade1=None,
            twin_of=twin.key if twin else None,
        )
        if twin is not None:
            twin.twin_of = child.key
        child.accent = rng.random() < r.sis_accent
        self._progress(fam, child)
        return child

    def _alike_twin_name(self, twin: _Child, sex: str) -> str | None:
        rng = self.rng
        if sex == twin.sex:
            pairs = [p for p in nm.ALIKE_TWIN_NAMES_SAME if p[0] == sex]
            _, a, b = rng.choice(pairs)
        else:
            boy, girl = rng.choice(nm.ALIKE_TWIN_NAMES_MIXED)
            a, b = (boy, girl) if twin.sex == "M" else (girl, boy)
        if twin.given != a:  # rename the first twin so the pair is alike
            twin.given = a
        return b

    def _middle(self, fam: _Family, sex: str, given: str) -> str | None:
        rng = self.rng
        c = fam.cluster
        if c == "general":
            return self.names.middle[sex].draw(rng) if rng.random() < 0.85 else None
        if c == "hispanic":
            if " " in given:
                return None
            if rng.random() < 0.5:
                return self.names.child_given(rng, c, sex)
            return None
        if c == "vietnamese":
            if rng.random() < 0.6:
                return "Thi" if sex == "F" else rng.choice(("Van", "Minh", "Duc", "Quoc"))
            return None
        if c == "east_african_arabic":
            # Somali patronymic: the father's given name; siblings share it.
            father = next((g for g in fam.guardians if g.sex == "M"), None)
            return father.first if father else self.names.adult_given(rng, c, "M")
        return self.names.child_given(rng, c, sex) if rng.random() < 0.4 else None

    def _progress(self, fam: _Family, child: _Child) -> None:
        rng, r = self.rng, self.rates
        if fam.leaves:
            child.grade1 = None
            return
        if child.grade0 >= 12:
            child.grade1 = 12 if rng.random() < 0.03 else None  # most graduate
            return
        if child.grade0 >= 0 and rng.random() < r.student_leaves:
            child.grade1 = None
            return
        retained = 0 <= child.grade0 <= 8 and rng.random() < r.retained
        child.grade1 = child.grade0 + (0 if retained else 1)


def _school(level_grade: int, zone: int, n_zones: int) -> str:
    if level_grade <= 5:
        return f"E{zone:02d}"
    if level_grade <= 8:
        return f"M{zone // 2:02d}"
    return f"H{zone // 4:02d}"


class _Corrupter:
    """The teacher's typing of one archived record; logs each kind applied."""

    def __init__(self, builder: _Builder) -> None:
        self.b = builder
        self.rng = builder.rng
        self.r = builder.rates
        self.applied: list[str] = []
        self.opportunities: Counter[str] = Counter()

    def _hit(self, kind: str, p: float, opportunity: bool = False) -> bool:
        if opportunity:
            self.opportunities[kind] += 1
        if self.rng.random() < p:
            self.applied.append(kind)
            return True
        return False

    def names(self, child: _Child) -> tuple[str, str, str | None]:
        rng, r = self.rng, self.r
        unfamiliar = r.unfamiliar_factor if child.cluster != "general" else 1.0
        given = child.given
        # Hispanic compound given names: typed as the first part, sometimes the second.
        if " " in given and child.cluster == "hispanic":
            parts = given.split()
            given = parts[0] if rng.random() < 0.8 else parts[-1]
            self.applied.append("compound_given_part")
        middle_typed: str | None = None
        if child.middle and self._hit("goes_by_middle", r.goes_by_middle):
            given = child.middle
        elif given in nm.NICKNAMES and self._hit("nickname", r.nickname, opportunity=True):
            given = rng.choice(nm.NICKNAMES[given])
        elif given in self.b.names.variants and self._hit(
            "spelling_variant", r.spelling_variant, opportunity=True
        ):
            given = rng.choice([v for v in self.b.names.variants[given] if v != given])
        elif child.cluster in EAST_ASIAN and self._hit(
            "school_english_name", r.school_english_name, opportunity=True
        ):
            female = child.sex == "F"
            given = rng.choice(
                nm.SCHOOL_ENGLISH_NAMES_GIRLS if female else nm.SCHOOL_ENGLISH_NAMES_BOYS
            )
        surname = child.surname
        if " " in surname or "-" in surname:
            parts = surname.replace("-", " ").split()
            if child.cluster == "hispanic" and len(parts) == 2:
                self.opportunities["compound_surname_part"] += 1
                pick = rng.random()
                if pick < 0.55:
                    surname = parts[0]
                    self.applied.append("compound_surname_part")
                elif pick < 0.65:
                    surname = parts[1]
                    self.applied.append("compound_surname_part")
        if (
            child.cluster == "east_african_arabic"
            and child.middle
            and self._hit("patronymic_confusion", r.patronymic_confusion, opportunity=True)
        ):
            surname = child.middle
        if self._hit("given_typo", r.given_typo * unfamiliar):
            given = typo(rng, given)
        if self._hit("surname_typo", r.surname_typo * unfamiliar):
            surname = typo(rng, surname)
        if any(ch in given + surname for ch in "'- ") and self._hit(
            "drop_punctuation", r.drop_punctuation, opportunity=True
        ):
            joiner = rng.choice(("", " "))
            given = given.replace("'", joiner).replace("-", rng.choice((" ", "")))
            surname = surname.replace("'", joiner).replace("-", rng.choice((" ", "")))
            surname = surname.replace(" ", "") if rng.random() < 0.3 else surname
        swap = r.name_swap_east_asian if child.cluster in EAST_ASIAN else r.name_swap
        if self._hit("name_swap", swap):
            given, surname = surname, given
        if self._hit("surname_initial", r.surname_initial):
            surname = surname[0] + "."
        if child.accent and self.rng.random() >= r.drop_accent:  # typed with the accent
            given = " ".join(nm.ACCENTED.get(p, p) for p in given.split(" "))
            surname = " ".join(nm.ACCENTED.get(p, p) for p in surname.split(" "))
        if self._hit("case_variant", r.case_variant):
            f = rng.choice((str.upper, str.lower))
            given, surname = f(given), f(surname)
        if self._hit("stray_space", r.stray_space):
            given = given + " " if rng.random() < 0.5 else " " + given
        if child.middle and rng.random() < r.middle_initial_typed:
            middle_typed = child.middle[0]
        return given, surname, middle_typed

    def dob(self, born: dt.date) -> dt.date:
        rng = self.rng
        if not self._hit("dob_error", self.r.dob_error):
            return born
        kind = rng.choices(("transpose", "digit", "year", "day"), (0.35, 0.3, 0.15, 0.2))[0]
        if kind == "transpose" and born.day <= 12 and born.day != born.month:
            return born.replace(month=born.day, day=born.month)
        if kind == "year" and (born.month, born.day) != (2, 29):
            return born.replace(year=born.year + rng.choice((-1, 1)))
        if kind == "digit":
            day = born.day
            new_day = (day // 10) * 10 + rng.choice([d for d in range(10) if d != day % 10])
            if 1 <= new_day <= 28:
                return born.replace(day=new_day)
        shifted = born + dt.timedelta(days=rng.choice((-2, -1, 1, 2)))
        return shifted


class _Assembler:
    """Turns the families into the two rosters and the truth."""

    def __init__(self, b: _Builder, archived_dob: bool, synced_dob: bool) -> None:
        self.b, self.rng, self.r = b, b.rng, b.rates
        self.archived_dob, self.synced_dob = archived_dob, synced_dob
        self.corr = _Corrupter(b)
        self.corruptions: dict[str, tuple[str, ...]] = {}
        self.first_blank: dict[int, bool] = {}

    def run(self) -> District2:
        b, rng, r = self.b, self.rng, self.r
        staff_a, staff_s = self._staff()  # before contacts: staff parents may give work emails
        kids = [(f, c) for f in b.families for c in f.children]
        # Synced side: every child enrolled in the sync year.
        synced_rows: list[tuple[_Family, _Child]] = [
            (f, c) for f, c in kids if c.grade1 is not None and 0 <= c.grade1 <= 12
        ]
        # Archived side: children in the archive year whose class used the platform.
        classes: dict[tuple[str, int, int], bool] = {}
        archived_rows: list[tuple[_Family, _Child, int]] = []
        for f, c in kids:
            if f.joins or not 0 <= c.grade0 <= 12:
                continue
            school = _school(c.grade0, f.zone, b.n_zones)
            self.first_blank[c.key] = rng.random() < r.archived_dob_blank
            section = rng.randrange(max(1, 3 if c.grade0 < 9 else 6))
            key = (school, c.grade0, section)
            if key not in classes:
                classes[key] = rng.random() < r.class_in_archive
            if classes[key]:
                archived_rows.append((f, c, 1))
                if rng.random() < r.typed_twice:
                    archived_rows.append((f, c, 2))
        rng.shuffle(synced_rows)
        rng.shuffle(archived_rows)
        synced_id = {c.key: f"S{i + 1:06d}" for i, (_, c) in enumerate(synced_rows)}
        # Guardians: old accounts per adult (plus an occasional second one), new per adult.
        synced_guardian = {
            g.key: f"GS{g.key:07d}" for f, _ in synced_rows for g in f.guardians if g.in_sync_year
        }
        archived_accounts: dict[int, str] = {}
        guardian_truth: dict[str, str | None] = {}
        archived_students: list[Student] = []
        truth: dict[str, str | None] = {}
        first_record: dict[int, str] = {}
        duplicates: dict[str, str] = {}
        for i, (f, c, copy) in enumerate(archived_rows):
            aid = f"A{i + 1:06d}"
            truth[aid] = synced_id.get(c.key)
            if c.key in first_record:
                duplicates[aid] = first_record[c.key]
            else:
                first_record[c.key] = aid
            contacts = self._archived_contacts(
                f, archived_accounts, guardian_truth, synced_guardian
            )
            archived_students.append(self._archived_student(aid, f, c, contacts, copy))
        synced_students = [
            self._synced_student(synced_id[c.key], f, c, synced_guardian) for f, c in synced_rows
        ]
        twin_pairs, sibling_pairs = self._pairs(archived_rows, truth, synced_id, synced_rows)
        archived = Roster(
            archived_students,
            staff=staff_a,
            source="district2:archived",
            has_dob_column=self.archived_dob,
        )
        synced = Roster(
            synced_students,
            staff=staff_s,
            source="district2:synced",
            has_dob_column=self.synced_dob,
        )
        return District2(
            archived=archived,
            synced=synced,
            truth=truth,
            twin_pairs=twin_pairs,
            sibling_pairs=sibling_pairs,
            guardian_truth=guardian_truth,
            duplicates=duplicates,
            corruptions=self.corruptions,
            opportunities=dict(self.corr.opportunities),
            rates=r,
        )

    def _pairs(
        self,
        archived_rows: list[tuple[_Family, _Child, int]],
        truth: dict[str, str | None],
        synced_id: dict[int, str],
        synced_rows: list[tuple[_Family, _Child]],
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        by_family: dict[int, list[_Child]] = {}
        for f, c in synced_rows:
            by_family.setdefault(f.key, []).append(c)
        twins: set[tuple[str, str]] = set()
        siblings: set[tuple[str, str]] = set()
        for i, (f, c, _) in enumerate(archived_rows):
            aid = f"A{i + 1:06d}"
            for other in by_family.get(f.key, []):
                if other.key == c.key:
                    continue
                pair = (aid, synced_id[other.key])
                (twins if other.twin_of == c.key else siblings).add(pair)
        return twins, siblings

    def _archived_contacts(
        self,
        f: _Family,
        accounts: dict[int, str],
        guardian_truth: dict[str, str | None],
        synced_guardian: dict[int, str],
    ) -> list[Contact]:
        rng, r = self.rng, self.r
        adults = [g for g in f.guardians if g.in_archive_year]
        if not adults:
            return []
        chosen = [adults[0] if rng.random() < 0.8 else rng.choice(adults)]
        if len(adults) > 1 and rng.random() < r.archived_second_guardian:
            chosen.append(next(g for g in adults if g is not chosen[0]))
        out = []
        for g in chosen:
            if g.key not in accounts:
                accounts[g.key] = f"GA{g.key:07d}"
            gid = accounts[g.key]
            email: str | None = g.email
            separate = rng.random() < r.separate_account
            if separate:  # a typed-differently email made a second account
                gid = f"GA{g.key:07d}x{rng.randrange(1000):03d}"
                email = typo(rng, g.email.split("@")[0]) + "@" + g.email.split("@")[1]
            elif rng.random() < r.guardian_email_typo:
                local, domain = g.email.split("@")
                email = f"{typo(rng, local)}@{domain}"
            guardian_truth[gid] = synced_guardian.get(g.key)
            has_email = rng.random() < r.archived_guardian_email
            has_phone = rng.random() < r.archived_guardian_phone or not has_email
            phone = _format_phone(rng, g.phone) if has_phone else None
            named = rng.random() < r.archived_guardian_name
            last = g.last
            if named and g.last != f.surname.split()[0] and rng.random() < 0.5:
                last = f.surname.replace("-", " ").split()[0]  # "Mrs. Garcia" for Ms. Lopez
            out.append(
                Contact(
                    guardian_id=gid,
                    first_name=g.first if named else None,
                    last_name=last if named else None,
                    email=email if has_email else None,
                    phone=phone,
                    relationship=g.relationship.lower() if rng.random() < 0.5 else None,
                )
            )
        return out

    def _archived_student(
        self, aid: str, f: _Family, c: _Child, contacts: list[Contact], copy: int
    ) -> Student:
        rng, r = self.rng, self.r
        self.corr.applied = []
        given, surname, middle = self.corr.names(c)
        # A child typed twice: one record with a birth date and one without. The date is
        # drawn in every mode so that the modes differ only in the column being there.
        blank = self.first_blank[c.key] != (copy == 2)
        born = None if blank else self.corr.dob(c.dob)
        if not self.archived_dob:
            born = None
            self.corr.applied = [k for k in self.corr.applied if k != "dob_error"]
        grade = c.grade0
        if self.corr._hit("grade_error", r.grade_error):
            grade = min(12, max(0, grade + rng.choice((-1, 1))))
        gender: str | None = c.sex
        if rng.random() < r.archived_gender_blank:
            gender = None
        elif self.corr._hit("gender_error", r.gender_error):
            gender = "M" if c.sex == "F" else "F"
        street = city = state = zipc = None
        if rng.random() < r.archived_address:
            street, city, state, zipc = f.address
            for long, short in nm.STREET_TYPES:
                if street.endswith(long) and rng.random() < 0.6:
                    street = street[: -len(long)] + short
        # Changes on the synced side between the two years (logged for diagnosis only).
        events = []
        if c.surname_sync != c.surname:
            events.append("sync_surname_change")
        if c.grade1 == c.grade0:
            events.append("sync_retained")
        if f.zone_sync != f.zone:
            events.append("sync_moved_within")
        if c.accent and any(p in nm.ACCENTED for p in (c.given + " " + c.surname).split()):
            events.append("sync_accent")
        if self.archived_dob and born is None:
            events.append("dob_blank")
        self.corruptions[aid] = (*self.corr.applied, *events)
        return Student(
            id=aid,
            first_name=given,
            last_name=surname,
            middle_name=middle,
            dob=born,
            grade=grade,
            gender=gender,
            school_id=_school(c.grade0, f.zone, self.b.n_zones),
            contacts=contacts,
            street=street,
            city=city,
            state=state,
            zip=zipc,
        )

    def _synced_student(
        self, sid: str, f: _Family, c: _Child, synced_guardian: dict[int, str]
    ) -> Student:
        rng, r = self.rng, self.r
        assert c.grade1 is not None
        given, surname, middle = c.given, c.surname_sync, c.middle
        if c.accent:
            given = " ".join(nm.ACCENTED.get(p, p) for p in given.split())
            surname = "-".join(
                " ".join(nm.ACCENTED.get(p, p) for p in part.split()) for part in surname.split("-")
            )
        contacts = []
        for g in f.guardians:
            if not g.in_sync_year:
                continue
            email = g.email_new if rng.random() >= r.synced_email_missing else None
            phone = g.phone_new if rng.random() >= r.synced_phone_missing else None
            contacts.append(
                Contact(
                    guardian_id=synced_guardian[g.key],
                    first_name=g.first,
                    last_name=g.last,
                    email=g.staff_email if g.staff and g.staff_email else email,
                    phone=_format_phone(rng, phone, style=0) if phone else None,
                    relationship=g.relationship,
                    sis_id=f"C{g.key:07d}" if g.has_sis else None,
                )
            )
        street, city, state, zipc = f.address_sync
        gender = c.sex if rng.random() > 0.003 else "X"
        return Student(
            id=sid,
            first_name=given,
            last_name=surname,
            middle_name=middle,
            dob=c.dob if self.synced_dob else None,
            grade=c.grade1,
            gender=gender,
            school_id=_school(c.grade1, f.zone_sync, self.b.n_zones),
            sis_id=f"{c.key + 100000}",
            state_id=f"MN{c.key:09d}",
            student_number=f"{c.key:07d}",
            contacts=contacts,
            street=street,
            city=city,
            state=state,
            zip=zipc,
        )

    def _staff(self) -> tuple[list[StaffMember], list[StaffMember]]:
        rng, r, b = self.rng, self.r, self.b
        n_staff = max(2, b.n // 15)
        adults = [
            g
            for f in b.families
            if not f.joins and not f.leaves
            for g in f.guardians
            if g.in_archive_year and g.in_sync_year
        ]
        archived: list[StaffMember] = []
        synced: list[StaffMember] = []
        for i in range(n_staff):
            school = f"E{rng.randrange(b.n_zones):02d}"
            if adults and rng.random() < r.staff_parent:
                g = rng.choice(adults)
                first, last = g.first, g.last
                g.staff = True
            else:
                g = None
                sex = rng.choice("FM")
                first = _title(b.names.adult[sex].draw(rng))
                last = b.names.census_last.draw(rng)
            work = (
                f"{strip_accents(first)[0]}{strip_accents(last)}".lower()
                .replace("'", "")
                .replace(" ", "")
                .replace("-", "")
                + f"{i}@{b.domain}"
            )
            if g is not None and rng.random() < r.guardian_work_email:
                g.staff_email = work
            archived.append(
                StaffMember(
                    id=f"TA{i:05d}", first_name=first, last_name=last, email=work, school_id=school
                )
            )
            synced.append(
                StaffMember(
                    id=f"TS{i:05d}",
                    first_name=first,
                    last_name=last,
                    email=work,
                    school_id=school,
                    sis_id=f"T{i:05d}",
                )
            )
        return archived, synced


def generate_district2(
    n_students: int,
    seed: int,
    archived_dob: bool = True,
    synced_dob: bool = True,
    rates: Rates | None = None,
) -> District2:
    """A district whose archive holds about ``n_students`` records; deterministic by seed."""
    builder = _Builder(n_students, seed, rates or Rates())
    builder.build()
    return _Assembler(builder, archived_dob, synced_dob).run()


def generate(
    n_students: int, seed: int, archived_dob: bool = True, synced_dob: bool = True
) -> tuple[
    Roster,
    Roster,
    dict[str, str | None],
    set[tuple[str, str]],
    set[tuple[str, str]],
    dict[str, str | None],
]:
    """(archived, synced, truth, twin_pairs, sibling_pairs, guardian_truth)."""
    d = generate_district2(n_students, seed, archived_dob, synced_dob)
    return d.archived, d.synced, d.truth, d.twin_pairs, d.sibling_pairs, d.guardian_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-archived-dob", action="store_true")
    parser.add_argument("--no-synced-dob", action="store_true")
    parser.add_argument("--write", metavar="DIR", help="write DIR/archived and DIR/synced")
    args = parser.parse_args()
    d = generate_district2(
        args.students, args.seed, not args.no_archived_dob, not args.no_synced_dob
    )
    kinds = Counter(k for ks in d.corruptions.values() for k in ks)
    n = len(d.archived.students)
    print(
        f"archived={n} synced={len(d.synced.students)} "
        f"true_pairs={sum(v is not None for v in d.truth.values())} "
        f"left={sum(v is None for v in d.truth.values())} duplicates={len(d.duplicates)} "
        f"twin_pairs={len(d.twin_pairs)} sibling_pairs={len(d.sibling_pairs)} "
        f"guardian_accounts={len(d.guardian_truth)} "
        f"guardian_true_pairs={sum(v is not None for v in d.guardian_truth.values())}"
    )
    for kind, count in sorted(kinds.items()):
        base = d.opportunities.get(kind, n)
        print(f"  {kind:24s} {count:6d} / {base:6d} = {count / max(base, 1):.4f}")
    if args.write:
        from merge_engine import write_roster  # noqa: PLC0415

        write_roster(d.archived, Path(args.write) / "archived")
        write_roster(d.synced, Path(args.write) / "synced")
        print(f"wrote {args.write}/archived and {args.write}/synced")


if __name__ == "__main__":
    main()
