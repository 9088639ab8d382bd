"""Comparing and scoring a set of pairs with a learnt model.

Shared by the archived-to-synced match and the archived duplicate
search, so both read the same evidence the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ..settings import Settings
from ._comparisons import COMPARISONS, LevelCounts, LevelMatrix, compare_pairs
from ._features import MISSING, EncodedSide, Vocabularies
from ._fellegi_sunter import MatchModel, PairScores, score_pairs, term_frequency_bits

__all__ = [
    "RANDOM_CHUNK_PAIRS",
    "PairWeights",
    "ScoredPairs",
    "Weighing",
    "compare",
    "count_levels",
    "given_name_counts",
    "initial_sounds",
    "name_frequencies",
    "name_genders",
    "score",
]

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


@frozen
class PairWeights:
    """Per scored pair: the bits removed by the name-conflict cap, the log-odds and the
    probability. The bits of each comparison are not kept (half the memory of a pair, gigabytes
    at a million students): :meth:`ScoredPairs.contributions` recomputes them for the pairs
    that become merges."""

    adjustment: F32
    log_odds: F64
    probability: F64


@frozen
class Weighing:
    """What scoring weighed each pair with: the model and, per archived record, the share
    of all records carrying its given name and its surname (term frequencies)."""

    model: MatchModel
    first_name: F64
    last_name: F64

    @classmethod
    def of(cls, a: EncodedSide, model: MatchModel, frequencies: dict[str, F64]) -> Weighing:
        return cls(
            model,
            frequencies["first_name"][np.maximum(a.first, 0)],
            frequencies["last_name"][np.maximum(a.last_key, 0)],
        )

    def scores(self, levels: LevelMatrix, archived: I64) -> PairScores:
        per_pair = {"first_name": self.first_name[archived], "last_name": self.last_name[archived]}
        return score_pairs(levels, self.model, term_frequency_bits(levels, self.model, per_pair))


@frozen
class ScoredPairs:
    """Pairs with their levels and scores, as parallel arrays."""

    archived: I64
    synced: I64
    levels: LevelMatrix
    scores: PairWeights
    weighing: Weighing

    def __len__(self) -> int:
        return len(self.archived)

    def contributions(self, pairs: npt.NDArray[np.integer]) -> F32:
        """The bits each comparison contributed to ``pairs`` (indices), as scored."""
        part = LevelMatrix(self.levels.levels[pairs], self.levels.comparisons)
        return self.weighing.scores(part, self.archived[pairs]).contributions


def compare(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64 | I32,
    ib: I64 | I32,
    vocab: Vocabularies,
    settings: Settings,
    *,
    grade_progression: int | None = None,
    chunk_pairs: int | None = None,
) -> LevelMatrix:
    """Levels of the pairs, with the comparisons the settings leave out forced to ``missing``.

    The pairs are compared ``chunk_pairs`` at a time (default :data:`CHUNK_PAIRS`), each
    chunk's levels written into the one result; a pair's levels do not depend on the chunk
    it is compared in.
    """
    levels = np.empty((len(ia), len(COMPARISONS)), np.int8)
    for chunk, part in _compared(a, b, ia, ib, vocab, settings, grade_progression, chunk_pairs):
        levels[chunk] = part
    return LevelMatrix(levels, COMPARISONS)


def count_levels(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64 | I32,
    ib: I64 | I32,
    vocab: Vocabularies,
    settings: Settings,
    *,
    chunk_pairs: int | None = None,
) -> LevelCounts:
    """What :func:`compare` would return, counted per comparison and level: the random pairs
    teach ``u`` by these counts alone, so no row per pair is kept."""
    totals = [np.zeros(len(c.levels), np.int64) for c in COMPARISONS]
    for _, part in _compared(a, b, ia, ib, vocab, settings, None, chunk_pairs):
        for j, c in enumerate(COMPARISONS):
            totals[j] += np.bincount(part[:, j], minlength=len(c.levels))
    return LevelCounts(tuple(totals), COMPARISONS)


def _compared(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64 | I32,
    ib: I64 | I32,
    vocab: Vocabularies,
    settings: Settings,
    grade_progression: int | None,
    chunk_pairs: int | None,
) -> Iterator[tuple[slice, npt.NDArray[np.int8]]]:
    """Each chunk of pairs and its levels. ``ia`` and ``ib`` may be int32 (the 300,000 random
    pairs: half the memory); each chunk is widened as it is compared."""
    progression = settings.grade_progression if grade_progression is None else grade_progression
    for chunk in _chunks(len(ia), chunk_pairs or CHUNK_PAIRS):
        levels = compare_pairs(
            a,
            b,
            np.asarray(ia[chunk], np.int64),
            np.asarray(ib[chunk], np.int64),
            vocab.names,
            grade_progression=progression,
            level_change_grades=settings.level_change_grades,
            similar_threshold=settings.similar_threshold,
            close_threshold=settings.close_threshold,
            identifiers=vocab.identifiers,
            places=vocab.places,
        ).levels
        for j, comp in enumerate(COMPARISONS):
            if comp.name not in settings.comparisons:
                levels[:, j] = 0
        yield chunk, levels


def name_frequencies(sides: tuple[EncodedSide, ...], n_codes: int) -> dict[str, F64]:
    """Share of all records carrying each given-name and surname code."""
    out: dict[str, F64] = {}
    for field, attr in (("first_name", "first"), ("last_name", "last_key")):
        codes = np.concatenate([getattr(s, attr) for s in sides])
        valid = codes[codes != MISSING]
        counts = np.bincount(valid, minlength=n_codes).astype(np.float64)
        out[field] = counts / max(len(valid), 1)
    return out


#: Records with a gender that a given name needs before it is said to name one gender, and
#: the share of them that must agree (gender is mistyped now and then; unisex names fail).
NAME_GENDER_MIN_RECORDS = 5
NAME_GENDER_MIN_SHARE = 0.95


def name_genders(sides: tuple[EncodedSide, ...], n_codes: int) -> npt.NDArray[np.int8]:
    """The gender each given name names in this district (gender codes: 1 F, 2 M; 0 when
    the name is rare, unisex or never seen with a gender), from the records that carry both:
    Antonia and Antonio, Cornelia and Cornelio name a girl and a boy."""
    counts = np.zeros((n_codes, 3), np.int64)
    for side in sides:
        known = (side.first != MISSING) & np.isin(side.gender, (1, 2))
        np.add.at(counts, (side.first[known], side.gender[known].astype(np.int64)), 1)
    total = counts[:, 1] + counts[:, 2]
    out = np.zeros(n_codes, np.int8)
    enough = total >= NAME_GENDER_MIN_RECORDS
    for code in (1, 2):
        out[enough & (counts[:, code] >= NAME_GENDER_MIN_SHARE * total)] = code
    return out


def given_name_counts(sides: tuple[EncodedSide, ...], n_codes: int) -> I64:
    """How many records of both sides carry each given-name code."""
    codes = np.concatenate([s.first for s in sides])
    return np.bincount(codes[codes != MISSING], minlength=n_codes).astype(np.int64)


#: Letters that sound alike at the start of a name: the Soundex classes, with the vowels,
#: h, w and y together. Camila and Kamila, Zahra and Sahra start alike; Mason and Jason,
#: Ayden and Jayden do not.
_INITIAL_SOUNDS = ("aeiouyhw", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r")
_SOUND_OF = {ch: k for k, letters in enumerate(_INITIAL_SOUNDS) for ch in letters}


def initial_sounds(names: Sequence[str]) -> npt.NDArray[np.int8]:
    """The sound class of each normalised given name's first letter (-1 when it is not
    a Latin letter): a slip rarely changes how a name starts, rhyming names do."""
    return np.fromiter((_SOUND_OF.get(name[:1], -1) for name in names), np.int8, count=len(names))


def score(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64,
    ib: I64,
    levels: LevelMatrix,
    model: MatchModel,
    frequencies: dict[str, F64],
) -> ScoredPairs:
    """Score pairs, weighting exact name agreement by the name's frequency."""
    weighing = Weighing.of(a, model, frequencies)
    parts = []
    for chunk in _chunks(len(ia)):
        part = LevelMatrix(levels.levels[chunk], levels.comparisons)
        scored = weighing.scores(part, ia[chunk])
        parts.append(PairWeights(scored.adjustment, scored.log_odds, scored.probability))
    weights = parts[0] if len(parts) == 1 else PairWeights(
        np.concatenate([p.adjustment for p in parts]),
        np.concatenate([p.log_odds for p in parts]),
        np.concatenate([p.probability for p in parts]),
    )  # fmt: skip
    return ScoredPairs(ia, ib, levels, weights, weighing)


#: Pairs compared or scored at once: the per-pair temporaries (a few hundred bytes
#: a pair) stay under about 100 MB however many pairs a district has.
CHUNK_PAIRS = 1 << 18

#: Random pairs compared at once for the model's ``u``: they are nearly all distinct name
#: pairs, so smaller chunks cost little repeated work, and at 300,000 pairs they keep a
#: small district's peak memory about 30 MB lower than :data:`CHUNK_PAIRS` would (measured
#: at 2,000 students and on Febrl4; 1 << 14 saves no more and costs time).
RANDOM_CHUNK_PAIRS = 1 << 15


def _chunks(n: int, size: int = CHUNK_PAIRS) -> list[slice]:
    """Slices of ``range(n)`` of ``size`` each (at least one, maybe empty)."""
    return [slice(start, start + size) for start in range(0, max(n, 1), size)]
