"""``apply --json`` and ``undo --json`` of a million merges: every outcome, none in memory.

The report keeps only the notable outcomes (see :func:`~merge_engine.apply_plan`);
each outcome is written to a temporary file as it comes, and the JSON report
is printed with the whole list read back from it, in the text ``json.dumps``
would give for the report holding them all.
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from ..applying._report import ApplyReport, MergeOutcome

__all__ = ["OutcomeSpool"]

_HOLE = "\x00outcomes\x00"


class OutcomeSpool:
    """Student outcomes written to a temporary file, one JSON line each, in order."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file

    @classmethod
    @contextmanager
    def when(cls, wanted: bool) -> Iterator[OutcomeSpool | None]:
        """A spool when ``wanted`` (``--json``), else None; the file goes away afterwards."""
        if not wanted:
            yield None
            return
        with tempfile.TemporaryFile("w+", encoding="utf-8") as file:
            yield cls(file)

    def add(self, outcome: MergeOutcome) -> None:
        self.file.write(json.dumps(outcome.to_dict(), sort_keys=True) + "\n")

    def print_report(self, report: ApplyReport) -> None:
        """Print ``report`` as ``json.dumps(..., indent=1, sort_keys=True)`` would with every
        spooled outcome in its ``outcomes``."""
        data = report.to_dict()
        data.pop("outcomes_omitted", None)
        data["outcomes"] = _HOLE
        head, tail = json.dumps(data, indent=1, sort_keys=True).split(json.dumps(_HOLE))
        out = sys.stdout
        out.write(head)
        self.file.seek(0)
        first = True
        for line in self.file:
            item = json.dumps(json.loads(line), indent=1, sort_keys=True)
            out.write(("[\n" if first else ",\n") + textwrap.indent(item, "  "))
            first = False
        out.write("[]" if first else "\n ]")
        out.write(tail + "\n")
