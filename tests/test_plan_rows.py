"""The merges section made from the planner's columns (``merge-engine plan``) is the text the
plan's JSON encoder writes for the same merges as values (``build_plan(...).write``), for any
ids, hashes, reasons and floats: quotes, backslashes, control characters, ``],[`` inside a
string, signed zeros, missing margins and non-finite numbers included."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge_engine._plan_codec import PlanStream
from merge_engine.plan import Competitor, FieldEvidence, Merge
from merge_engine.planning._decided import Decided, IdIndex
from merge_engine.planning._pairs import _Hashes
from merge_engine.planning._plan_merges import PlanMerges

_TEXT = st.lists(
    st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(['"', "\\", "\n", "\x00", "\x1f", "],[", "]],[", "é", "\u2028"]),
    ),
    max_size=4,
).map("".join)
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-06, 2e-06]),
)


@st.composite
def _plans(draw: st.DrawFn) -> tuple[Decided, list[Merge]]:
    a_ids = sorted(draw(st.sets(_TEXT, min_size=1, max_size=12)))
    b_ids = sorted(draw(st.sets(_TEXT, min_size=1, max_size=12)))
    n_comparisons = draw(st.integers(1, 3))
    kinds = []
    for j in range(n_comparisons):
        made = np.empty(draw(st.integers(1, 4)), object)
        made[:] = [FieldEvidence(f"c{j}", draw(_TEXT), draw(_FLOATS)) for _ in range(len(made))]
        kinds.append(made)
    # One row per archived record at most, in archived order; the rest are other proposals.
    records = draw(st.lists(st.booleans(), min_size=len(a_ids), max_size=len(a_ids)))
    rows = [a for a, is_row in enumerate(records) if is_row]
    n = len(rows)
    ints = st.integers(0, len(b_ids) - 1)
    n_rivals = draw(st.integers(0, 4))
    evidence_lists = st.lists(st.sampled_from([e for k in kinds for e in k]), max_size=3)
    texts = st.lists(_TEXT, min_size=1, max_size=3).map(tuple)
    decided = Decided(
        archived=np.array(rows, np.int64),
        target=np.array([draw(ints) for _ in rows], np.int64),
        review=np.array([draw(st.booleans()) for _ in rows], np.bool_),
        confidence=[draw(_FLOATS) for _ in rows],
        weight=[draw(_FLOATS) for _ in rows],
        margin=[draw(st.none() | _FLOATS) for _ in rows],
        codes=np.array(
            [[draw(st.integers(0, len(k) - 1)) for k in kinds] for _ in rows], np.int32
        ).reshape(n, n_comparisons),
        kinds=kinds,
        extra={i: tuple(draw(evidence_lists)) for i in range(n) if draw(st.booleans())},
        reasons={i: draw(texts) for i in range(n) if draw(st.booleans())},
        rivals=np.array(
            [[draw(st.integers(-1, n_rivals - 1)) for _ in range(2)] for _ in rows], np.int32
        ).reshape(n, 2),
        competitor_archived=np.array(
            [draw(st.integers(0, len(a_ids) - 1)) for _ in range(n_rivals)], np.int64
        ),
        competitor_synced=np.array([draw(ints) for _ in range(n_rivals)], np.int64),
        competitor_confidence=[draw(_FLOATS) for _ in range(n_rivals)],
        duplicates={i: draw(texts) for i in range(n) if draw(st.booleans())},
        first_name=np.zeros(n, np.int8),
        a_ids=a_ids,
        b_ids=b_ids,
        hashes=_Hashes(
            [draw(_TEXT) for _ in a_ids],
            [draw(_TEXT) for _ in b_ids],
            [draw(st.lists(_TEXT, max_size=3).map(tuple)) for _ in b_ids],
        ),
    )
    others = [
        Merge(
            a_ids[a],
            draw(st.sampled_from(b_ids)),
            draw(_FLOATS),
            draw(st.sampled_from(["auto", "review"])),
            draw(_FLOATS),
            draw(st.none() | _FLOATS),
            draw(evidence_lists),
            draw(st.lists(_TEXT, max_size=2)),
            [Competitor(draw(_TEXT), draw(_TEXT), draw(_FLOATS))],
            draw(st.lists(_TEXT, max_size=2)),
            draw(_TEXT),
            draw(_TEXT),
            draw(st.lists(_TEXT, max_size=2)),
        )
        for a, is_row in enumerate(records)
        if not is_row and draw(st.booleans())
    ]
    return decided, others


def _written(merges: PlanMerges, *, as_text: bool) -> str:
    stream = PlanStream(None)
    stream.head({}, {}, {}, {})
    if as_text:
        stream.encoded_merges(merges)
    else:
        stream.merges(list(merges))
    stream.accounts((), (), (), ())
    return stream.close((), (), ())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_plans())
def test_merge_rows_from_columns_are_the_encoders(plan: tuple[Decided, list[Merge]]) -> None:
    """Written from the columns or from the merges made of them: the same bytes (counts,
    evidence table and shared targets included)."""
    decided, others = plan
    merges = PlanMerges(decided, others, IdIndex(decided.a_ids), IdIndex(decided.b_ids))

    assert _written(merges, as_text=True) == _written(merges, as_text=False)


def test_id_index_finds_each_id_as_a_dict_would() -> None:
    ids = ["a", "b", "b", "c"]
    index = IdIndex(ids)
    assert {k: index[k] for k in index} == {s: i for i, s in enumerate(ids)}
    assert len(index) == 3 and "x" not in index and "b" in index


def test_evidence_kinds_are_each_rows_evidence() -> None:
    """Each pair's evidence through the shared values is its own level and bits (rounded),
    for columns with and without signed zeros and nan."""
    from merge_engine.matching._comparisons import COMPARISONS  # noqa: PLC0415
    from merge_engine.planning._rules import _evidence_kinds  # noqa: PLC0415

    rng = np.random.default_rng(3)
    comparisons = COMPARISONS[:3]
    n = 500
    levels = np.stack([rng.integers(0, len(c.levels), n) for c in comparisons], axis=1).astype(
        np.int8
    )
    bits = np.stack(
        [
            rng.normal(0, 3, n).astype(np.float32),
            rng.choice(np.array([0.0, -0.0, 1.5, -2.25], np.float32), n),
            rng.choice(np.array([np.nan, 0.5, 0.5004, 0.5006], np.float32), n),
        ],
        axis=1,
    )
    codes, kinds = _evidence_kinds(comparisons, levels, bits)
    for i in range(n):
        for j, c in enumerate(comparisons):
            e = kinds[j][codes[i, j]]
            want = FieldEvidence(c.name, c.levels[levels[i, j]], float(bits[i, j]))
            assert (e.comparison, e.level) == (want.comparison, want.level)
            assert e.bits == want.bits or (e.bits != e.bits and want.bits != want.bits)


def test_a_levels_zero_and_minus_zero_bits_are_written_as_the_one_first_in_file_order() -> None:
    """Two kinds of one level whose bits are 0.0 and -0.0 (equal, as the encoder's table
    counts them): the row uses the second kind, so the file holds -0.0 as it would from
    the merges themselves (4b5be69: it held the first kind's 0.0)."""
    kinds = np.empty(2, object)
    kinds[:] = [FieldEvidence("c0", "", 0.0), FieldEvidence("c0", "", -0.0)]
    decided = Decided(
        archived=np.array([0], np.int64),
        target=np.array([0], np.int64),
        review=np.array([False]),
        confidence=[1.0],
        weight=[1.0],
        margin=[None],
        codes=np.array([[1]], np.int32),
        kinds=[kinds],
        extra={},
        reasons={},
        rivals=np.array([[-1, -1]], np.int32),
        competitor_archived=np.zeros(0, np.int64),
        competitor_synced=np.zeros(0, np.int64),
        competitor_confidence=[],
        duplicates={},
        first_name=np.zeros(1, np.int8),
        a_ids=["a1"],
        b_ids=["s1"],
        hashes=_Hashes(["h"], ["k"], [()]),
    )
    merges = PlanMerges(decided, [], IdIndex(decided.a_ids), IdIndex(decided.b_ids))

    text = _written(merges, as_text=True)
    assert '["c0","",-0.0]' in text
    assert text == _written(merges, as_text=False)
