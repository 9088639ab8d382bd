"""The global one-to-one assignment, checked against brute force on tiny graphs."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merge_engine.matching import _assignment as assignment
from merge_engine.matching._assignment import NONE, Assignment, assign

Edge = tuple[int, int, float]


def _run(edges: list[Edge], n_groups: int, n_synced: int, floor: float = 0.0) -> Assignment:
    g = np.array([e[0] for e in edges], np.int64)
    s = np.array([e[1] for e in edges], np.int64)
    w = np.array([e[2] for e in edges], np.float64)
    return assign(g, s, w, n_groups=n_groups, n_synced=n_synced, floor_bits=floor)


def _best_weights(edges: list[Edge]) -> dict[tuple[int, int], float]:
    best: dict[tuple[int, int], float] = {}
    for g, s, w in edges:
        best[(g, s)] = max(w, best.get((g, s), -math.inf))
    return best


def brute_force(edges: list[Edge], n_groups: int, n_synced: int, floor: float) -> float:
    """The largest total (weight - floor) over all partial matchings of edges above the floor."""
    best = _best_weights(edges)
    options = [
        [None] + [s for s in range(n_synced) if best.get((g, s), -math.inf) > floor]
        for g in range(n_groups)
    ]
    top = 0.0
    for choice in itertools.product(*options):
        taken = [s for s in choice if s is not None]
        if len(taken) != len(set(taken)):
            continue
        gain = sum(best[(g, s)] - floor for g, s in enumerate(choice) if s is not None)
        top = max(top, gain)
    return top


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Edge], int, int, float]:
    n_groups = draw(st.integers(1, 5))
    n_synced = draw(st.integers(1, 5))
    weight = st.floats(-10, 30, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 2))
    edge = st.tuples(st.integers(0, n_groups - 1), st.integers(0, n_synced - 1), weight)
    edges = draw(st.lists(edge, max_size=14))  # repeats model a group's several records
    floor = draw(st.sampled_from([-1.2, 0.0, 3.5]))
    return edges, n_groups, n_synced, floor


@settings(max_examples=300, deadline=None)
@given(graph=graphs())
def test_matches_brute_force(graph: tuple[list[Edge], int, int, float]) -> None:
    """The assignment is a valid matching with the brute-force optimal total gain."""
    edges, n_groups, n_synced, floor = graph
    result = _run(edges, n_groups, n_synced, floor)
    best = _best_weights(edges)
    chosen = [(g, int(s)) for g, s in enumerate(result.synced.tolist()) if s != NONE]
    # a valid matching over existing edges above the floor, reporting the edge's best weight
    assert len({s for _, s in chosen}) == len(chosen)
    for g, s in chosen:
        assert best[(g, s)] > floor
        assert best[(g, s)] == result.weight[g]
    for g in range(n_groups):
        if result.synced[g] == NONE:
            assert result.weight[g] == -math.inf
    gain = sum(best[(g, s)] - floor for g, s in chosen)
    assert brute_force(edges, n_groups, n_synced, floor) == pytest.approx(gain, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(graph=graphs())
def test_sparse_solver_matches_brute_force(graph: tuple[list[Edge], int, int, float]) -> None:
    """Large components go to a sparse solver; forced on tiny graphs it is just as optimal."""
    edges, n_groups, n_synced, floor = graph
    with mock.patch.object(assignment, "DENSE_LIMIT", 0):
        result = _run(edges, n_groups, n_synced, floor)
    best = _best_weights(edges)
    chosen = [(g, int(s)) for g, s in enumerate(result.synced.tolist()) if s != NONE]
    assert len({s for _, s in chosen}) == len(chosen)
    assert all(best[(g, s)] > floor for g, s in chosen)
    gain = sum(best[(g, s)] - floor for g, s in chosen)
    assert brute_force(edges, n_groups, n_synced, floor) == pytest.approx(gain, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(graph=graphs())
def test_margin_is_the_gap_to_the_strongest_competitor(
    graph: tuple[list[Edge], int, int, float],
) -> None:
    """margin = assigned weight minus the best other edge at either end (inf when none)."""
    edges, n_groups, n_synced, floor = graph
    result = _run(edges, n_groups, n_synced, floor)
    best = _best_weights(edges)
    for g, s in enumerate(result.synced.tolist()):
        if s == NONE:
            assert math.isinf(result.margin[g])
            continue
        rivals = [w for (gg, ss), w in best.items() if (gg == g) != (ss == s)]
        expected = best[(g, s)] - max(rivals) if rivals else math.inf
        assert expected == pytest.approx(result.margin[g])


def test_tie_between_two_synced_gives_zero_margin() -> None:
    """One group, two equally good synced students: assigned, but with margin 0."""
    result = _run([(0, 0, 10.0), (0, 1, 10.0)], 1, 2)
    assert result.synced[0] in (0, 1)
    assert result.margin[0] == 0.0
    assert {0, 1} == {int(result.synced[0]), int(result.rival_synced[0])}


def test_tie_between_two_groups_gives_zero_margin() -> None:
    """Two groups equally good for one synced student: one wins with margin 0."""
    result = _run([(0, 0, 10.0), (1, 0, 10.0)], 2, 1)
    winner = int(np.flatnonzero(result.synced != NONE)[0])
    assert int((result.synced != NONE).sum()) == 1
    assert result.margin[winner] == 0.0
    assert 1 - winner == result.rival_group[winner]


def test_clear_winner_margin_and_rivals() -> None:
    """The margin is the gap to the best competitor, found on either side."""
    edges = [(0, 0, 20.0), (0, 1, 12.0), (1, 0, 15.0), (1, 2, 9.0)]
    result = _run(edges, 2, 3)
    assert result.synced.tolist() == [0, 2]
    assert result.margin[0] == 5.0  # group 1 wants synced 0 at 15
    assert result.rival_group[0] == 1
    assert result.rival_synced[0] == 1
    assert result.margin[1] == -6.0  # its own edge to synced 0 is stronger but taken
    assert result.weight.tolist() == [20.0, 9.0]


def test_lone_edge_has_infinite_margin() -> None:
    """An edge with no competitor at either end has margin inf and no rivals."""
    result = _run([(0, 0, 8.0)], 1, 1)
    assert (0, math.inf, NONE, NONE) == (
        int(result.synced[0]),
        float(result.margin[0]),
        int(result.rival_synced[0]),
        int(result.rival_group[0]),
    )


def test_edges_at_or_below_the_floor_compete_but_are_never_assigned() -> None:
    """A weak edge is not assigned, yet it narrows the margin of its rival."""
    result = _run([(0, 0, 2.0), (1, 0, 10.0)], 2, 1, floor=2.0)
    assert result.synced.tolist() == [NONE, 0]
    assert result.margin[1] == 8.0
    below = _run([(0, 0, 1.0)], 1, 1, floor=2.0)
    assert below.synced.tolist() == [NONE]


def test_global_optimum_beats_greedy() -> None:
    """Taking the single best edge first would lose total gain; the solver does not."""
    edges = [(0, 0, 10.0), (0, 1, 9.0), (1, 0, 9.0)]
    result = _run(edges, 2, 2)
    assert result.synced.tolist() == [1, 0]
    assert result.components == 1
    assert result.largest_component == 4


def test_duplicate_group_edges_collapse_to_the_strongest() -> None:
    """Several records of one archived group to one synced student count as one edge."""
    # input pairs 0 and 1 are two records of group 0, both pointing at synced 0
    edges = [(0, 0, 5.0), (0, 0, 9.0), (1, 1, 7.0)]
    result = _run(edges, 2, 2)
    assert result.synced.tolist() == [0, 1]
    assert result.weight[0] == 9.0
    assert math.isinf(result.margin[0])  # a group's own second record is no competitor
    pair = result.best_pair(np.array([0, 1, 1, 0]), np.array([0, 1, 0, NONE]), 2)
    assert pair.tolist() == [1, 2, NONE, NONE]


def test_empty_graph() -> None:
    """No edges: nobody is assigned, and there are no components."""
    result = _run([], 3, 2)
    assert result.synced.tolist() == [NONE, NONE, NONE]
    assert (result.components, result.largest_component) == (0, 0)


def test_independent_components_are_solved_separately() -> None:
    """Components do not influence each other; each component with an edge is counted."""
    edges = [(0, 0, 5.0), (1, 1, 6.0), (1, 2, 6.5), (2, 1, 7.0), (2, 2, 1.0)]
    result = _run(edges, 3, 3)
    assert result.synced.tolist() == [0, 2, 1]
    assert (result.components, result.largest_component) == (2, 4)


@st.composite
def generic_graphs(draw: st.DrawFn) -> tuple[list[Edge], int, int, float]:
    """Graphs whose optimal matching is unique: each distinct (group, synced) edge gets an
    integer weight plus its own power of two far below 1, so no two edge sets tie."""
    n_groups = draw(st.integers(1, 6))
    n_synced = draw(st.integers(1, 6))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_groups - 1), st.integers(0, n_synced - 1)),
            max_size=20,
            unique=True,
        )
    )
    whole = draw(st.lists(st.integers(-3, 30), min_size=len(pairs), max_size=len(pairs)))
    edges = [
        (g, s, w + 2.0 ** -(i + 12)) for i, ((g, s), w) in enumerate(zip(pairs, whole, strict=True))
    ]
    floor = draw(st.sampled_from([-1.0, 0.0, 3.0]))
    return edges, n_groups, n_synced, floor


def _unpruned(edges: list[Edge], n_groups: int, n_synced: int, floor: float) -> list[int]:
    """The exact solver on every edge above the floor, without taking forced edges first."""
    result = np.full(n_groups, NONE, np.int64)
    kept = [e for e in edges if e[2] > floor]
    g = np.array([e[0] for e in kept], np.int64)
    s = np.array([e[1] for e in kept], np.int64)
    gain = np.array([e[2] - floor for e in kept], np.float64)
    assignment._solve_components(g, s, gain, n_groups, n_synced, result)
    return result.tolist()


class TestForcedEdges:
    @settings(max_examples=400, deadline=None)
    @given(graph=generic_graphs())
    def test_pruned_gives_the_same_assignment_as_unpruned(
        self, graph: tuple[list[Edge], int, int, float]
    ) -> None:
        """Taking dominant edges first changes no group's synced student (unique optimum)."""
        edges, n_groups, n_synced, floor = graph

        expected = _unpruned(edges, n_groups, n_synced, floor)

        assert expected == _run(edges, n_groups, n_synced, floor).synced.tolist()

    @settings(max_examples=200, deadline=None)
    @given(graph=generic_graphs())
    def test_forced_edges_are_in_the_optimum(
        self, graph: tuple[list[Edge], int, int, float]
    ) -> None:
        """Every forced edge is in the unpruned optimal matching."""
        edges, n_groups, n_synced, floor = graph
        kept = [e for e in edges if e[2] > floor]
        g = np.array([e[0] for e in kept], np.int64)
        s = np.array([e[1] for e in kept], np.int64)
        gain = np.array([e[2] - floor for e in kept], np.float64)

        forced = assignment._forced(g, s, gain, n_groups, n_synced)

        expected = _unpruned(edges, n_groups, n_synced, floor)
        assert all(expected[g[k]] == s[k] for k in np.flatnonzero(forced))

    def test_common_name_clique_is_taken_apart(self) -> None:
        """Weak edges between everyone sharing a common name do not reach the solver: each
        strong true pair dominates them, so the exact solver gets nothing left."""
        n = 300
        edges = [(i, j, 20.0 if i == j else 1.0) for i in range(n) for j in range(n)]

        with (
            mock.patch.object(assignment, "_sparse_solve") as sparse_solve,
            mock.patch("scipy.optimize.linear_sum_assignment") as dense_solve,
        ):
            result = _run(edges, n, n)

        assert list(range(n)) == result.synced.tolist()
        assert (1, 2 * n) == (result.components, result.largest_component)
        sparse_solve.assert_not_called()
        dense_solve.assert_not_called()

    def test_no_dominance_when_two_weaker_edges_win(self) -> None:
        """10 against 9 + 9 is not dominant: the exact solver still decides."""
        g = np.array([0, 0, 1], np.int64)
        s = np.array([0, 1, 0], np.int64)

        forced = assignment._forced(g, s, np.array([10.0, 9.0, 9.0]), 2, 2)

        assert [False, False, False] == forced.tolist()

    def test_ties_are_left_to_the_solver(self) -> None:
        """Two equal edges at one group: neither is forced (the margin sends them to review)."""
        g = np.array([0, 0], np.int64)
        s = np.array([0, 1], np.int64)

        forced = assignment._forced(g, s, np.array([5.0, 5.0]), 1, 2)

        assert [False, False] == forced.tolist()


def _scipy_choice(g: np.ndarray, s: np.ndarray, gain: np.ndarray, n_g: int, n_s: int) -> list[int]:
    """Each row's real column in SciPy's answer on the dense matrix (-1: stays unmatched)."""
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    matrix = np.full((n_g, n_s + n_g), -1e18)
    matrix[g, s] = gain
    matrix[np.arange(n_g), n_s + np.arange(n_g)] = 0.0
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return [int(c) if c < n_s else -1 for c in cols[np.argsort(rows)]]


@st.composite
def small_components(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """A small component's distinct edges with positive gains; few gain values, so ties
    between matchings are common."""
    n_g = draw(st.integers(1, assignment.SMALL_GROUPS))
    n_s = draw(st.integers(1, assignment.SMALL_SYNCED))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_g - 1), st.integers(0, n_s - 1)), min_size=1, unique=True
        )
    )
    gains = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.5, 7.25, 11.0]),
                          min_size=len(pairs), max_size=len(pairs)))  # fmt: skip
    g = np.array([p[0] for p in pairs], np.int64)
    s = np.array([p[1] for p in pairs], np.int64)
    return g, s, np.array(gains, np.float64), n_g, n_s


class TestSmallComponents:
    @settings(max_examples=400, deadline=None)
    @given(component=small_components())
    def test_enumeration_agrees_with_scipy_or_defers_to_it(
        self, component: tuple[np.ndarray, np.ndarray, np.ndarray, int, int]
    ) -> None:
        """Unless it reports a tie (None), the enumeration picks SciPy's matching."""
        g, s, gain, n_g, _ = component
        # As _solve_components passes them: synced students numbered by those with an edge.
        _, s_local = np.unique(s, return_inverse=True)
        n_real = int(s_local.max()) + 1

        found = assignment._unique_best(g, s_local, gain, n_g)

        if found is not None:
            rows, cols = found
            assert list(range(n_g)) == rows.tolist()
            chosen = [int(c) if c < n_real else -1 for c in cols]
            assert _scipy_choice(g, s_local, gain, n_g, n_real) == chosen

    def test_a_tie_is_left_to_scipy(self) -> None:
        """Two groups, two synced students, both pairings worth 10: None."""
        g = np.array([0, 0, 1, 1], np.int64)
        s = np.array([0, 1, 0, 1], np.int64)

        assert assignment._unique_best(g, s, np.array([5.0, 5.0, 5.0, 5.0]), 2) is None

    def test_a_clear_winner_is_found_without_scipy(self) -> None:
        """10 + 10 beats 9 + 9 (and 10 alone): each group takes its own synced student."""
        g = np.array([0, 0, 1, 1], np.int64)
        s = np.array([0, 1, 0, 1], np.int64)

        found = assignment._unique_best(g, s, np.array([10.0, 9.0, 9.0, 10.0]), 2)

        assert found is not None
        assert [0, 1] == found[1].tolist()
