"""The library's loggers: silent unless the application asks for logs.

structlog's default configuration prints every event to stdout (with
colour codes in a notebook cell), and a library must not configure
structlog for its host. So each logger here is a proxy that decides per
event: when the application configured structlog, the event goes through
that configuration (``structlog.get_logger``); otherwise it goes to the
standard library's ``logging`` under the module's name, where the
``merge_engine`` logger has only a ``NullHandler``, so nothing is printed
until the application configures logging (``logging.basicConfig(level=
logging.INFO)``). Events carry ids and counts only, never names.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["get_logger"]

logging.getLogger("merge_engine").addHandler(logging.NullHandler())

_logfmt = structlog.processors.LogfmtRenderer(sort_keys=True)


def _as_message(_: Any, __: str, event_dict: structlog.typing.EventDict) -> str:
    """``plan_built auto=8 merges=10``: the event name, then its values as logfmt."""
    event = str(event_dict.pop("event", ""))
    rest = _logfmt(_, __, event_dict)
    return f"{event} {rest}" if rest else event


class LibraryLogger:
    """The subset of structlog's logger API the library uses (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._stdlib = structlog.wrap_logger(
            logging.getLogger(name),
            processors=[structlog.stdlib.filter_by_level, _as_message],
            wrapper_class=structlog.stdlib.BoundLogger,
        )

    def _target(self) -> Any:
        if structlog.is_configured():
            return structlog.get_logger(self._name)
        return self._stdlib

    def debug(self, event: str, **values: Any) -> None:
        self._target().debug(event, **values)

    def info(self, event: str, **values: Any) -> None:
        self._target().info(event, **values)

    def warning(self, event: str, **values: Any) -> None:
        self._target().warning(event, **values)

    def error(self, event: str, **values: Any) -> None:
        self._target().error(event, **values)


def get_logger(name: str) -> LibraryLogger:
    """A logger for module ``name`` that prints nothing unless the application asks."""
    return LibraryLogger(name)
