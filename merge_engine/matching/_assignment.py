"""Global one-to-one assignment on the scored bipartite graph.

Nodes are archived *groups* (an archived child typed in twice forms one
group, so all its records go to the same synced student) and synced
students; edges are candidate pairs above the review floor, weighted by
their log-odds above that floor. Edges that every optimal matching
holds (a strong edge dominating the weak ones at its ends) are taken
first; what is left is split into connected components and solved
exactly as a maximum-weight matching (Jonker-Volgenant from scipy, with
a zero-gain "stay unmatched" option per group). Most components are a
single edge.

An assigned edge is *unambiguous* when every competing edge, on either
side, is at least ``margin_bits`` weaker; otherwise it goes to review.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ._arrays import component_labels, unique_inverse

__all__ = ["Assignment", "assign"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
NONE = -1


@frozen
class Assignment:
    """Which synced student each archived group gets, and by what margin.

    ``synced[g]`` is the synced index of group ``g`` or ``NONE``;
    ``margin[g]`` is the gap in bits to the strongest competing edge
    (``inf`` when there is none); ``rival_group[g]`` and ``rival_synced[g]``
    name the strongest competitors (``NONE`` when absent).
    """

    synced: I64
    weight: F64
    margin: F64
    rival_synced: I64
    rival_group: I64
    edge_key: I64
    edge_pair: I64
    components: int
    largest_component: int

    def best_pair(self, group: I64, synced: I64, n_synced: int) -> I64:
        """Index of the strongest input pair for each (group, synced), ``NONE`` if no edge."""
        keys = group * np.int64(max(n_synced, 1)) + synced
        if len(self.edge_key) == 0:
            return np.full(len(keys), NONE, np.int64)
        pos = np.minimum(np.searchsorted(self.edge_key, keys), len(self.edge_key) - 1)
        found = (self.edge_key[pos] == keys) & (group >= 0) & (synced >= 0)
        return np.where(found, self.edge_pair[pos], NONE)


def _best_per(node: I64, weight: F64, n: int, mask: npt.NDArray[np.bool_], *ties: I64) -> I64:
    """Per node, the index of its masked edge of highest weight, ties to the smallest value of
    each of ``ties`` in turn (``NONE`` where no edge). Reductions, not a sort: the edges are
    every candidate pair, and a sort on three keys took seconds at 150,000 students."""
    best = np.full(n, NONE, np.int64)
    k = np.flatnonzero(mask)
    if not len(k):
        return best
    top = np.full(n, -np.inf)
    np.maximum.at(top, node[k], weight[k])
    k = k[weight[k] == top[node[k]]]
    for tie in ties:
        low = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(low, node[k], tie[k])
        k = k[tie[k] == low[node[k]]]
    best[node[k]] = k
    return best


def _top_two(node: I64, other: I64, weight: F64, n: int) -> tuple[F64, I64, F64, I64]:
    """Best and second-best edge per node: (w1, other1, w2, other2); ties go to the
    smaller ``other`` (each (node, other) edge occurs once)."""
    w1 = np.full(n, -np.inf)
    w2 = np.full(n, -np.inf)
    o1 = np.full(n, NONE, np.int64)
    o2 = np.full(n, NONE, np.int64)
    if len(node) == 0:
        return w1, o1, w2, o2
    everything = np.ones(len(node), np.bool_)
    first = _best_per(node, weight, n, everything, other)
    has = np.flatnonzero(first != NONE)
    w1[has], o1[has] = weight[first[has]], other[first[has]]
    everything[first[has]] = False
    second = _best_per(node, weight, n, everything, other)
    has = np.flatnonzero(second != NONE)
    w2[has], o2[has] = weight[second[has]], other[second[has]]
    return w1, o1, w2, o2


DENSE_LIMIT = 4_000_000
"""Largest component (rows x columns) solved with a dense matrix; larger ones go sparse."""


def _sparse_solve(g_local: I64, s_local: I64, gain: F64, n_g: int, n_s: int) -> tuple[I64, I64]:
    """Exact maximum-gain matching of one large component with a sparse solver.

    Costs must be positive: ``C - gain`` on real edges and ``C`` on each
    group's private "stay unmatched" column, so minimising cost maximises gain.
    """
    big = float(gain.max()) + 1.0
    rows = np.concatenate([g_local, np.arange(n_g)])
    cols = np.concatenate([s_local, n_s + np.arange(n_g)])
    cost = np.concatenate([big - gain, np.full(n_g, big)])
    # scipy's solvers load on first use: 0.7 s that show, apply, review and the districts
    # without a contested component need not pay.
    from scipy import sparse  # noqa: PLC0415
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching  # noqa: PLC0415

    matrix = sparse.csr_matrix((cost, (rows, cols)), shape=(n_g, n_s + n_g))
    r, c = min_weight_full_bipartite_matching(matrix)
    return r.astype(np.int64), c.astype(np.int64)


def _forced(g_el: I64, s_el: I64, gain: F64, n_groups: int, n_synced: int) -> Mask:
    """The edges in every maximum-gain matching, found by dominance, round after round.

    An edge whose gain exceeds the best other gain of its group plus the best other gain of
    its synced student is in every optimal matching: any matching without it gains more by
    dropping the (at most two) edges at its ends and taking it. Its ends then leave the
    graph, which can make more edges dominant. A common name links thousands of records by
    weak edges into one component; the strong edge of each true pair dominates them, so
    what is left splits into small components (strict: ties stay for the exact solver).
    """
    forced = np.zeros(len(g_el), np.bool_)
    alive = np.flatnonzero(gain > 0)
    while len(alive):
        g, s, w = g_el[alive], s_el[alive], gain[alive]
        gw1, go1, gw2, _ = _top_two(g, s, w, n_groups)
        sw1, so1, sw2, _ = _top_two(s, g, w, n_synced)
        other_g = np.maximum(np.where(go1[g] == s, gw2[g], gw1[g]), 0.0)
        other_s = np.maximum(np.where(so1[s] == g, sw2[s], sw1[s]), 0.0)
        dominant = w > other_g + other_s
        if not dominant.any():
            break
        forced[alive[dominant]] = True
        alive = alive[_free(g, s, g[dominant], s[dominant], n_groups, n_synced)]
    return forced


def _free(g: I64, s: I64, taken_g: I64, taken_s: I64, n_groups: int, n_synced: int) -> Mask:
    """Which edges ``(g, s)`` touch neither a taken group nor a taken synced student."""
    group_taken = np.zeros(n_groups, np.bool_)
    synced_taken = np.zeros(n_synced, np.bool_)
    group_taken[taken_g] = True
    synced_taken[taken_s] = True
    free: Mask = ~(group_taken[g] | synced_taken[s])
    return free


def _solve(g_el: I64, s_el: I64, gain: F64, n_groups: int, n_synced: int) -> tuple[I64, int, int]:
    """Exact maximum-gain matching: the forced edges, then what is left component by component.

    Returns the synced index per group, and the number of components and the size of the
    largest in the graph as given (before the forced edges are taken out).
    """
    result = np.full(n_groups, NONE, np.int64)
    if len(g_el) == 0:
        return result, 0, 0
    labels = _labels(g_el, s_el, n_groups, n_synced)
    sizes = np.bincount(
        labels[np.concatenate([_present(g_el, n_groups), _present(s_el, n_synced) + n_groups])]
    )
    nontrivial = sizes[sizes > 1]
    forced = _forced(g_el, s_el, gain, n_groups, n_synced)
    result[g_el[forced]] = s_el[forced]
    rest = np.flatnonzero(_free(g_el, s_el, g_el[forced], s_el[forced], n_groups, n_synced))
    _solve_components(g_el[rest], s_el[rest], gain[rest], n_groups, n_synced, result)
    return result, len(nontrivial), int(nontrivial.max()) if len(nontrivial) else 0


def _present(nodes: I64, n: int) -> I64:
    """The distinct values of ``nodes`` (all below ``n``), sorted: ``unique`` by a count."""
    return np.flatnonzero(np.bincount(nodes, minlength=n))


def _labels(g_el: I64, s_el: I64, n_groups: int, n_synced: int) -> I64:
    """Connected component of each node (groups first, then synced students)."""
    return component_labels(n_groups + n_synced, g_el, s_el + n_groups)


SMALL_GROUPS = 4
SMALL_SYNCED = 6
"""Largest component (groups, synced students) tried by enumeration before SciPy's solver:
at most 1,045 partial matchings. Nearly all contested components are two groups and two
synced students; importing ``scipy.optimize`` for them costs 0.25 s and 50 MB."""

_TIE_BITS = 1e-9
"""Two matchings whose total gains are this close count as tied (sums in another order)."""


def _unique_best(g_local: I64, s_local: I64, gain: F64, n_g: int) -> tuple[I64, I64] | None:
    """The maximum-gain partial matching of a small component by enumeration, as
    ``linear_sum_assignment`` reports it (every row, real columns for matched groups), or
    ``None`` when another matching comes within ``_TIE_BITS``: then which optimum wins is
    the exact solver's to say, so plans stay the same as with SciPy alone."""
    options: list[list[tuple[int, float]]] = [[] for _ in range(n_g)]
    for g, s, w in zip(g_local.tolist(), s_local.tolist(), gain.tolist(), strict=True):
        options[g].append((s, w))
    best = second = -np.inf
    best_cols: list[int] = []

    def walk(row: int, used: int, total: float, cols: list[int]) -> None:
        nonlocal best, second, best_cols
        if row == n_g:
            if total > best:
                best, second, best_cols = total, best, list(cols)
            elif total > second:
                second = total
            return
        cols.append(-1)
        walk(row + 1, used, total, cols)
        cols.pop()
        for s, w in options[row]:
            if not used >> s & 1:
                cols.append(s)
                walk(row + 1, used | 1 << s, total + w, cols)
                cols.pop()

    walk(0, 0, 0.0, [])
    if best - second <= _TIE_BITS * max(1.0, abs(best)):
        return None
    n_s = int(s_local.max()) + 1
    # A group left unmatched takes its own "stay unmatched" column, as in the dense matrix.
    cols = [c if c >= 0 else n_s + row for row, c in enumerate(best_cols)]
    return np.arange(n_g, dtype=np.int64), np.array(cols, np.int64)


def _solve_components(
    g_el: I64, s_el: I64, gain: F64, n_groups: int, n_synced: int, result: I64
) -> None:
    """Exact maximum-gain matching of the given edges, component by component, into ``result``.

    Components with one group or one synced student take their best edge
    directly (ties broken by ids, and flagged by the margin); the others are
    solved by ``linear_sum_assignment`` on a dense matrix with a zero-gain
    "stay unmatched" column per group, or by the sparse solver when large.
    """
    if len(g_el) == 0:
        return
    labels = _labels(g_el, s_el, n_groups, n_synced)
    comp = labels[g_el]
    n_labels = int(labels.max()) + 1
    groups_in = np.zeros(n_labels, np.int64)
    synced_in = np.zeros(n_labels, np.int64)
    np.add.at(groups_in, labels[_present(g_el, n_groups)], 1)
    np.add.at(synced_in, labels[_present(s_el, n_synced) + n_groups], 1)
    trivial = (groups_in[comp] == 1) | (synced_in[comp] == 1)

    chosen = _best_per(comp, gain, n_labels, trivial, g_el, s_el)
    chosen = chosen[chosen != NONE]
    result[g_el[chosen]] = s_el[chosen]

    hard = np.flatnonzero(~trivial)
    if len(hard):
        order = np.argsort(comp[hard], kind="stable")
        hard = hard[order]
        bounds = np.flatnonzero(np.diff(comp[hard])) + 1
        for edges in np.split(hard, bounds):
            gs, g_local = np.unique(g_el[edges], return_inverse=True)
            ss, s_local = np.unique(s_el[edges], return_inverse=True)
            small = None
            if len(gs) <= SMALL_GROUPS and len(ss) <= SMALL_SYNCED:
                small = _unique_best(g_local, s_local, gain[edges], len(gs))
            if small is not None:
                rows, cols = small
            elif len(gs) * (len(ss) + len(gs)) <= DENSE_LIMIT:
                matrix = np.full((len(gs), len(ss) + len(gs)), -1e18)
                matrix[g_local, s_local] = gain[edges]
                matrix[np.arange(len(gs)), len(ss) + np.arange(len(gs))] = 0.0
                from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

                rows, cols = linear_sum_assignment(matrix, maximize=True)
            else:
                rows, cols = _sparse_solve(g_local, s_local, gain[edges], len(gs), len(ss))
            real = cols < len(ss)
            result[gs[rows[real]]] = ss[cols[real]]


def assign(
    group: I64,
    synced: I64,
    log_odds: F64,
    *,
    n_groups: int,
    n_synced: int,
    floor_bits: float,
) -> Assignment:
    """Solve the assignment over edges ``(group[k], synced[k])`` of weight ``log_odds[k]``.

    Edges at or below ``floor_bits`` never get assigned but still count as
    competitors. Several edges between the same group and synced student
    (one per archived record of the group) collapse to the strongest.
    """
    nb = np.int64(max(n_synced, 1))
    key = group * nb + synced
    edge_key, edge = unique_inverse(key)  # sorted, and each pair's edge
    everything = np.ones(len(key), np.bool_)
    # The input index of the strongest pair per (group, synced), ties to the first.
    edge_pair = _best_per(edge, log_odds, len(edge_key), everything, np.arange(len(key)))
    g_e, s_e, w_e = group[edge_pair], synced[edge_pair], log_odds[edge_pair]

    eligible = w_e > floor_bits
    result, components, largest = _solve(
        g_e[eligible], s_e[eligible], w_e[eligible] - floor_bits, n_groups, n_synced
    )

    weight = np.full(n_groups, -np.inf)
    idx = np.flatnonzero(result != NONE)
    weight[idx] = w_e[np.searchsorted(edge_key, idx * nb + result[idx])]

    gw1, go1, gw2, go2 = _top_two(g_e, s_e, w_e, n_groups)
    sw1, so1, sw2, so2 = _top_two(s_e, g_e, w_e, n_synced)
    margin = np.full(n_groups, np.inf)
    rival_s = np.full(n_groups, NONE, np.int64)
    rival_g = np.full(n_groups, NONE, np.int64)
    if len(idx):
        s_of = result[idx]
        g_comp_w = np.where(go1[idx] == s_of, gw2[idx], gw1[idx])
        rival_s[idx] = np.where(go1[idx] == s_of, go2[idx], go1[idx])
        s_comp_w = np.where(so1[s_of] == idx, sw2[s_of], sw1[s_of])
        rival_g[idx] = np.where(so1[s_of] == idx, so2[s_of], so1[s_of])
        margin[idx] = weight[idx] - np.maximum(g_comp_w, s_comp_w)
    return Assignment(
        synced=result,
        weight=weight,
        margin=margin,
        rival_synced=rival_s,
        rival_group=rival_g,
        edge_key=edge_key,
        edge_pair=edge_pair,
        components=components,
        largest_component=largest,
    )
