"""The array helpers of matching: connected components without SciPy, checked against it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from merge_engine.matching._arrays import (
    component_labels,
    is_sorted,
    isin,
    sorted_order,
    unique_first_inverse,
    unique_inverse,
)


def _scipy_labels(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(first)), (first, second)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1], np.int64)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    """A node count and an edge list (self-loops and repeated edges included)."""
    n = draw(st.integers(1, 60))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=90))
    first = np.array([a for a, _ in edges], np.int64)
    second = np.array([b for _, b in edges], np.int64)
    return n, first, second


class TestComponentLabels:
    @settings(max_examples=300, deadline=None)
    @given(graphs())
    def test_equal_to_scipy_on_random_graphs(
        self, graph: tuple[int, np.ndarray, np.ndarray]
    ) -> None:
        """The labels, numbering included (by smallest node), are SciPy's."""
        n, first, second = graph

        assert (
            _scipy_labels(n, first, second).tolist() == component_labels(n, first, second).tolist()
        )

    def test_a_long_path_given_backwards_is_one_component(self) -> None:
        """Edges listed from the far end still join into one component labelled 0."""
        n = 100_000
        first = np.arange(n - 1, dtype=np.int64)[::-1]

        assert [0] == np.unique(component_labels(n, first, first + 1)).tolist()

    def test_large_random_graph_equal_to_scipy(self) -> None:
        """A random graph near the giant-component threshold, as large as a district's."""
        rng = np.random.default_rng(7)
        n = 200_000
        first, second = rng.integers(0, n, n // 2), rng.integers(0, n, n // 2)

        assert np.array_equal(_scipy_labels(n, first, second), component_labels(n, first, second))

    def test_no_edges_each_node_alone(self) -> None:
        empty = np.zeros(0, np.int64)

        assert [0, 1, 2] == component_labels(3, empty, empty).tolist()


class TestUniqueInverse:
    @given(st.lists(st.integers(-(2**62), 2**62), max_size=200), st.integers(1, 8))
    def test_equal_to_numpy(self, values: list[int], spread: int) -> None:
        """Distinct values and inverse indices are np.unique's (repeats made common by
        folding the values onto a few)."""
        array = np.array([v % spread if spread < 8 else v for v in values], np.int64)
        expected_unique, expected_inverse = np.unique(array, return_inverse=True)

        got_unique, got_inverse = unique_inverse(array)

        assert expected_unique.tolist() == got_unique.tolist()
        assert expected_inverse.tolist() == got_inverse.tolist()

    @given(st.lists(st.integers(-(2**62), 2**62), max_size=200), st.integers(1, 8))
    def test_first_occurrences_equal_to_numpy(self, values: list[int], spread: int) -> None:
        """With where each value first occurs: np.unique's return_index too."""
        array = np.array([v % spread if spread < 8 else v for v in values], np.int64)
        expected = np.unique(array, return_index=True, return_inverse=True)

        got = unique_first_inverse(array)

        assert [e.tolist() for e in expected] == [g.tolist() for g in got]


_WIDTHS = st.sampled_from([(-3, 3), (0, 2**20), (-(2**40), 2**40), (-(2**63), 2**63 - 1)])


class TestSortedOrder:
    @settings(max_examples=300, deadline=None)
    @given(_WIDTHS.flatmap(lambda w: st.lists(st.integers(*w), max_size=300)), st.booleans())
    def test_a_stable_argsort_and_the_values_in_its_order(
        self, values: list[int], narrow: bool
    ) -> None:
        """Packed with their positions or not (the values' range decides), the order is a
        stable argsort's, and the values come back with their dtype."""
        array = np.array(values, np.int64)
        if narrow and (not len(values) or -(2**31) <= min(values) <= max(values) < 2**31):
            array = array.astype(np.int32)
        expected = np.argsort(array, kind="stable")

        order, ordered = sorted_order(array)

        assert expected.tolist() == order.tolist()
        assert array[expected].tolist() == ordered.tolist()
        assert array.dtype == ordered.dtype

    def test_unstable_when_allowed_still_sorts(self) -> None:
        """Too wide to pack, ``stable=False`` may order ties either way but sorts."""
        array = np.array([2**62, -(2**62), 5, 2**62, 5], np.int64)

        order, ordered = sorted_order(array, stable=False)

        assert sorted(array.tolist()) == ordered.tolist() == array[order].tolist()


class TestIsin:
    @given(
        st.lists(st.integers(-50, 50), max_size=60),
        st.lists(st.integers(-50, 50), max_size=60),
        st.booleans(),
    )
    def test_equal_to_numpy_on_sorted_and_unsorted_tables(
        self, values: list[int], table: list[int], presorted: bool
    ) -> None:
        """A table given sorted is searched as it is; any other is sorted first."""
        array = np.array(values, np.int64)
        lookup = np.array(sorted(table) if presorted else table, np.int64)

        assert np.isin(array, lookup).tolist() == isin(array, lookup).tolist()
        assert is_sorted(lookup) == (sorted(table) == lookup.tolist())
