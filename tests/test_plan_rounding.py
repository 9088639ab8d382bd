"""The planner's bulk rounding and converted merges give what the Merge converters give."""

from __future__ import annotations

import math
import struct

import numpy as np

from merge_engine._evidence import FieldEvidence
from merge_engine._plan_merge import converted_competitor, converted_merge
from merge_engine.plan import Competitor, Merge
from merge_engine.planning._rules import _rounded


def _same_float(x: float, y: float) -> bool:
    return struct.pack("<d", x) == struct.pack("<d", y)  # -0.0 and nan too


def test_bulk_rounding_is_pythons_round_bit_for_bit() -> None:
    """Random values, halves (exact and one double off), signed zeros, huge and non-finite
    values round as ``round(float(v), digits)`` does."""
    rng = np.random.default_rng(7)
    halves = (np.arange(-2000, 2000) + 0.5) / 1000
    values = np.concatenate(
        [
            rng.random(20_000),
            rng.normal(0, 30, 20_000),
            rng.random(2_000).astype(np.float32),  # as evidence and scores come
            halves,
            np.nextafter(halves, np.inf),
            np.nextafter(halves, -np.inf),
            [0.0, -0.0, -1e-9, 1e-9, 0.0078125, 2.0**40 + 0.5, 1e300, -1e300],
            [math.inf, -math.inf, math.nan],
        ]
    )
    for digits in (3, 6):
        got = _rounded(values, digits)
        want = [round(float(v), digits) for v in values]
        assert all(_same_float(g, w) for g, w in zip(got, want, strict=True))


def test_a_converted_merge_equals_the_merge_its_converters_make() -> None:
    """Given values already converted, the planner's merge and competitor equal (and hash as)
    the ones ``Merge(...)`` and ``Competitor(...)`` make, and stay frozen."""
    evidence = (FieldEvidence("dob", "exact", 12.217),)
    made = converted_merge(
        "a1", "s1", 0.98125, "review", 7.125, None, evidence, ("a reason",),
        (converted_competitor("a2", "s1", 0.5),), ("a3",), "h1", "h2", ("g1",),
    )  # fmt: skip
    built = Merge(
        "a1", "s1", 0.98125, "review", 7.125, None, list(evidence), ["a reason"],
        [Competitor("a2", "s1", 0.5)], ["a3"], "h1", "h2", ["g1"],
    )  # fmt: skip
    assert made == built
    assert hash(made.competitors[0]) == hash(built.competitors[0])
    assert made.to_dict() == built.to_dict()
    try:
        made.decision = "auto"  # type: ignore[misc]
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("a converted merge is not frozen")


def test_equal_rounded_values_are_one_float() -> None:
    """A plan repeats its rounded values: equal ones share one object, -0.0 and 0.0 apart."""
    got = _rounded(np.array([0.1234561, 0.1234559, -1e-9, 1e-9, -2e-9]), 6)
    assert got[0] is got[1]
    assert got[2] is got[4]
    assert got[2] is not got[3]
    assert _same_float(got[2], -0.0)
    assert _same_float(got[3], 0.0)
