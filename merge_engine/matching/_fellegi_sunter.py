"""The match model: Fellegi-Sunter weights learnt from the data itself.

Each comparison level has an ``m`` probability (how often true matches
show it) and a ``u`` probability (how often non-matches do); its weight
is ``log2(m / u)`` bits. ``u`` is measured on random pairs, which are
almost all non-matches; ``m`` and the share of matches among the
candidates are estimated by expectation-maximisation on the candidate
pairs, so no labelled data is needed.

Two departures from the textbook model, both because school rosters
break its independence assumption:

* family evidence (surname, guardians, address, school) is capped at
  ``family_cap_bits`` in total: siblings share all of it, so it says
  "same household", not "same child";
* a given name that clearly disagrees caps the pair's probability at
  ``name_conflict_max_probability`` (a matching identifier lifts the cap
  to the review band), so no amount of household evidence can merge two
  siblings.

Exact given-name and surname agreements are weighted by how frequent the
name is (term frequency), so a shared rare name counts for more than a
shared common one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ._comparisons import COMPARISONS, Comparison, LevelCounts, LevelMatrix

__all__ = ["MatchModel", "PairScores", "estimate_model", "score_pairs"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

_FIRST = next(i for i, c in enumerate(COMPARISONS) if c.name == "first_name")
_IDENT = next(i for i, c in enumerate(COMPARISONS) if c.name == "identifier")
_FIRST_DIFFERENT = COMPARISONS[_FIRST].levels.index("different")
_IDENT_EXACT = COMPARISONS[_IDENT].levels.index("exact")
MAX_LEVEL_BITS = 20.0


@frozen
class MatchModel:
    """Learnt parameters; serialisable so a plan records exactly what was used."""

    comparisons: tuple[str, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    family_cap_bits: float
    name_conflict_max_probability: float
    conflict_with_identifier_max_probability: float
    em_iterations: int
    household_rules: bool = True

    def level_weights(self) -> list[F64]:
        """``log2(m/u)`` per level of each comparison (0 for ``missing``)."""
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(np.asarray(m) / np.asarray(u))
            w[0] = 0.0
            out.append(np.clip(w, -MAX_LEVEL_BITS, MAX_LEVEL_BITS))
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "prior": round(self.prior, 8),
            "family_cap_bits": round(self.family_cap_bits, 4),
            "name_conflict_max_probability": self.name_conflict_max_probability,
            "conflict_with_identifier_max_probability": (
                self.conflict_with_identifier_max_probability
            ),
            "em_iterations": self.em_iterations,
            "household_rules": self.household_rules,
            "comparisons": {
                name: {
                    "levels": list(comp.levels),
                    "m": [round(x, 6) for x in m],
                    "u": [round(x, 8) for x in u],
                }
                for name, comp, m, u in zip(
                    self.comparisons, COMPARISONS, self.m, self.u, strict=True
                )
            },
        }


@frozen
class PairScores:
    """Per-pair result: contributions per comparison, adjustments, log-odds, probability."""

    contributions: F32  # (pairs, comparisons) bits, after family scaling
    adjustment: F32  # bits removed by the name-conflict cap (<= 0)
    log_odds: F64  # including the prior, in bits
    probability: F64


def _normalised(counts: npt.NDArray[Any]) -> tuple[float, ...]:
    """Probabilities over the non-missing levels (level 0 is pinned to 1)."""
    body = counts[1:] + 0.5
    body = body / body.sum()
    return (1.0, *(float(x) for x in body))


def _base_contributions(levels: npt.NDArray[np.int8], weights: Sequence[F64]) -> F64:
    out = np.empty(levels.shape, np.float64)
    for j, w in enumerate(weights):
        out[:, j] = w[levels[:, j]]
    return out


def _apply_rules(
    levels: npt.NDArray[np.int8],
    contributions: F64,
    prior_bits: float,
    model: MatchModel,
    comparisons: Sequence[Comparison],
) -> tuple[F64, F64]:
    """Cap family evidence, then cap pairs whose given names clearly disagree."""
    if not model.household_rules:
        return contributions, np.zeros(len(levels))
    family = np.array([c.family for c in comparisons])
    fam = contributions[:, family]
    positive = np.clip(fam, 0.0, None).sum(axis=1)
    scale = np.where(
        positive > model.family_cap_bits, model.family_cap_bits / np.maximum(positive, 1e-9), 1.0
    )
    contributions[:, family] = np.where(fam > 0, fam * scale[:, None], fam)
    total = contributions.sum(axis=1) + prior_bits
    conflict = levels[:, _FIRST] == _FIRST_DIFFERENT
    with_id = conflict & (levels[:, _IDENT] == _IDENT_EXACT)
    limit = np.full(len(levels), np.inf)
    limit[conflict] = _logit2(model.name_conflict_max_probability)
    limit[with_id] = _logit2(model.conflict_with_identifier_max_probability)
    adjustment = np.minimum(0.0, limit - total)
    return contributions, adjustment


def _logit2(p: float) -> float:
    return math.log2(p / (1.0 - p))


def _patterns(
    levels: npt.NDArray[np.int8], sizes: Sequence[int]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """The distinct rows of ``levels`` and how often each occurs, ordered by their last
    column, then the one before... (as their number in base ``max(sizes)`` would order them).

    Each row is numbered in mixed radix (column ``j`` counts ``sizes[j]`` levels, the first
    column least significant): same order, but few enough numbers for int32, so one plain
    sort of the candidates finds the rows, which are read back from their numbers.
    """
    place = np.cumprod([1, *sizes[:-1]], dtype=np.int64)
    wide = np.zeros(len(levels), np.int64)
    for j, step in enumerate(place.tolist()):
        wide += levels[:, j].astype(np.int64) * step
    codes = wide.astype(np.int32) if int(place[-1]) * sizes[-1] < 1 << 31 else wide
    codes.sort()
    first = np.ones(len(codes), np.bool_)
    np.not_equal(codes[1:], codes[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(codes)))
    distinct = codes[starts].astype(np.int64)
    patterns = np.empty((len(distinct), len(sizes)), np.int8)
    for j, (step, size) in enumerate(zip(place.tolist(), sizes, strict=True)):
        patterns[:, j] = distinct // step % size
    return patterns, counts


def _expit2(bits: F64) -> F64:
    return 1.0 / (1.0 + np.exp2(-np.clip(bits, -60, 60)))


def estimate_model(
    candidate_levels: LevelMatrix,
    random_levels: LevelMatrix | LevelCounts,
    *,
    expected_matches: int,
    family_cap_bits: float | None = None,
    name_conflict_max_probability: float = 0.05,
    conflict_with_identifier_max_probability: float = 0.9,
    max_iterations: int = 40,
    tolerance: float = 1e-5,
    household_rules: bool = True,
) -> MatchModel:
    """Learn ``u`` from random pairs, ``m`` by EM on candidates, then the prior.

    EM finds a local optimum, and on all candidates together it tends to
    find "pairs sharing a given name" (which also share gender, school and
    grade) rather than "same child". So, as Splink does with training
    blocking rules, each field's ``m`` is learnt on a subset of candidates
    selected *without* that field:

    * non-name fields on pairs whose given name and surname agree;
    * name fields on pairs that share a birth date, an identifier or a guardian.

    EM runs on distinct level patterns with their counts, which are few
    (hundreds) even for millions of candidate pairs.
    """
    comparisons = candidate_levels.comparisons
    names = [c.name for c in comparisons]
    if isinstance(random_levels, LevelMatrix):
        random_levels = LevelCounts.of(random_levels)
    u = tuple(_normalised(n.astype(np.float64)) for n in random_levels.counts)
    patterns, counts = _patterns(candidate_levels.levels, [len(c.levels) for c in comparisons])
    counts_f = counts.astype(np.float64)

    def level(name: str, *allowed: str) -> npt.NDArray[np.bool_]:
        j = names.index(name)
        return np.isin(patterns[:, j], [comparisons[j].levels.index(x) for x in allowed])

    def cols(*wanted: str) -> list[int]:
        return [names.index(n) for n in wanted if n in names]

    anchors = ("dob", "identifier", "guardian")
    others = [n for n in names if n not in ("first_name", "last_name")]
    same_name = level("first_name", "exact", "nickname") & level("last_name", "exact", "compound")
    strong = level("dob", "exact") | level("identifier", "exact")
    with_guardian = strong | level("guardian", "phone_and_email", "phone_or_email")
    surname_ok = level("last_name", "exact", "compound")
    # (rows, fields learnt, fields held fixed): no field selects the rows it is learnt on.
    plan: tuple[tuple[npt.NDArray[np.bool_], list[int], list[int]], ...] = (
        (same_name, cols(*others), []),
        (
            level("first_name", "exact", "nickname") & with_guardian,
            cols("last_name"),
            cols(*[n for n in others if n not in anchors]),
        ),
        (
            surname_ok & strong,
            cols("first_name"),
            cols(*[n for n in others if n not in ("dob", "identifier")]),
        ),
    )
    m = [_initial_m(len(c.levels)) for c in comparisons]
    iterations = 0
    for rows, learn, fixed in plan:
        if counts_f[rows].sum() < 10:
            continue
        learnt, steps = _em(
            patterns[rows],
            counts_f[rows],
            learn,
            fixed,
            m,
            u,
            comparisons,
            max_iterations,
            tolerance,
        )
        iterations += steps
        for j in learn:
            m[j] = learnt[j]

    # The share of matches among all candidates, with m and u fixed. At most
    # one synced twin exists per archived record, which bounds it.
    n_pairs = max(float(counts_f.sum()), 1.0)
    max_prior = float(np.clip(expected_matches / n_pairs, 1e-6, 0.5))
    prior = max_prior
    model = MatchModel(
        tuple(names),
        tuple(m),
        u,
        prior,
        0.0,
        name_conflict_max_probability,
        conflict_with_identifier_max_probability,
        iterations,
        household_rules,
    )
    cap = family_cap_bits if family_cap_bits is not None else _auto_family_cap(model, comparisons)
    for _ in range(max_iterations):
        model = _evolve(model, m=tuple(m), prior=prior, cap=cap, iterations=iterations)
        g = _score_levels(patterns, model, comparisons, tf_bits=None).probability * counts_f
        new_prior = float(np.clip(g.sum() / n_pairs, 1e-6, max_prior))
        if abs(new_prior - prior) < tolerance:
            prior = new_prior
            break
        prior = new_prior
    return _evolve(model, m=tuple(m), prior=prior, cap=cap, iterations=iterations)


def _em(
    patterns: npt.NDArray[np.int8],
    counts: F64,
    learn: Sequence[int],
    fixed: Sequence[int],
    m_start: Sequence[tuple[float, ...]],
    u: Sequence[tuple[float, ...]],
    comparisons: Sequence[Comparison],
    max_iterations: int,
    tolerance: float,
) -> tuple[list[tuple[float, ...]], int]:
    """Fellegi-Sunter EM updating the columns ``learn``; ``fixed`` columns inform the E-step."""
    m = list(m_start)
    prior = 0.5
    total = max(float(counts.sum()), 1.0)
    steps = 0
    for steps in range(1, max_iterations + 1):  # noqa: B007  (returned)
        bits = np.zeros(len(patterns))
        for j in (*learn, *fixed):
            w = np.log2(np.asarray(m[j]) / np.asarray(u[j]))
            w[0] = 0.0
            bits += np.clip(w, -MAX_LEVEL_BITS, MAX_LEVEL_BITS)[patterns[:, j]]
        g = _expit2(bits + _logit2(prior)) * counts
        delta = 0.0
        for j in learn:
            new = _normalised(
                np.bincount(patterns[:, j], weights=g, minlength=len(comparisons[j].levels))
            )
            delta = max(delta, *(abs(a - b) for a, b in zip(new, m[j], strict=True)))
            m[j] = new
        prior = float(np.clip(g.sum() / total, 1e-4, 1 - 1e-4))
        if delta < tolerance:
            break
    return m, steps


def _evolve(
    model: MatchModel,
    *,
    m: tuple[tuple[float, ...], ...],
    prior: float,
    cap: float,
    iterations: int,
) -> MatchModel:
    return MatchModel(
        model.comparisons,
        m,
        model.u,
        prior,
        cap,
        model.name_conflict_max_probability,
        model.conflict_with_identifier_max_probability,
        iterations,
        model.household_rules,
    )


def _initial_m(n_levels: int) -> tuple[float, ...]:
    body = np.array([0.5**k for k in range(n_levels - 1)], np.float64)
    body[-1] = min(body[-1], 0.02)
    return (1.0, *(float(x) for x in body / body.sum()))


def _auto_family_cap(model: MatchModel, comparisons: Sequence[Comparison]) -> float:
    """The strongest single piece of family evidence: the household counts once."""
    weights = model.level_weights()
    best = [float(w[1:].max()) for w, c in zip(weights, comparisons, strict=True) if c.family]
    return max(best) if best else 0.0


def _score_levels(
    levels: npt.NDArray[np.int8],
    model: MatchModel,
    comparisons: Sequence[Comparison],
    tf_bits: F64 | None,
) -> PairScores:
    weights = model.level_weights()
    contributions = _base_contributions(levels, weights)
    if tf_bits is not None:
        contributions = np.where(np.isnan(tf_bits), contributions, tf_bits)
    prior_bits = _logit2(model.prior)
    contributions, adjustment = _apply_rules(levels, contributions, prior_bits, model, comparisons)
    log_odds = contributions.sum(axis=1) + adjustment + prior_bits
    return PairScores(
        contributions.astype(np.float32), adjustment.astype(np.float32), log_odds, _expit2(log_odds)
    )


def score_pairs(levels: LevelMatrix, model: MatchModel, tf_bits: F64 | None = None) -> PairScores:
    """Score candidate pairs; ``tf_bits`` (NaN where unused) overrides exact-name weights."""
    return _score_levels(levels.levels, model, levels.comparisons, tf_bits)


def term_frequency_bits(
    levels: LevelMatrix,
    model: MatchModel,
    frequencies: dict[str, npt.NDArray[np.float64]],
) -> F64:
    """Exact-agreement weights adjusted for how common the agreed value is.

    ``frequencies[name]`` holds, per pair, the share of all records that
    carry the agreed value. Splink-style: ``log2(m_exact / frequency)``,
    bounded so one rare name cannot dominate.
    """
    out = np.full(levels.levels.shape, np.nan)
    for j, name in enumerate(model.comparisons):
        freq = frequencies.get(name)
        if freq is None:
            continue
        exact = levels.levels[:, j] == 1
        m_exact = model.m[j][1]
        bits = np.log2(m_exact / np.maximum(freq, 1e-9))
        out[:, j] = np.where(exact, np.clip(bits, -MAX_LEVEL_BITS, MAX_LEVEL_BITS), np.nan)
    return out
