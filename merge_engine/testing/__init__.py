"""For your own tests: a synthetic district with known truth, and the adapter contract suite.

``synthetic.generate_district`` builds archived and synced rosters whose true
pairs are known (benchmarks/quality.py measures against it).
:mod:`merge_engine.testing.contract` is the storage adapter contract suite: a
platform runs it on its own adapter with one pytest class. It needs pytest
(the ``test`` extra), so it is imported on its own, never from here.
"""

from __future__ import annotations

from .synthetic import SyntheticDistrict, generate_district

__all__ = ["SyntheticDistrict", "generate_district"]
