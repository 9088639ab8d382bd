"""The synthetic district: deterministic, truth consistent with the rosters, realistic rates.

Every matcher benchmark trusts this truth, so the tests check it against
the rosters themselves rather than against the generator's own counters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections import Counter, defaultdict

import phonenumbers
import pytest
from nicknames import NickNamer

from merge_engine.matching._normalize import is_valid_email, normalize_name, surname_key
from merge_engine.model import Contact, Roster, Student
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district

N = 2_000


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return generate_district(N, seed=7)


def _by_id(roster: Roster) -> dict[str, Student]:
    return {s.id: s for s in roster.students}


def _contacts(roster: Roster) -> dict[str, Contact]:
    return {c.guardian_id: c for s in roster.students for c in s.contacts}


def _pairs(d: SyntheticDistrict) -> list[tuple[Student, Student]]:
    synced = _by_id(d.synced)
    return [(a, synced[d.truth[a.id] or ""]) for a in d.archived.students if d.truth[a.id]]


def _digest(d: SyntheticDistrict) -> str:
    text = repr(
        [
            (s.id, s.first_name, s.last_name, s.dob, s.grade, s.school_id, s.street, s.contacts)
            for s in (*d.archived.students, *d.synced.students)
        ]
    )
    text += repr(sorted(d.truth.items())) + repr(sorted(d.guardian_truth.items()))
    text += repr(d.staff_guardian_truth) + repr(d.archived.staff) + repr(d.synced.staff)
    text += repr([(m.first_name, m.email, m.phone) for m in (*d.archived.staff, *d.synced.staff)])
    return hashlib.sha256(text.encode()).hexdigest()


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_the_same_district(district: SyntheticDistrict) -> None:
    again = generate_district(N, seed=7)
    assert again.archived == district.archived
    assert again.synced == district.synced
    assert again.truth == district.truth
    assert again.guardian_truth == district.guardian_truth
    assert again.staff_guardian_truth == district.staff_guardian_truth
    assert again.staff_truth == district.staff_truth
    assert again.seed == 7


def test_different_seeds_give_different_districts(district: SyntheticDistrict) -> None:
    other = generate_district(N, seed=8)
    assert other.archived.students != district.archived.students
    firsts = [s.first_name for s in district.synced.students[:50]]
    assert [s.first_name for s in other.synced.students[:50]] != firsts


def test_independent_of_hash_randomisation() -> None:
    """Set or dict order of str hashes must not leak into the output."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.test_synthetic import _digest;"
        "from merge_engine.testing.synthetic import generate_district;"
        "print(_digest(generate_district(400, seed=11)))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code, root], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    assert digests == {_digest(generate_district(400, seed=11))}


# --- shape, ids and truth ------------------------------------------------------------------


def test_sizes_and_roster_metadata(district: SyntheticDistrict) -> None:
    assert abs(len(district.archived) - N) <= N * 0.02
    assert 1.03 * N <= len(district.synced) <= 1.17 * N
    assert district.archived.source == "synthetic:archived"
    assert district.synced.source == "synthetic:synced"
    assert district.archived.format == district.synced.format == "native"
    assert district.archived.has_dob_column and district.synced.has_dob_column
    assert N / 20 <= len(district.archived.staff) <= N / 10
    assert N / 20 <= len(district.synced.staff) <= N / 10


def test_ids_are_unique_and_prefixed(district: SyntheticDistrict) -> None:
    for roster, student, guardian, staff in (
        (district.archived, "a", "ga", "ta"),
        (district.synced, "s", "gs", "ts"),
    ):
        ids = [s.id for s in roster.students]
        assert len(set(ids)) == len(ids)
        assert all(i[0] == student and i[1:].isdigit() for i in ids)
        assert all(g.startswith(guardian) for g in _contacts(roster))
        staff_ids = [m.id for m in roster.staff]
        assert len(set(staff_ids)) == len(staff_ids)
        assert all(i.startswith(staff) for i in staff_ids)
        assert [s.id for s in roster.students] == sorted(ids)  # order carries no truth either


def test_truth_covers_archived_and_points_at_synced(district: SyntheticDistrict) -> None:
    synced_ids = {s.id for s in district.synced.students}
    assert set(district.truth) == {s.id for s in district.archived.students}
    assert all(v is None or v in synced_ids for v in district.truth.values())


def test_ids_do_not_leak_truth(district: SyntheticDistrict) -> None:
    pairs = [(int(a[1:]), int(s[1:])) for a, s in district.truth.items() if s]
    assert sum(1 for a, s in pairs if a == s) <= 3
    n = len(pairs)
    mean_a = sum(a for a, _ in pairs) / n
    mean_s = sum(s for _, s in pairs) / n
    cov = sum((a - mean_a) * (s - mean_s) for a, s in pairs)
    var_a = sum((a - mean_a) ** 2 for a, _ in pairs)
    var_s = sum((s - mean_s) ** 2 for _, s in pairs)
    assert abs(cov / (var_a * var_s) ** 0.5) < 0.1


def test_values_have_model_types(district: SyntheticDistrict) -> None:
    for s in (*district.archived.students, *district.synced.students):
        assert s.dob is None or isinstance(s.dob, dt.date)
        assert s.grade is None or (isinstance(s.grade, int) and -2 <= s.grade <= 12)
        assert s.gender in ("F", "M", "X", None)
        assert s.first_name and s.last_name
        assert 1 <= len(s.contacts) <= 3
        assert s.line == 0


# --- the hidden structure, as seen in the rosters ------------------------------------------


def test_matched_records_describe_the_same_child(district: SyntheticDistrict) -> None:
    pairs = _pairs(district)
    same_surname = sum(
        1 for a, s in pairs if surname_key(a.last_name)[:4] == surname_key(s.last_name)[:4]
    )
    assert same_surname / len(pairs) > 0.9
    dated = [(a, s) for a, s in pairs if a.dob and s.dob]
    assert sum(1 for a, s in dated if a.dob == s.dob) / len(dated) > 0.93
    graded = [s.grade - a.grade for a, s in pairs if a.grade is not None and s.grade is not None]
    steps = Counter(graded)
    assert 0.8 < steps[1] / len(graded) < 0.93
    assert 0.06 < steps[0] / len(graded) < 0.15


def test_rates_of_duplicates_leavers_and_new_children(district: SyntheticDistrict) -> None:
    counts = Counter(v for v in district.truth.values() if v)
    children = len(counts) + sum(1 for v in district.truth.values() if v is None)
    duplicated = sum(1 for c in counts.values() if c == 2)
    assert 0.005 < duplicated / children < 0.04
    assert max(counts.values()) == 2
    left = sum(1 for v in district.truth.values() if v is None)
    assert 0.03 < left / len(district.truth) < 0.10
    new = len(district.synced) - len(counts)
    assert 0.10 < new / len(district.synced) < 0.20
    assert district.stats["new_children"] == new
    assert district.stats["duplicated_children"] >= duplicated


def test_twins_share_birthday_guardians_grade_and_school(district: SyntheticDistrict) -> None:
    groups: defaultdict[tuple[object, ...], list[Student]] = defaultdict(list)
    for s in district.synced.students:
        groups[(s.dob, frozenset(c.guardian_id for c in s.contacts))].append(s)
    twins = [g for g in groups.values() if len(g) > 1]
    assert all(len(g) == 2 for g in twins)
    share = sum(len(g) for g in twins) / len(district.synced)
    assert 0.004 < share < 0.035
    for one, other in twins:
        assert one.grade == other.grade
        assert one.school_id == other.school_id
        assert normalize_name(one.first_name) != normalize_name(other.first_name)


def test_siblings_share_guardian_accounts(district: SyntheticDistrict) -> None:
    for roster in (district.archived, district.synced):
        children_per_guardian = Counter(c.guardian_id for s in roster.students for c in s.contacts)
        shared = sum(1 for n in children_per_guardian.values() if n > 1)
        assert shared / len(children_per_guardian) > 0.25


def test_leavers_with_staying_siblings_and_new_siblings_exist(
    district: SyntheticDistrict,
) -> None:
    by_guardian: defaultdict[str, set[bool]] = defaultdict(set)
    for s in district.archived.students:
        for c in s.contacts:
            by_guardian[c.guardian_id].add(district.truth[s.id] is None)
    assert any(fates == {True, False} for fates in by_guardian.values())
    continuing = {v for v in district.truth.values() if v}
    synced_fates: defaultdict[str, set[bool]] = defaultdict(set)
    for s in district.synced.students:
        for c in s.contacts:
            synced_fates[c.guardian_id].add(s.id in continuing)
    assert any(fates == {True, False} for fates in synced_fates.values())


def test_archived_side_is_hand_typed(district: SyntheticDistrict) -> None:
    archived = district.archived.students
    missing_dob = sum(1 for s in archived if s.dob is None) / len(archived)
    assert 0.10 < missing_dob < 0.21
    assert sum(1 for s in archived if s.sis_id) / len(archived) < 0.05
    assert sum(1 for s in archived if s.state_id) == 0
    numbered = sum(1 for s in archived if s.student_number) / len(archived)
    assert 0.14 < numbered < 0.26
    namer = NickNamer()
    nicknamed = accented_apart = upper = 0
    for a, s in _pairs(district):
        first_a, first_s = normalize_name(a.first_name), normalize_name(s.first_name)
        if first_a != first_s and first_s in {
            normalize_name(n) for n in namer.canonicals_of(first_a)
        }:
            nicknamed += 1
        if a.last_name != s.last_name and normalize_name(a.last_name) == normalize_name(
            s.last_name
        ):
            accented_apart += 1
        upper += a.first_name.isupper() and len(a.first_name) > 1
    assert nicknamed > 20
    assert accented_apart > 20
    assert upper > 10
    all_synced = district.synced.students
    assert all(s.sis_id and s.state_id and s.student_number for s in all_synced)


def test_level_changes_move_school(district: SyntheticDistrict) -> None:
    crossing = [
        (a, s)
        for a, s in _pairs(district)
        if (a.grade, s.grade) in ((5, 6), (8, 9)) and a.school_id
    ]
    moved_up = sum(1 for a, s in crossing if a.school_id != s.school_id) / len(crossing)
    assert moved_up > 0.95  # the rest had their archived grade mistyped
    staying = [(a, s) for a, s in _pairs(district) if (a.grade, s.grade) in ((2, 3), (6, 7))]
    moved = sum(1 for a, s in staying if a.school_id != s.school_id) / len(staying)
    assert moved < 0.15


def test_synced_without_birth_dates() -> None:
    d = generate_district(500, seed=3, synced_dob=False)
    assert not d.synced.has_dob_column
    assert all(s.dob is None for s in d.synced.students)
    assert sum(1 for s in d.archived.students if s.dob) > 0.75 * len(d.archived)
    assert d.archived.has_dob_column


def test_same_year_keeps_grades() -> None:
    d = generate_district(1_000, seed=5, same_year=True)
    steps = [s.grade - a.grade for a, s in _pairs(d) if a.grade is not None and s.grade is not None]
    assert sum(1 for step in steps if step == 0) / len(steps) > 0.95


@pytest.mark.parametrize("schools", [1, 2, 7])
def test_school_count(schools: int) -> None:
    d = generate_district(600, seed=2, schools=schools)
    ids = {s.school_id for s in (*d.archived.students, *d.synced.students)}
    assert 1 <= len(ids) <= schools
    assert all(ids)


def test_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n_students"):
        generate_district(0)
    with pytest.raises(ValueError, match="schools"):
        generate_district(10, schools=0)


# --- guardians and staff -------------------------------------------------------------------


def test_guardian_truth_is_consistent_with_students(district: SyntheticDistrict) -> None:
    archived_guardians = _contacts(district.archived)
    synced_guardians = _contacts(district.synced)
    assert set(district.guardian_truth) == set(archived_guardians)
    assert all(v is None or v in synced_guardians for v in district.guardian_truth.values())
    matched = {g: s for g, s in district.guardian_truth.items() if s}
    assert 0.6 < len(matched) / len(district.guardian_truth) < 0.98
    # A matched guardian is linked to the twin of one of its archived children.
    synced = _by_id(district.synced)
    linked: defaultdict[str, set[str]] = defaultdict(set)
    for a in district.archived.students:
        twin = district.truth[a.id]
        for c in a.contacts:
            if twin:
                linked[c.guardian_id].update(x.guardian_id for x in synced[twin].contacts)
    assert sum(1 for g, s in matched.items() if s in linked[g]) / len(matched) > 0.97


def test_guardian_contacts_look_real(district: SyntheticDistrict) -> None:
    contacts = [*_contacts(district.archived).values(), *_contacts(district.synced).values()]
    phones = [c.phone for c in contacts if c.phone]
    valid = sum(1 for p in phones if phonenumbers.is_valid_number(phonenumbers.parse(p, "US")))
    assert valid / len(phones) >= 0.9
    formats = {("+" in p, "(" in p, "." in p, "-" in p) for p in phones}
    assert len(formats) >= 4
    emails = [c.email for c in contacts if c.email]
    assert 0.95 < sum(1 for e in emails if is_valid_email(e)) / len(emails) < 1.0
    synced = list(_contacts(district.synced).values())
    with_sis = sum(1 for c in synced if c.sis_id) / len(synced)
    assert 0.5 < with_sis < 0.7
    assert all(c.sis_id is None for c in _contacts(district.archived).values())
    relationships = {c.relationship for c in synced}
    assert {"Mother", "Father"} <= relationships
    # Households share a phone now and then.
    assert any(n > 1 for n in Counter(c.phone[-10:] for c in synced if c.phone).values())


def test_changed_emails_between_sides(district: SyntheticDistrict) -> None:
    archived = _contacts(district.archived)
    synced = _contacts(district.synced)
    both = [
        (archived[g].email, synced[s].email)
        for g, s in district.guardian_truth.items()
        if s and archived[g].email and synced[s].email
    ]
    changed = sum(1 for a, s in both if a != s) / len(both)
    assert 0.05 < changed < 0.2


def test_staff_guardian_truth(district: SyntheticDistrict) -> None:
    staff = {m.id: m for m in (*district.archived.staff, *district.synced.staff)}
    guardians = {**_contacts(district.archived), **_contacts(district.synced)}
    pairs = district.staff_guardian_truth
    assert pairs == tuple(sorted(set(pairs)))
    assert all(s in staff and g in guardians for s, g in pairs)
    people = {s for s, _ in pairs if s.startswith("ta")}
    assert 0.05 < len(people) / len(district.archived.staff) < 0.15
    same_side = [(staff[s], guardians[g]) for s, g in pairs if s[1] == g[1]]
    identical = sum(
        1
        for m, c in same_side
        if (m.first_name, m.last_name, m.email, m.phone)
        == (c.first_name, c.last_name, c.email, c.phone)
    )
    assert 0.3 < identical / len(same_side) < 0.7
    assert all(
        m.last_name == c.last_name
        and sum((m.first_name != c.first_name, m.email != c.email, m.phone != c.phone)) <= 1
        for m, c in same_side
    )


def test_staff_truth(district: SyntheticDistrict) -> None:
    synced_staff = {m.id for m in district.synced.staff}
    assert set(district.staff_truth) == {m.id for m in district.archived.staff}
    assert all(v is None or v in synced_staff for v in district.staff_truth.values())
    kept = sum(1 for v in district.staff_truth.values() if v) / len(district.staff_truth)
    assert 0.75 < kept < 0.95
