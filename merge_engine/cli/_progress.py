"""Progress bars on stderr, only on a terminal, so that a long step shows where it is.

A bar is drawn when stderr is a terminal and neither ``--no-progress`` nor
``--quiet`` was given; otherwise every call here does nothing, so pipes,
logs and scripts see no bar codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

__all__ = ["PLAN_STAGES", "Counter", "Steps", "enabled", "steps"]

#: The stages :func:`merge_engine.planning._planner.build_plan` reports, in order (its ``progress``
#: callback is called with each name as the stage ends; tests keep this list in step).
PLAN_STAGES = (
    "encode",
    "blocking",
    "compare",
    "model",
    "score",
    "fallback",
    "households",
    "duplicates",
    "assignment",
    "decisions",
    "fingerprint",
    "guardians",
)


def enabled(args: argparse.Namespace) -> bool:
    if getattr(args, "no_progress", False) or getattr(args, "quiet", False):
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _bar(args: argparse.Namespace, label: str, total: int, unit: str) -> Any:
    return tqdm(
        total=total,
        desc=label,
        unit=unit,
        file=sys.stderr,
        disable=not enabled(args),
        leave=False,
        dynamic_ncols=True,
    )


class Steps:
    """A bar over named steps: ``start(name)`` shows the step now running."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def start(self, name: str) -> None:
        self.bar.set_postfix_str(name, refresh=True)

    def done(self, name: str = "") -> None:
        """One step finished (``name``, when given, is shown until the next one starts)."""
        if name:
            self.bar.set_postfix_str(name, refresh=False)
        if self.bar.n < self.bar.total:
            self.bar.update(1)

    def stage(self, name: str) -> None:
        """A planner stage ended (the planner's ``progress`` callback): show the next one."""
        i = PLAN_STAGES.index(name) + 1 if name in PLAN_STAGES else len(PLAN_STAGES)
        self.done(f"planning: {PLAN_STAGES[i]}" if i < len(PLAN_STAGES) else "writing")


@contextmanager
def steps(args: argparse.Namespace, label: str, names: Sequence[str]) -> Iterator[Steps]:
    """A bar of ``len(names)`` steps, closed (and wiped) at the end."""
    bar = _bar(args, label, len(names), "step")
    try:
        yield Steps(bar)
    finally:
        bar.close()


class Counter:
    """The ``progress(done, total)`` callback of apply and undo, drawn as a bar."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.args = args
        self.label = label
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _bar(self.args, self.label, total, "merge")
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
