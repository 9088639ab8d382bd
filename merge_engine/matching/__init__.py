"""Student matching: from two rosters to scored, assigned pairs (no I/O, no storage).

``normalize`` and ``_names`` clean values; ``features`` encodes records as
arrays; ``blocking`` picks candidate pairs; ``comparisons`` grades each field
into levels; ``fellegi_sunter`` is the model (EM on the levels) and ``scoring``
turns levels into match weights; ``duplicates`` finds archived duplicates,
``households`` families seen on both sides, and ``assignment`` pairs records
one to one. :mod:`merge_engine.planning` puts them together into a plan.
"""
