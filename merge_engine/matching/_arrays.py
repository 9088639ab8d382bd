"""Set operations on integer arrays, by sorting; connected components of an edge list.

NumPy 2.3+ finds the distinct values of a plain ``np.unique(x)`` (and of the
second argument of ``np.isin``) with a hash set, which is 10-40 times slower
than sorting on the arrays of pair and record codes matching builds (millions
of mostly distinct int64 values; numpy issue #31969). These give the same
results as ``np.unique`` and ``np.isin`` on 1-d integer arrays.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "component_labels",
    "is_sorted",
    "isin",
    "merged_unique",
    "sorted_order",
    "unique",
    "unique_first_inverse",
    "unique_inverse",
]

Ints = npt.NDArray[np.integer]
Int = TypeVar("Int", bound=np.integer)


def unique(values: npt.NDArray[Int]) -> npt.NDArray[Int]:
    """The sorted distinct values of ``values`` (what ``np.unique(values)`` returns)."""
    return _distinct_sorted(np.sort(values, axis=None))


def unique_inverse(values: npt.NDArray[Int]) -> tuple[npt.NDArray[Int], npt.NDArray[np.int64]]:
    """The sorted distinct values of 1-d ``values`` and the index of each value among them
    (what ``np.unique(values, return_inverse=True)`` returns).

    By one sort (:func:`sorted_order`): equal values get the same index whatever their
    order, and it is several times faster than a sort followed by a search of every
    value, whose random probes miss the cache.
    """
    order, ordered = sorted_order(values)
    first = np.ones(len(ordered), np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def unique_first_inverse(
    values: npt.NDArray[Int],
) -> tuple[npt.NDArray[Int], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The sorted distinct values of 1-d ``values``, where each first occurs and the index
    of each value among them (``np.unique`` with ``return_index`` and ``return_inverse``),
    by one stable packed sort (:func:`sorted_order`) instead of a merge sort."""
    order, ordered = sorted_order(values)
    first = np.ones(len(ordered), np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], order[first], inverse


def sorted_order(
    values: npt.NDArray[Int], *, stable: bool = True
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Int]]:
    """A stable argsort of 1-d integer ``values`` and the values in that order.

    When the values' range and their positions fit in 63 bits together (nearly always:
    codes and record numbers), each value is packed with its position into one int64
    and those are sorted: a plain sort (SIMD in NumPy 2) is twice as fast as an argsort
    followed by a gather, and ties keep their order. Otherwise an argsort (unstable
    unless ``stable``: callers that do not care about the order of ties save time).
    """
    n = len(values)
    if n > 1 and values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        shift = (n - 1).bit_length()
        if high < 1 << 63 and (high - low).bit_length() + shift <= 63:
            packed = values.astype(np.int64)
            if low:
                packed -= low
            packed <<= shift
            packed |= np.arange(n, dtype=np.int64)
            packed.sort()
            order = packed & ((1 << shift) - 1)
            packed >>= shift
            if low:
                packed += low
            return order, packed.astype(values.dtype, copy=False)
    order = np.argsort(values, kind="stable" if stable else None).astype(np.int64, copy=False)
    return order, values[order]


def is_sorted(values: npt.NDArray[Any]) -> bool:
    """Whether 1-d ``values`` never decrease (one pass: cheaper than sorting them again)."""
    return len(values) < 2 or bool(np.all(values[1:] >= values[:-1]))


def merged_unique(parts: list[npt.NDArray[Int]]) -> npt.NDArray[Int]:
    """The sorted distinct values of arrays that are each sorted already: a stable sort
    (timsort) merges the sorted runs in about linear time, twice as fast as a plain sort."""
    return _distinct_sorted(np.sort(np.concatenate(parts), kind="stable"))


def _distinct_sorted(ordered: npt.NDArray[Int]) -> npt.NDArray[Int]:
    """Each value of a sorted array once."""
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def isin(values: Ints, table: Ints) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` occurs in ``table`` (``np.isin(values, table)``)."""
    if not len(table) or not len(values):
        return np.zeros(np.shape(values), np.bool_)
    # Tables are often sorted already (pair codes, candidates): a check costs far less.
    ordered = table if np.ndim(table) == 1 and is_sorted(table) else np.sort(table, axis=None)
    at = np.searchsorted(ordered, values)
    at[at == len(ordered)] = 0
    found: npt.NDArray[np.bool_] = ordered[at] == values
    return found


def component_labels(n: int, first: Ints, second: Ints) -> npt.NDArray[np.int64]:
    """The connected component of each of ``n`` nodes joined by edges ``first[i]-second[i]``.

    Components are numbered by their smallest node, in increasing order (as SciPy's
    ``connected_components`` numbers them). NumPy alone, by hooking and pointer jumping:
    each round points the larger root of every edge at the smallest root it touches, then
    flattens the trees, so the root of a component ends as its smallest node. The graphs
    here are many tiny components, done in a few rounds; SciPy's sparse graphs cost about
    25 MB and 65 ms of imports (scipy.sparse.linalg, scipy.linalg) that a small district
    would otherwise pay for.
    """
    parent = np.arange(n, dtype=np.int64)
    u = np.asarray(first, np.int64)
    v = np.asarray(second, np.int64)
    while len(u):
        ru, rv = parent[u], parent[v]
        low, high = np.minimum(ru, rv), np.maximum(ru, rv)
        apart = low != high
        if not apart.any():
            break
        u, v, low, high = u[apart], v[apart], low[apart], high[apart]
        np.minimum.at(parent, high, low)
        _flatten(parent)
    is_root = parent == np.arange(n, dtype=np.int64)
    rank = np.cumsum(is_root) - 1
    labels: npt.NDArray[np.int64] = rank[parent]
    return labels


def _flatten(parent: npt.NDArray[np.int64]) -> None:
    """Point every node straight at its root (pointer jumping), in place."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return
        parent[:] = grand
