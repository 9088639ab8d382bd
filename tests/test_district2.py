"""The second district generator (benchmarks/district2.py): determinism, truth, rates."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rapidfuzz.distance import DamerauLevenshtein

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from district2 import District2, Rates, generate, generate_district2, strip_accents, typo

N = 1500


@pytest.fixture(scope="module")
def district() -> District2:
    return generate_district2(N, seed=7)


def test_same_seed_same_district_other_seed_differs() -> None:
    a = generate(300, 3)
    b = generate(300, 3)
    c = generate(300, 4)
    assert a == b
    assert a[0] != c[0]


def test_same_district_whatever_the_hash_seed() -> None:
    """No set or hash order leaks into the draws: two processes, two hash seeds, one district."""
    code = (
        "import sys, hashlib; sys.path.insert(0, sys.argv[1]); from district2 import generate; "
        "r = generate(200, 9); print(hashlib.sha256(repr((r[0].students, r[1].students, "
        "sorted(r[2].items()), sorted(r[3]), sorted(r[4]), sorted(r[5].items()))).encode())"
        ".hexdigest())"
    )
    bench = str(Path(__file__).resolve().parents[1] / "benchmarks")
    digests = {
        subprocess.run(
            [sys.executable, "-c", code, bench],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_truth_pairs_exist_on_both_sides(district: District2) -> None:
    archived = {s.id for s in district.archived.students}
    synced = {s.id for s in district.synced.students}
    assert set(district.truth) == archived
    targets = [s for s in district.truth.values() if s is not None]
    assert set(targets) <= synced
    # Only children typed twice share a synced student.
    shared = [s for s, k in Counter(targets).items() if k > 1]
    seconds = {district.truth[a] for a in district.duplicates}
    assert set(shared) <= seconds
    assert 0 < sum(t is None for t in district.truth.values()) < len(archived) / 4


def test_twins_share_birth_date_guardians_and_address(district: District2) -> None:
    arch = {s.id: s for s in district.archived.students}
    syn = {s.id: s for s in district.synced.students}
    assert district.twin_pairs
    for a, s in district.twin_pairs:
        own = district.truth[a]
        assert own is not None or a in arch
        if own is None:
            continue
        mine, twin = syn[own], syn[s]
        assert mine.id != twin.id
        assert mine.dob == twin.dob
        assert {c.guardian_id for c in mine.contacts} == {c.guardian_id for c in twin.contacts}
        assert (mine.street, mine.zip) == (twin.street, twin.zip)
        assert mine.first_name != twin.first_name
    for a, s in district.sibling_pairs:
        own = district.truth[a]
        if own is not None:
            assert syn[own].dob != syn[s].dob or syn[own].grade != syn[s].grade


def test_twin_share_of_children_is_near_the_cdc_rate() -> None:
    d = generate_district2(6000, seed=11)
    synced = d.synced.students
    twins = {s for _, s in d.twin_pairs}
    # CDC: ~3.1-3.3% of babies are twins; the synced side is a sample of the children.
    assert 0.015 < len(twins) / len(synced) < 0.05


def test_children_typed_twice_have_one_record_with_and_one_without_dob(
    district: District2,
) -> None:
    arch = {s.id: s for s in district.archived.students}
    assert district.duplicates
    for second, first in district.duplicates.items():
        assert district.truth[second] == district.truth[first]
        assert (arch[second].dob is None) != (arch[first].dob is None)


def test_guardian_truth_points_at_accounts_of_the_same_children(district: District2) -> None:
    arch_accounts = {c.guardian_id for s in district.archived.students for c in s.contacts}
    syn_accounts = {c.guardian_id for s in district.synced.students for c in s.contacts}
    assert set(district.guardian_truth) == arch_accounts
    assert {g for g in district.guardian_truth.values() if g} <= syn_accounts
    syn = {s.id: s for s in district.synced.students}
    for student in district.archived.students:
        target = district.truth[student.id]
        if target is None:
            continue
        new = {c.guardian_id for c in syn[target].contacts}
        for contact in student.contacts:
            mapped = district.guardian_truth[contact.guardian_id]
            assert mapped is None or mapped in new
    assert any(c.sis_id is None for s in district.synced.students for c in s.contacts)


def test_no_birth_date_modes() -> None:
    arch, syn, *_ = generate(300, 2, archived_dob=True, synced_dob=False)
    assert not syn.has_dob_column and all(s.dob is None for s in syn.students)
    assert any(s.dob is not None for s in arch.students)
    arch, syn, *_ = generate(300, 2, archived_dob=False, synced_dob=False)
    assert all(s.dob is None for s in arch.students + syn.students)


def test_modes_share_one_district() -> None:
    """The three birth-date modes differ only in the birth dates, so their numbers compare."""
    both = generate_district2(400, 5)
    none = generate_district2(400, 5, archived_dob=False, synced_dob=False)
    assert both.truth == none.truth
    assert both.guardian_truth == none.guardian_truth
    for x, y in zip(both.archived.students, none.archived.students, strict=True):
        assert x.first_name == y.first_name and x.contacts == y.contacts
        assert y.dob is None


def _rate(d: District2, kind: str) -> float:
    count = sum(kind in kinds for kinds in d.corruptions.values())
    return count / d.opportunities.get(kind, len(d.corruptions))


@pytest.mark.parametrize(
    ("kind", "low_factor", "high_factor"),
    [
        ("nickname", 0.6, 1.4),
        ("spelling_variant", 0.6, 1.4),
        ("dob_error", 0.6, 1.4),
        ("case_variant", 0.6, 1.4),
        # Typos are raised for names unfamiliar to the typist (about 40% of families).
        ("given_typo", 0.8, 2.0),
        ("surname_typo", 0.8, 2.0),
        ("drop_punctuation", 0.6, 1.4),
    ],
)
def test_logged_corruption_rates_match_the_configured_ones(
    kind: str, low_factor: float, high_factor: float
) -> None:
    d = generate_district2(5000, seed=3)
    configured = getattr(Rates(), kind)
    assert low_factor * configured <= _rate(d, kind) <= high_factor * configured


def test_corruptions_show_in_the_data(district: District2) -> None:
    """The log is honest: a logged birth-date error differs from the SIS date, an untouched
    record has the SIS date, and a logged typo is one edit from the legal name."""
    syn = {s.id: s for s in district.synced.students}
    changed = kept = 0
    for a in district.archived.students:
        target = district.truth[a.id]
        if target is None or a.dob is None:
            continue
        if "dob_error" in district.corruptions[a.id]:
            assert a.dob != syn[target].dob
            changed += 1
        else:
            assert a.dob == syn[target].dob
            kept += 1
    assert changed > 0 and kept > 0
    measured = changed / (changed + kept)
    assert 0.5 * Rates().dob_error < measured < 2 * Rates().dob_error


def test_typo_is_one_edit() -> None:
    rng = random.Random(1)
    for word in ("Jennifer", "Anna", "Nguyen", "McDonald", "Li"):
        for _ in range(200):
            out = typo(rng, word)
            if len(word) > 2:
                assert DamerauLevenshtein.distance(out.lower(), word.lower()) == 1
    assert strip_accents("Muñoz Peña") == "Munoz Pena"
