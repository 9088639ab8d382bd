"""The Fellegi-Sunter model: EM estimates, term frequencies, the family cap and the name cap."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
import numpy as np
import pytest
from conftest import FAST, contact, encode_pair_sides, make_student
from hypothesis import given, settings
from hypothesis import strategies as st

from merge_engine.matching._blocking import FALLBACK_RULES, generate_candidates
from merge_engine.matching._comparisons import COMPARISONS, LevelCounts, LevelMatrix
from merge_engine.matching._features import EncodedSide, Vocabularies, encode_students
from merge_engine.matching._fellegi_sunter import (
    MatchModel,
    _patterns,
    estimate_model,
    score_pairs,
    term_frequency_bits,
)
from merge_engine.matching._scoring import compare, count_levels, name_frequencies, score
from merge_engine.settings import Settings
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district

NAMES = [c.name for c in COMPARISONS]


def _col(name: str) -> int:
    return NAMES.index(name)


def _lvl(name: str, level: str) -> int:
    return COMPARISONS[_col(name)].levels.index(level)


def _m(model: MatchModel, name: str, level: str) -> float:
    return model.m[_col(name)][_lvl(name, level)]


def _u(model: MatchModel, name: str, level: str) -> float:
    return model.u[_col(name)][_lvl(name, level)]


@attrs.frozen
class Fitted:
    model: MatchModel
    vocab: Vocabularies
    ea: EncodedSide
    eb: EncodedSide
    ia: Any
    ib: Any
    levels: LevelMatrix


def fit(district: SyntheticDistrict, config: Settings = FAST, **kw: Any) -> Fitted:
    """The planner's model-learning steps, on a generated district."""
    vocab = Vocabularies.new()
    ea = encode_students(district.archived.students, vocab)
    eb = encode_students(
        district.synced.students, vocab, has_dob_column=district.synced.has_dob_column
    )
    rules = [r for r in config.blocking_rules if r not in FALLBACK_RULES]
    cands = generate_candidates(ea, eb, vocab.names, rules=rules)
    levels = compare(ea, eb, cands.archived, cands.synced, vocab, config)
    rng = np.random.default_rng(0)
    ra = rng.integers(0, len(ea), config.random_pairs).astype(np.int64)
    rb = rng.integers(0, len(eb), config.random_pairs).astype(np.int64)
    random_levels = compare(ea, eb, ra, rb, vocab, config)
    model = estimate_model(levels, random_levels, expected_matches=min(len(ea), len(eb)), **kw)
    return Fitted(model, vocab, ea, eb, cands.archived, cands.synced, levels)


@pytest.fixture(scope="module")
def fitted(district_1000: SyntheticDistrict) -> Fitted:
    return fit(district_1000)


# --- EM recovers sensible parameters ---------------------------------------------------


def test_em_recovers_agreement_rates(fitted: Fitted) -> None:
    """True matches agree on given name, surname and birth date most of the time."""
    model = fitted.model
    assert _m(model, "first_name", "exact") > 0.8
    assert _m(model, "last_name", "exact") > 0.8
    assert _m(model, "dob", "exact") > 0.8
    assert _m(model, "identifier", "exact") > 0.8
    assert _m(model, "first_name", "different") < 0.05
    assert _m(model, "dob", "different") < 0.05


def test_u_is_small_for_rare_agreements(fitted: Fitted) -> None:
    """Random pairs rarely share a birth date, a given name or a guardian."""
    model = fitted.model
    assert _u(model, "dob", "exact") < 0.01
    assert _u(model, "first_name", "exact") < 0.05
    assert _u(model, "guardian", "phone_and_email") < 0.01
    assert _u(model, "gender", "same") == pytest.approx(0.5, abs=0.05)


def test_probabilities_are_distributions(fitted: Fitted) -> None:
    """m and u sum to one over the non-missing levels; missing is pinned to 1."""
    for m, u in zip(fitted.model.m, fitted.model.u, strict=True):
        assert (m[0], u[0]) == (1.0, 1.0)
        assert sum(m[1:]) == pytest.approx(1.0)
        assert sum(u[1:]) == pytest.approx(1.0)
        assert all(0.0 < x <= 1.0 for x in (*m, *u))


def test_prior_is_bounded_by_one_twin_per_record(fitted: Fitted) -> None:
    """The share of matches among candidates is at most min(n, m) / pairs."""
    bound = min(len(fitted.ea), len(fitted.eb)) / len(fitted.ia)
    assert 0.0 < fitted.model.prior <= bound + 1e-9


def test_weights_order_agreement_above_disagreement(fitted: Fitted) -> None:
    """Agreement levels weigh positive, disagreement negative, missing zero."""
    weights = dict(zip(NAMES, fitted.model.level_weights(), strict=True))
    for name in ("first_name", "last_name", "dob", "identifier", "guardian", "address"):
        w = weights[name]
        levels = COMPARISONS[_col(name)].levels
        assert w[0] == 0.0
        assert w[1] > 0 > w[levels.index("different" if "different" in levels else "none_shared")]


def test_no_synced_birth_dates_gives_a_neutral_dob() -> None:
    """Without synced birth dates the dob comparison carries no weight, names still learn."""
    district = generate_district(600, seed=9, synced_dob=False)
    model = fit(district).model
    weights = dict(zip(NAMES, model.level_weights(), strict=True))
    assert np.allclose(weights["dob"], 0.0)
    assert _m(model, "first_name", "exact") > 0.8


def test_model_to_dict(fitted: Fitted) -> None:
    """The serialised model names every comparison with its levels, m and u."""
    data = fitted.model.to_dict()
    assert set(NAMES) == set(data["comparisons"])
    for comp in COMPARISONS:
        entry = data["comparisons"][comp.name]
        assert list(comp.levels) == entry["levels"]
        assert len(comp.levels) == len(entry["m"]) == len(entry["u"])
    assert 0 < data["prior"] < 1


# --- term frequency ----------------------------------------------------------------------


def test_rare_names_weigh_more_than_common_ones(fitted: Fitted) -> None:
    """Exact agreement on a rarer surname or given name never gives fewer bits."""
    freqs = name_frequencies((fitted.ea, fitted.eb), len(fitted.vocab.names))
    ia = fitted.ia
    per_pair = {
        "first_name": freqs["first_name"][np.maximum(fitted.ea.first[ia], 0)],
        "last_name": freqs["last_name"][np.maximum(fitted.ea.last_key[ia], 0)],
    }
    tf = term_frequency_bits(fitted.levels, fitted.model, per_pair)
    for name in ("first_name", "last_name"):
        j = _col(name)
        exact = fitted.levels.levels[:, j] == 1
        assert np.isnan(tf[~exact, j]).all()
        f, bits = per_pair[name][exact], tf[exact, j]
        order = np.argsort(f, kind="stable")
        assert (np.diff(bits[order]) <= 1e-9).all()
        assert bits[np.argmin(f)] > bits[np.argmax(f)]
    # fields without frequencies keep their flat weights
    assert np.isnan(tf[:, _col("dob")]).all()


def test_term_frequency_bits_formula(fitted: Fitted) -> None:
    """tf bits are log2(m_exact / frequency)."""
    j = _col("last_name")
    levels = np.zeros((2, len(COMPARISONS)), np.int8)
    levels[:, j] = 1
    matrix = LevelMatrix(levels, COMPARISONS)
    tf = term_frequency_bits(matrix, fitted.model, {"last_name": np.array([0.001, 0.05])})
    m_exact = fitted.model.m[j][1]
    assert tf[0, j] == pytest.approx(math.log2(m_exact / 0.001))
    assert tf[1, j] == pytest.approx(math.log2(m_exact / 0.05))


def test_scoring_gives_rare_surname_more_bits(fitted: Fitted) -> None:
    """Through scoring: a pair agreeing on a unique surname gets more surname bits."""
    common = "Smith"
    students_a = [make_student(f"a{i}", f"Kid{i}", common) for i in range(40)]
    students_b = [make_student(f"b{i}", f"Kid{i}", common) for i in range(40)]
    students_a.append(make_student("ar", "Kidr", "Quarrington"))
    students_b.append(make_student("br", "Kidr", "Quarrington"))
    ea, eb, vocab = encode_pair_sides(students_a, students_b)
    ia = np.array([0, 40], np.int64)
    ib = np.array([0, 40], np.int64)
    levels = compare(ea, eb, ia, ib, vocab, FAST)
    freqs = name_frequencies((ea, eb), len(vocab.names))
    raw = attrs.evolve(fitted.model, household_rules=False)  # no family scaling
    scored = score(ea, eb, ia, ib, levels, raw, freqs)
    j = _col("last_name")
    common_bits, rare_bits = scored.contributions(np.arange(2))[:, j]
    assert rare_bits > common_bits


# --- the household rules -----------------------------------------------------------------


def _sibling_pair(same_dob: bool) -> tuple[Any, Any]:
    household = {
        "school_id": "e1",
        "street": "17 Larkspur Lane",
        "zip": "10027",
    }
    dob_a = dt.date(2014, 6, 9)
    dob_b = dob_a if same_dob else dt.date(2012, 2, 2)
    a = make_student(
        "a",
        "Oliver",
        "Quixby",
        dob=dob_a,
        grade=3,
        gender="M",
        contacts=[contact("g1", "(212) 555-0147", "pat@example.org")],
        **household,
    )
    b = make_student(
        "b",
        "Henry",
        "Quixby",
        dob=dob_b,
        grade=4 if same_dob else 6,
        gender="M",
        contacts=[contact("g2", "212.555.0147", "PAT@example.org")],
        **household,
    )
    return a, b


@pytest.mark.parametrize("twins", [True, False])
def test_siblings_stay_below_the_name_conflict_cap(fitted: Fitted, twins: bool) -> None:
    """Siblings sharing surname, guardians, address and school never exceed the cap."""
    a, b = _sibling_pair(twins)
    ea, eb, vocab = encode_pair_sides([a], [b])
    one = np.array([0], np.int64)
    levels = compare(ea, eb, one, one, vocab, FAST)
    assert levels.column("first_name")[0] == _lvl("first_name", "different")
    scored = score_pairs(levels, fitted.model)
    assert scored.probability[0] <= fitted.model.name_conflict_max_probability + 1e-9
    # without the household rules the same pair would look like a match
    unruled = score_pairs(levels, attrs.evolve(fitted.model, household_rules=False))
    assert unruled.probability[0] > scored.probability[0]


def test_cap_holds_on_every_generated_candidate(fitted: Fitted) -> None:
    """On a real candidate set, no pair with clearly different given names exceeds its cap."""
    scored = score_pairs(fitted.levels, fitted.model)
    lv = fitted.levels.levels
    conflict = lv[:, _col("first_name")] == _lvl("first_name", "different")
    with_id = conflict & (lv[:, _col("identifier")] == _lvl("identifier", "exact"))
    assert conflict.sum() > 50
    model = fitted.model
    assert (
        scored.probability[conflict & ~with_id] <= model.name_conflict_max_probability + 1e-9
    ).all()
    assert (
        scored.probability[with_id] <= model.conflict_with_identifier_max_probability + 1e-9
    ).all()


def test_family_evidence_is_capped(fitted: Fitted) -> None:
    """Positive household bits add up to at most family_cap_bits per pair."""
    family = np.array([c.family for c in COMPARISONS])
    scored = score_pairs(fitted.levels, fitted.model)
    capped = np.clip(scored.contributions[:, family], 0, None).sum(axis=1)
    assert (capped <= fitted.model.family_cap_bits + 1e-3).all()
    raw = score_pairs(fitted.levels, attrs.evolve(fitted.model, household_rules=False))
    uncapped = np.clip(raw.contributions[:, family], 0, None).sum(axis=1)
    assert (uncapped > fitted.model.family_cap_bits + 1).any()  # the cap did bite


def test_explicit_family_cap(district_1000: SyntheticDistrict) -> None:
    """A family_cap_bits given in settings is used as is."""
    model = fit(district_1000, family_cap_bits=3.0).model
    assert model.family_cap_bits == 3.0


_LEVEL_ROWS = st.tuples(*(st.integers(0, len(c.levels) - 1) for c in COMPARISONS))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_LEVEL_ROWS, min_size=1, max_size=30))
def test_scores_are_probabilities_and_caps_hold(
    fitted: Fitted, rows: list[tuple[int, ...]]
) -> None:
    """Any level pattern scores in [0, 1]; given-name conflicts respect their caps."""
    levels = LevelMatrix(np.array(rows, np.int8), COMPARISONS)
    scored = score_pairs(levels, fitted.model)
    p = scored.probability
    assert ((p >= 0.0) & (p <= 1.0)).all()
    assert (scored.adjustment <= 0).all()
    np.testing.assert_allclose(
        scored.log_odds,
        scored.contributions.sum(axis=1)
        + scored.adjustment
        + math.log2(fitted.model.prior / (1 - fitted.model.prior)),
        atol=1e-3,
    )
    lv = levels.levels
    conflict = lv[:, _col("first_name")] == _lvl("first_name", "different")
    with_id = conflict & (lv[:, _col("identifier")] == _lvl("identifier", "exact"))
    assert (p[conflict & ~with_id] <= fitted.model.name_conflict_max_probability + 1e-9).all()
    assert (p[with_id] <= fitted.model.conflict_with_identifier_max_probability + 1e-9).all()


def test_more_agreement_scores_higher(fitted: Fitted) -> None:
    """Full agreement scores near 1; full disagreement near 0."""
    agree = np.ones((1, len(COMPARISONS)), np.int8)
    disagree = np.array([[len(c.levels) - 1 for c in COMPARISONS]], np.int8)
    p = score_pairs(LevelMatrix(np.vstack([agree, disagree]), COMPARISONS), fitted.model)
    assert p.probability[0] > 0.999
    assert p.probability[1] < 0.001


class TestRandomPairCounts:
    def test_counted_in_chunks_equal_the_full_matrix_counted(self) -> None:
        """count_levels (int32 indices, small chunks, a comparison left out) gives what the
        levels compare returns count to, and estimate_model learns the same u from either."""
        district = generate_district(150, seed=4)
        vocab = Vocabularies.new()
        ea = encode_students(district.archived.students, vocab)
        eb = encode_students(district.synced.students, vocab)
        config = attrs.evolve(FAST, comparisons=tuple(n for n in NAMES if n != "address"))
        rng = np.random.default_rng(3)
        ra = np.sort(rng.integers(0, len(ea), 5_000)).astype(np.int32)
        rb = rng.integers(0, len(eb), 5_000).astype(np.int32)
        full = compare(ea, eb, ra.astype(np.int64), rb.astype(np.int64), vocab, config)

        counted = count_levels(ea, eb, ra, rb, vocab, config, chunk_pairs=333)

        expected = LevelCounts.of(full)
        assert [c.tolist() for c in expected.counts] == [c.tolist() for c in counted.counts]
        assert 0 == counted.counts[_col("address")][1:].sum()
        candidates = compare(ea, eb, ra[:400].astype(np.int64), rb[:400].astype(np.int64),
                             vocab, config)  # fmt: skip
        assert (
            estimate_model(candidates, full, expected_matches=150).u
            == estimate_model(candidates, counted, expected_matches=150).u
        )


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_level_patterns_are_the_distinct_rows_in_base_order(n: int, seed: int) -> None:
    """The distinct level rows and their counts, in the order their base-9 numbers sort
    (what numbering each row in base 9 and np.unique on the numbers gave)."""
    rng = np.random.default_rng(seed)
    sizes = [len(c.levels) for c in COMPARISONS]
    levels = np.stack([rng.integers(0, min(s, 3), n) for s in sizes], axis=1).astype(np.int8)
    numbers = levels.astype(np.int64) @ (max(sizes) ** np.arange(len(sizes), dtype=np.int64))
    _, first, counts = np.unique(numbers, return_index=True, return_counts=True)

    patterns, found = _patterns(levels, sizes)

    assert levels[first].tolist() == patterns.tolist()
    assert patterns.dtype == np.int8
    assert counts.tolist() == found.tolist()
