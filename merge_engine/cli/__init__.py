"""The ``merge-engine`` command line: one module per group of commands.

``_main`` builds the parser and runs a command; ``_planning`` (plan, audit,
load, settings), ``_database`` (apply, undo, history), ``_show``,
``_review``, ``_report`` and ``_demo`` (sample, demo) each register their
commands; ``_common`` and ``_people`` hold what they share.
"""

from ._main import _parser as _parser
from ._main import main

__all__ = ["main"]
