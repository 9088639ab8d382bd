"""Set operations on integer arrays, by sorting; connected components of an edge list.

NumPy 2.3+ finds the distinct values of a plain ``np.unique(x)`` (and of the
second argument of ``np.isin``) with a hash set, which is 10-40 times slower
than sorting on the arrays of pair and record codes matching builds (millions
of mostly distinct int64 values; numpy issue #31969). These give the same
results as ``np.unique`` and ``np.isin`` on 1-d integer arrays.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["component_labels", "isin", "merged_unique", "unique"]

Ints = npt.NDArray[np.integer]
Int = TypeVar("Int", bound=np.integer)


def unique(values: npt.NDArray[Int]) -> npt.NDArray[Int]:
    """The sorted distinct values of ``values`` (what ``np.unique(values)`` returns)."""
    return _distinct_sorted(np.sort(values, axis=None))


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
    ordered = np.sort(table, axis=None)
    at = np.searchsorted(ordered, values)
    at[at == len(ordered)] = 0
    found: npt.NDArray[np.bool_] = ordered[at] == values
    return found


def component_labels(n: int, first: Ints, second: Ints) -> npt.NDArray[np.int64]:
    """The connected component of each of ``n`` nodes joined by edges ``first[i]-second[i]``.

    SciPy is imported on first use: the commands that read a plan and never match
    (``show``, ``apply``, the review export) do not pay for loading it.
    """
    from scipy import sparse  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415

    graph = sparse.coo_matrix((np.ones(len(first)), (first, second)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, np.int64)
