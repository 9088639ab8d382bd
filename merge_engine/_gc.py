"""Pausing the cyclic garbage collector around bulk object building."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building hundreds of thousands of acyclic objects.

    Every allocation burst otherwise triggers full-heap scans that more than
    double the time of reading a roster or a plan; nothing built under it
    forms reference cycles that must be collected at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # What was built is still counted as young: the first collection after the
            # pause would traverse all of it (about a second for a 150k plan). Moved to the
            # oldest generation instead, it waits for the next full collection.
            gc.freeze()
            gc.enable()
            gc.unfreeze()
