"""For your own tests: a synthetic district with known truth, and the adapter contract suite.

``synthetic.generate_district`` builds archived and synced rosters whose true
pairs are known (benchmarks/quality.py measures against it).
"""

from __future__ import annotations

from .synthetic import SyntheticDistrict, generate_district

__all__ = ["SyntheticDistrict", "generate_district"]
