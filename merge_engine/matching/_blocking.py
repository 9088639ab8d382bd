"""Candidate generation: which archived/synced pairs are worth comparing.

Each blocking rule is an equi-join on a key built from normalised fields
(for example the given-name variants plus the surname, or the birth date
plus the surname). A pair is a candidate when any rule joins it, so each
rule only has to catch the errors the others miss. Keys shared by too
many records on both sides (a school's office phone typed in as every
guardian's number) are skipped and counted, because they say nothing.

Everything here is array work: the output is two index arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ._arrays import is_sorted, isin, merged_unique, sorted_order, unique, unique_first_inverse
from ._features import GRADE_MISSING, MISSING, EncodedSide, Ragged, Vocabulary
from ._normalize import nickname_index

__all__ = [
    "ALWAYS_SPLIT",
    "BLOCKING_RULES",
    "DUPLICATE_ONLY_RULES",
    "DUPLICATE_RULES",
    "FALLBACK_RULES",
    "SPLIT_BLOCK_PAIRS",
    "SPLIT_RULES",
    "BlockingStats",
    "Candidates",
    "generate_candidates",
]

I64 = npt.NDArray[np.int64]


@frozen
class KeyColumn:
    """A (possibly multi-valued) key per record: ``owners[i]`` has ``keys[i]``."""

    owners: I64
    keys: I64


@frozen
class BlockingStats:
    """What one rule contributed, for the plan's record of the work done."""

    rule: str
    pairs: int
    skipped_keys: int


@frozen
class Candidates:
    """Candidate pairs as parallel index arrays, sorted and unique."""

    archived: I64
    synced: I64
    stats: tuple[BlockingStats, ...]

    def __len__(self) -> int:
        return len(self.archived)


def _single(codes: npt.NDArray[np.integer]) -> KeyColumn:
    keys = codes.astype(np.int64)
    valid = keys != MISSING
    return KeyColumn(np.flatnonzero(valid).astype(np.int64), keys[valid])


def _multi(ragged: Ragged) -> KeyColumn:
    return KeyColumn(ragged.owners(), ragged.values.astype(np.int64))


def _combine(left: KeyColumn, right: KeyColumn, n: int) -> KeyColumn:
    """Pairs of keys on the same record (a cartesian product per record)."""
    if len(left.keys) == 0 or len(right.keys) == 0:
        return KeyColumn(np.empty(0, np.int64), np.empty(0, np.int64))
    if is_sorted(right.owners):  # as every key builder makes them
        r_keys = right.keys
        per_owner = np.bincount(right.owners, minlength=n)
    else:
        order_r, r_owners = sorted_order(right.owners)
        r_keys = right.keys[order_r]
        per_owner = np.bincount(r_owners, minlength=n)
    starts = np.cumsum(per_owner) - per_owner  # each owner's first key in r_keys
    counts = per_owner[left.owners]
    rep_left = np.repeat(np.arange(len(left.keys)), counts)
    offsets = np.arange(len(rep_left)) - np.repeat(np.cumsum(counts) - counts, counts)
    r_index = np.repeat(starts[left.owners], counts) + offsets
    keys = (left.keys[rep_left] << 32) + r_keys[r_index]
    return KeyColumn(left.owners[rep_left], keys)


@frozen
class Split:
    """How a rule's oversized blocks are cut: a block of more than ``pairs`` pairs
    (a common name) only pairs records that also agree on one of ``fields``.

    Each field is a pair of per-record codes (archived, synced), ``MISSING`` when
    unknown. A common name's block grows with the square of the district, and a pair
    it alone joins, with nothing else in common, is not one the plan could merge:
    thousands of namesakes compete for it.
    """

    pairs: int
    fields: tuple[tuple[I64, I64], ...]


def _refined(owner: I64, starts: I64, counts: I64, field: I64) -> KeyColumn:
    """The records of the given blocks (``owner[starts[k]:starts[k] + counts[k]]``) keyed
    by (block, field value); records with the field missing are left out."""
    block = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    within = np.arange(len(block), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    owners = owner[np.repeat(starts, counts) + within]
    values = field[owners]
    known = values != MISSING
    return KeyColumn(owners[known], (block[known] << 32) | values[known])


#: Candidate pairs a join makes at once: its per-pair temporaries (about 50 bytes a
#: pair) stay near 200 MB however large the blocks of a million-student district grow.
JOIN_CHUNK_PAIRS = 1 << 22


def _join(
    a: KeyColumn,
    b: KeyColumn,
    max_block_pairs: int,
    nb: np.int64,
    split: Split | None = None,
    upper_only: bool = False,
) -> tuple[I64, int, int]:
    """The distinct pair codes (``a owner * nb + b owner``, sorted) of the (a, b) owner
    pairs sharing a key, how many pairs the blocks held (with repeats), and how many keys
    were skipped for having too many pairs.

    Blocks are expanded a few million pairs at a time and each chunk reduced to its
    distinct codes, so memory follows the distinct pairs, not the blocks' sizes. With
    ``split``, a block of more than ``split.pairs`` pairs only pairs records that also
    agree on one of its fields (see :class:`Split`). With ``upper_only`` (both sides one
    roster) only pairs ``a owner < b owner`` are kept, as they are made.
    """
    # The order of owners within a block does not matter (each chunk's codes are made
    # distinct and sorted): where the keys are too wide to sort packed with their
    # positions, a plain argsort is twice as fast as a stable one.
    # A roster joined with itself (the duplicate search) is sorted once.
    same = a is b
    a_compact, b_compact = _compact(a.keys, b.keys)
    a_order, a_keys = sorted_order(a_compact, stable=False)
    del a_compact
    a_owner = a.owners[a_order]
    del a_order
    ua, a_start, a_count = _runs(a_keys)
    del a_keys
    if same:
        b_owner, ub, b_start, b_count = a_owner, ua, a_start, a_count
    else:
        b_order, b_keys = sorted_order(b_compact, stable=False)
        b_owner = b.owners[b_order]
        del b_order
        ub, b_start, b_count = _runs(b_keys)
        del b_keys
    del b_compact
    at = np.minimum(np.searchsorted(ub, ua), max(len(ub) - 1, 0))
    ia = np.flatnonzero(ub[at] == ua) if len(ub) else np.empty(0, np.int64)
    ib = at[ia]
    ca, cb = a_count[ia], b_count[ib]
    sizes = ca * cb
    sa, sb = a_start[ia], b_start[ib]
    parts: list[I64] = []
    total = skipped = 0
    if split is not None:
        big = sizes > split.pairs
        if big.any():
            for a_field, b_field in split.fields:
                left = _refined(a_owner, sa[big], ca[big], a_field)
                codes, pairs, too_big = _join(
                    left,
                    left
                    if same and a_field is b_field
                    else _refined(b_owner, sb[big], cb[big], b_field),
                    max_block_pairs,
                    nb,
                    upper_only=upper_only,
                )
                parts.append(codes)
                total += pairs
                skipped += too_big
            small = ~big
            ca, cb, sizes, sa, sb = ca[small], cb[small], sizes[small], sa[small], sb[small]
    keep = sizes <= max_block_pairs
    skipped += int(len(sizes) - keep.sum())
    ca, cb, sizes = ca[keep], cb[keep], sizes[keep]
    sa, sb = sa[keep], sb[keep]
    total += int(sizes.sum())
    ends = np.cumsum(sizes)
    first = 0
    while first < len(sizes):
        # The blocks from ``first`` up to about JOIN_CHUNK_PAIRS pairs (one block at least).
        done = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, done + JOIN_CHUNK_PAIRS, side="right")), first + 1)
        chunk = sizes[first:last]
        count = int(chunk.sum())
        block = np.repeat(np.arange(first, last), chunk)
        within = np.arange(count, dtype=np.int64) - np.repeat(np.cumsum(chunk) - chunk, chunk)
        cb_rep = cb[block]
        left = a_owner[sa[block] + within // cb_rep]
        right = b_owner[sb[block] + within % cb_rep]
        del block, within, cb_rep
        if upper_only:
            keep = left < right
            left, right = left[keep], right[keep]
        codes = left * nb + right
        del left, right
        parts.append(unique(codes))
        first = last
    if not parts:
        return np.empty(0, np.int64), total, skipped
    merged = parts[0] if len(parts) == 1 else merged_unique(parts)
    return merged, total, skipped


def _compact(a: I64, b: I64) -> tuple[I64, I64]:
    """The keys of both sides renumbered into as few bits as their two halves span (a key
    is ``high << 32 | low``), equal keys staying equal: narrow keys sort packed with their
    positions (see ``sorted_order``)."""
    if not len(a) or not len(b):
        return a, b
    if a is b:
        both, _ = _compact(a, a[:1])
        return both, both
    high_a, high_b = a >> 32, b >> 32
    low_a, low_b = a & 0xFFFFFFFF, b & 0xFFFFFFFF
    high = min(int(high_a.min()), int(high_b.min()))
    low = min(int(low_a.min()), int(low_b.min()))
    span = max(int(low_a.max()), int(low_b.max())) - low + 1
    if (max(int(high_a.max()), int(high_b.max())) - high + 1) * span >= 1 << 62:
        return a, b
    return (high_a - high) * span + (low_a - low), (high_b - high) * span + (low_b - low)


def _runs(ordered: I64) -> tuple[I64, I64, I64]:
    """The distinct values of a sorted array, where each run starts and its length (what
    ``np.unique`` returns with ``return_index`` and ``return_counts``, without a sort)."""
    if not len(ordered):
        return ordered, np.empty(0, np.int64), np.empty(0, np.int64)
    first = np.empty(len(ordered), np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered[starts], starts, np.diff(np.append(starts, len(ordered)))


def _first_variants(side: EncodedSide, vocab: Vocabulary) -> KeyColumn:
    """Each record's first given name expanded to its canonical forms.

    The forms are looked up once per distinct name, then spread over the records by
    array indexing: a million records share some tens of thousands of given names.
    """
    index = nickname_index()
    names = vocab.values
    codes = side.first_token.astype(np.int64)
    owners = np.flatnonzero(codes != MISSING).astype(np.int64)
    distinct, first, which = unique_first_inverse(codes[owners])
    # Looked up in record order, as forms not yet in the vocabulary get their codes.
    forms: list[list[int]] = [[] for _ in range(len(distinct))]
    for k in sorted_order(first)[0].tolist():
        forms[k] = [vocab.code(v) for v in sorted(index.canonicals(names[int(distinct[k])]))]
    counts = np.fromiter(map(len, forms), np.int64, count=len(forms))
    flat = np.fromiter(
        (f for expanded in forms for f in expanded), np.int64, count=int(counts.sum())
    )
    starts = np.cumsum(counts) - counts
    per_record = counts[which]
    within = np.arange(int(per_record.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(per_record) - per_record, per_record
    )
    keys = flat[np.repeat(starts[which], per_record) + within]
    return KeyColumn(np.repeat(owners, per_record), keys)


def _initial(side: EncodedSide, names: Sequence[str]) -> KeyColumn:
    initials = np.array([ord(n[0]) if n else -1 for n in names] or [-1], np.int64)
    codes = side.first_token.astype(np.int64)
    valid = codes != MISSING
    return KeyColumn(np.flatnonzero(valid).astype(np.int64), initials[codes[valid]])


KeyBuilder = Callable[[EncodedSide], KeyColumn]


def _surname_school(side: EncodedSide) -> KeyColumn:
    """The joined surname and the school as one key (both known)."""
    last, school = side.last_key.astype(np.int64), side.school.astype(np.int64)
    valid = (last != MISSING) & (school != MISSING)
    return KeyColumn(np.flatnonzero(valid).astype(np.int64), ((last << 32) | school)[valid])


def _rules(vocab: Vocabulary) -> dict[str, tuple[KeyBuilder, KeyBuilder | None]]:
    names = vocab.values
    # Three rules share the variants, and the duplicate search joins a side with itself.
    expanded: dict[int, tuple[EncodedSide, KeyColumn]] = {}

    def variants(side: EncodedSide) -> KeyColumn:
        found = expanded.get(id(side))
        if found is None or found[0] is not side:
            found = expanded[id(side)] = (side, _first_variants(side, vocab))
        return found[1]

    def surname_tokens(side: EncodedSide) -> KeyColumn:
        owners = np.repeat(np.arange(len(side), dtype=np.int64), side.last_tokens.shape[1])
        keys = side.last_tokens.reshape(-1).astype(np.int64)
        valid = keys != MISSING
        return KeyColumn(owners[valid], keys[valid])

    def unordered_names(side: EncodedSide) -> KeyColumn:
        first = side.first_token.astype(np.int64)
        last = side.last_key.astype(np.int64)
        valid = (first != MISSING) & (last != MISSING)
        low, high = np.minimum(first, last), np.maximum(first, last)
        return KeyColumn(np.flatnonzero(valid).astype(np.int64), ((low << 32) | high)[valid])

    return {
        "given name variant + surname word": (variants, surname_tokens),
        "given name and surname in either order": (unordered_names, None),
        "given name variant + joined surname": (variants, lambda s: _single(s.last_key)),
        "given name variant + surname + school": (variants, _surname_school),
        "surname + birth date": (lambda s: _single(s.last_key), lambda s: _single(s.dob)),
        "given name + birth date": (lambda s: _single(s.first_token), lambda s: _single(s.dob)),
        "surname + given initial": (lambda s: _single(s.last_key), lambda s: _initial(s, names)),
        "given name + school": (lambda s: _single(s.first_token), lambda s: _single(s.school)),
        "guardian phone": (lambda s: _multi(s.guardian_phones), None),
        "guardian email": (lambda s: _multi(s.guardian_emails), None),
        "guardian account": (lambda s: _multi(s.guardian_accounts), None),
        "street + zip": (lambda s: _single(s.street), lambda s: _single(s.zip)),
        "street + birth date": (lambda s: _single(s.street), lambda s: _single(s.dob)),
        "zip + birth date": (lambda s: _single(s.zip), lambda s: _single(s.dob)),
        "sis id": (lambda s: _single(s.sis_id), None),
        "state id": (lambda s: _single(s.state_id), None),
        "student number": (lambda s: _single(s.student_number), None),
        "student email": (lambda s: _single(s.email), None),
    }


def _split_fields(
    side: EncodedSide, names: Sequence[str], grade_shift: int, wanted: set[str]
) -> dict[str, I64]:
    """What cuts an oversized block, per record (``MISSING`` when unknown, else >= 0).

    Birth year; school-year cohort (born September to August: classmates are born in
    two calendar years, so namesakes of one class meet in the cohort even when not in
    the year, and compete for the same records); school; the grade expected on the
    synced side (``grade_shift``: the grade progression on the archived side, 0 on the
    synced one); the first letters of the given name and of the surname.
    """
    out: dict[str, I64] = {}
    dob = side.dob.astype(np.int64)
    year = np.where(dob == MISSING, MISSING, dob // 10_000)
    if "year" in wanted:
        out["year"] = year
    if "cohort" in wanted:
        out["cohort"] = np.where(dob == MISSING, MISSING, year - ((dob // 100) % 100 < 9))
    if "school" in wanted:
        out["school"] = side.school.astype(np.int64)
    if "grade" in wanted:
        grade = side.grade.astype(np.int64)
        # Offset so that pre-kindergarten grades stay non-negative codes.
        out["grade"] = np.where(grade == GRADE_MISSING, MISSING, grade + grade_shift + 100)
    if wanted & {"given initial", "surname initial"}:
        initials = np.array([ord(n[0]) if n else MISSING for n in names] or [MISSING], np.int64)
        for field, codes in (
            ("given initial", side.first_token),
            ("surname initial", side.last_key),
        ):
            known = codes.astype(np.int64)
            out[field] = np.where(known == MISSING, MISSING, initials[np.maximum(known, 0)])
    return out


BLOCKING_RULES: tuple[str, ...] = tuple(_rules(Vocabulary()).keys())
"""Names of the blocking rules, in the order they run; settings may pick a subset."""

FALLBACK_RULES: frozenset[str] = frozenset({"surname + given initial", "given name + school"})
"""Broad rules, run only for archived records the other rules left unresolved.

Their blocks grow with the square of a school's size, so running them for
everyone would dominate the cost; they exist to catch a typo in a given
name when there is no birth date and no shared guardian.
"""

DUPLICATE_ONLY_RULES: frozenset[str] = frozenset(
    {"given name variant + surname + school", "guardian account"}
)
"""Rules run only in the archived duplicate search, never to pair archived with synced
(guardian account ids are coded per side: the two platforms' ids are unrelated)."""

DUPLICATE_RULES: frozenset[str] = frozenset(
    {
        "surname + birth date", "given name + birth date", "guardian phone", "guardian email",
        "street + zip", "sis id", "state id", "student number", "student email",
        "given name variant + surname + school", "guardian account",
    }
)  # fmt: skip
"""Rules for the archived duplicate search. Grouping a duplicate needs a birth date or
household anchor; the name rule finds records typed twice without either (a nickname,
other contacts), which can only be proposed for review with the first record's match."""

_NAME_SPLIT = ("year", "cohort", "school")

SPLIT_RULES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "given name variant + surname word": _NAME_SPLIT,
        "given name variant + joined surname": _NAME_SPLIT,
        "given name and surname in either order": _NAME_SPLIT,
        "surname + given initial": (*_NAME_SPLIT, "grade"),
        "given name + school": ("year", "cohort", "grade"),
        "zip + birth date": ("school", "given initial", "surname initial"),
    }
)
"""Rules whose blocks grow with the square of the district, and what splits a block of
more than ``split_block_pairs`` pairs: its pairs must also agree on one of these fields
(see :func:`_split_fields`). The name rules split by birth year, school year (September
to August) and school; the fallback rules, which run for records with too little
evidence to be resolved (often no birth date), also by the grade expected after the
progression; two children born the same day in one zip code, by school or either
initial."""

ALWAYS_SPLIT: frozenset[str] = frozenset({"zip + birth date"})
"""Rules of ``SPLIT_RULES`` whose every block is split, whatever its size. A zip code holds
a whole town's children, so a day's births in it grow with the district; a pair that
shares only the zip code and the birth date, and neither school nor an initial, is two
children (splitting every such block lost no true pair at 20,000 on either generator)."""

SPLIT_BLOCK_PAIRS = 100
"""Pairs above which a block of a ``SPLIT_RULES`` rule is split (about ten records a side).
At 2,000 and 20,000 students almost no block is this large; at 150,000 the split blocks
held a third of the name rules' pairs."""


def generate_candidates(
    archived: EncodedSide,
    synced: EncodedSide,
    names: Vocabulary,
    *,
    rules: Sequence[str] = BLOCKING_RULES,
    max_block_pairs: int = 50_000,
    split_block_pairs: int = SPLIT_BLOCK_PAIRS,
    archived_subset: npt.NDArray[np.bool_] | None = None,
    exclude: I64 | None = None,
    grade_progression: int = 1,
    upper_only: bool = False,
) -> Candidates:
    """Union of the pairs joined by each rule; read-only, deterministic.

    ``archived_subset`` limits the archived side to some records (the
    fallback rules only run for records the others did not resolve);
    ``exclude`` holds pair codes (``archived * len(synced) + synced``)
    already compared. A block of a ``SPLIT_RULES`` rule of more than
    ``split_block_pairs`` pairs is split by that rule's fields (``grade_progression``:
    the grade an archived record is expected in on the synced side, 0 when both sides
    are archived). ``upper_only``, when both sides are one roster (the duplicate search):
    only pairs ``archived < synced``, the others being their mirror images or a record
    with itself.
    """
    builders = _rules(names)
    wanted = {f for rule in rules for f in SPLIT_RULES.get(rule, ())}
    a_fields = _split_fields(archived, names.values, grade_progression, wanted)
    same = synced is archived and archived_subset is None
    b_fields = (
        a_fields
        if same and grade_progression == 0
        else _split_fields(synced, names.values, 0, wanted)
    )
    nb = np.int64(max(len(synced), 1))
    merged = np.empty(0, np.int64)
    stats: list[BlockingStats] = []
    for rule in rules:
        left, right = builders[rule]

        def key(
            side: EncodedSide, left: KeyBuilder = left, right: KeyBuilder | None = right
        ) -> KeyColumn:
            column = left(side)
            return column if right is None else _combine(column, right(side), len(side))

        a_key = key(archived)
        if archived_subset is not None:
            keep = archived_subset[a_key.owners]
            a_key = KeyColumn(a_key.owners[keep], a_key.keys[keep])
        split = (
            Split(
                0 if rule in ALWAYS_SPLIT else split_block_pairs,
                tuple((a_fields[f], b_fields[f]) for f in SPLIT_RULES[rule]),
            )
            if rule in SPLIT_RULES
            else None
        )
        b_key = a_key if same else key(synced)
        codes, pairs, skipped = _join(a_key, b_key, max_block_pairs, nb, split, upper_only)
        del b_key
        del a_key
        # The union so far, kept distinct rule by rule: memory follows the distinct pairs.
        merged = _union(merged, codes)
        del codes
        stats.append(BlockingStats(rule=rule, pairs=pairs, skipped_keys=skipped))
    if exclude is not None and len(exclude):
        merged = merged[~isin(merged, exclude)]
    return Candidates(merged // nb, merged % nb, tuple(stats))


def _union(left: I64, right: I64) -> I64:
    """The sorted distinct values of two sorted distinct arrays."""
    if not len(left):
        return right
    if not len(right):
        return left
    return merged_unique([left, right])
