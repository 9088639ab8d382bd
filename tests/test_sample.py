"""The random pairs that teach ``u``: in range, reproducible, uniform, chunk-independent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from merge_engine.planning._sample import (
    RANDOM_PAIRS_PER_RECORD,
    random_pair_count,
    random_pairs,
)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10**6),
    st.integers(1, 10**6),
    st.integers(0, 3000),
    st.integers(-(2**70), 2**70),
    st.integers(1, 5000),
)
def test_pairs_are_in_range_and_reproducible(
    n_a: int, n_b: int, n: int, seed: int, chunk: int
) -> None:
    ra, rb = random_pairs(n_a, n_b, n, seed, chunk)
    again = random_pairs(n_a, n_b, n, seed, chunk)

    assert len(ra) == len(rb) == n
    assert ra.dtype == rb.dtype == np.int32
    assert (ra >= 0).all() and (ra < n_a).all() and (rb >= 0).all() and (rb < n_b).all()
    assert ra.tolist() == again[0].tolist() and rb.tolist() == again[1].tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.integers(1, 400), st.integers(1, 400))
def test_the_chunks_change_the_order_not_the_pairs(
    n_a: int, n_b: int, first: int, second: int
) -> None:
    """Each chunk is sorted on the archived side; the pairs (what ``u`` counts) are the same
    whatever the chunk size."""
    one = random_pairs(n_a, n_b, 1000, 7, first)
    other = random_pairs(n_a, n_b, 1000, 7, second)

    def pairs(p: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
        return sorted(zip(p[0].tolist(), p[1].tolist(), strict=True))

    assert pairs(one) == pairs(other)
    assert all(np.all(np.diff(one[0][i : i + first]) >= 0) for i in range(0, 1000, first))


def test_pairs_are_uniform_and_the_sides_independent() -> None:
    """Chi-square tests at 0.1 %: each side's rows, and the (archived, synced) cells of a
    10 x 10 grid, are hit as often as uniform independent draws would hit them."""
    n = 200_000
    ra, rb = random_pairs(1000, 1000, n, 0, 1 << 15)
    # 99.9 % quantiles of chi-square with 999 and 99 degrees of freedom.
    for side in (ra, rb):
        counts = np.bincount(side, minlength=1000)
        assert ((counts - n / 1000) ** 2 / (n / 1000)).sum() < 1143.9
    cells = np.bincount((ra // 100) * 10 + rb // 100, minlength=100)
    assert ((cells - n / 100) ** 2 / (n / 100)).sum() < 148.2


def test_seeds_give_different_samples() -> None:
    first, second = random_pairs(5000, 5000, 1000, 0, 256), random_pairs(5000, 5000, 1000, 1, 256)

    assert first[1].tolist() != second[1].tolist()


def test_a_small_district_compares_fewer_pairs_a_large_one_the_most() -> None:
    assert random_pair_count(2000, 2100, 300_000) == RANDOM_PAIRS_PER_RECORD * 2100
    assert random_pair_count(20_000, 21_000, 300_000) == 300_000
    assert random_pair_count(3, 4, 300_000) == 12  # never more than there are pairs
    assert random_pair_count(2000, 2000, 30_000) == 30_000  # the setting is the most
