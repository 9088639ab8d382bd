"""Student matching: from two rosters to scored, assigned pairs (no I/O, no storage).

``_normalize`` and ``_names`` clean values; ``_features`` encodes records as
arrays; ``_blocking`` picks candidate pairs; ``_comparisons`` grades each field
into levels; ``_fellegi_sunter`` is the model (EM on the levels) and ``_scoring``
turns levels into match weights; ``_duplicates`` finds archived duplicates,
``_households`` families seen on both sides, and ``_assignment`` pairs records
one to one. :mod:`merge_engine.planning` puts them together into a plan.
"""
