"""Pausing the cyclic garbage collector around bulk building."""

from __future__ import annotations

import gc

from merge_engine._gc import gc_paused


def test_a_pause_restores_the_collector_and_leaves_nothing_young() -> None:
    """After the outermost pause the collector runs again, and what was built under it is
    no longer young: the next collection does not traverse it (only a full one does)."""
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            built = [[i] for i in range(50_000)]
        assert not gc.isenabled()  # an inner pause leaves the outer one paused

    assert gc.isenabled()
    assert gc.get_count()[0] < gc.get_threshold()[0]
    assert any(built is obj for obj in gc.get_objects(generation=2))


def test_cycles_made_under_a_pause_are_still_collected() -> None:
    """A reference cycle built under the pause is freed by a full collection."""
    with gc_paused():
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle

    assert gc.collect() >= 1
