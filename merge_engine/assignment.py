"""Global one-to-one assignment on the scored bipartite graph.

Nodes are archived *groups* (an archived child typed in twice forms one
group, so all its records go to the same synced student) and synced
students; edges are candidate pairs above the review floor, weighted by
their log-odds above that floor. The graph is split into connected
components and solved exactly as a maximum-weight matching (sparse
Jonker-Volgenant from scipy, with a zero-gain "stay unmatched" option
per group). Most components are a single edge.

An assigned edge is *unambiguous* when every competing edge, on either
side, is at least ``margin_bits`` weaker; otherwise it goes to review.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from attrs import frozen
from scipy import sparse
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

__all__ = ["Assignment", "assign"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
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
    components: int
    largest_component: int


def _top_two(node: I64, other: I64, weight: F64, n: int) -> tuple[F64, I64, F64, I64]:
    """Best and second-best edge per node: (w1, other1, w2, other2)."""
    w1 = np.full(n, -np.inf)
    w2 = np.full(n, -np.inf)
    o1 = np.full(n, NONE, np.int64)
    o2 = np.full(n, NONE, np.int64)
    if len(node) == 0:
        return w1, o1, w2, o2
    order = np.lexsort((other, -weight, node))
    node_s, other_s, weight_s = node[order], other[order], weight[order]
    first = np.ones(len(node_s), np.bool_)
    first[1:] = node_s[1:] != node_s[:-1]
    w1[node_s[first]] = weight_s[first]
    o1[node_s[first]] = other_s[first]
    second = np.zeros(len(node_s), np.bool_)
    second[1:] = first[:-1] & ~first[1:]
    w2[node_s[second]] = weight_s[second]
    o2[node_s[second]] = other_s[second]
    return w1, o1, w2, o2


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
    # Collapse to one edge per (group, synced): the strongest.
    key = group * np.int64(max(n_synced, 1)) + synced
    order = np.lexsort((-log_odds, key))
    key_s = key[order]
    keep = np.ones(len(key_s), np.bool_)
    keep[1:] = key_s[1:] != key_s[:-1]
    g_e, s_e, w_e = group[order][keep], synced[order][keep], log_odds[order][keep]

    eligible = w_e > floor_bits
    g_el, s_el, gain = g_e[eligible], s_e[eligible], w_e[eligible] - floor_bits

    adjacency = sparse.coo_matrix(
        (np.ones(len(g_el)), (g_el, s_el + n_groups)), shape=(n_groups + n_synced,) * 2
    )
    n_comp, labels = connected_components(adjacency, directed=False)
    sizes = np.bincount(labels) if len(labels) else np.zeros(1, np.int64)

    result = np.full(n_groups, NONE, np.int64)
    if len(g_el):
        # Costs must be positive for the sparse solver: C - gain on real edges,
        # C on each group's private "unmatched" column.
        big = float(gain.max()) + 1.0
        rows = np.concatenate([g_el, np.arange(n_groups)])
        cols = np.concatenate([s_el, n_synced + np.arange(n_groups)])
        cost = np.concatenate([big - gain, np.full(n_groups, big)])
        matrix = sparse.csr_matrix((cost, (rows, cols)), shape=(n_groups, n_synced + n_groups))
        rows_m, cols_m = min_weight_full_bipartite_matching(matrix)
        real = cols_m < n_synced
        result[rows_m[real]] = cols_m[real]

    weight = np.full(n_groups, -np.inf)
    assigned = result != NONE
    # weight of the assigned edge
    lookup = dict(zip((g_e * np.int64(max(n_synced, 1)) + s_e).tolist(), w_e.tolist(), strict=True))
    idx = np.flatnonzero(assigned)
    weight[idx] = [lookup[int(g) * max(n_synced, 1) + int(result[g])] for g in idx]

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
        components=int(n_comp - np.sum(sizes == 1)) if len(labels) else 0,
        largest_component=int(sizes.max()) if len(sizes) else 0,
    )
