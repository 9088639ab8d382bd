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

structlog is imported only when an event is really emitted: importing it loads
all of its modules, and its tracebacks module loads ``rich`` when installed (about
18 MB and 90 ms). An application that configured structlog has imported it, so
an event finds it in ``sys.modules``; otherwise an event below the level the
``logging`` logger lets through is dropped without it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from structlog.typing import EventDict

__all__ = ["get_logger"]

logging.getLogger("merge_engine").addHandler(logging.NullHandler())


def _as_message(_: Any, __: str, event_dict: EventDict) -> str:
    """``plan_built auto=8 merges=10``: the event name, then its values as logfmt."""
    import structlog  # noqa: PLC0415  (see the module docstring)

    event = str(event_dict.pop("event", ""))
    rest = structlog.processors.LogfmtRenderer(sort_keys=True)(_, __, event_dict)
    return f"{event} {rest}" if rest else event


class LibraryLogger:
    """The subset of structlog's logger API the library uses (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._logging = logging.getLogger(name)
        self._stdlib: Any = None

    def _emit(self, level: int, method: str, event: str, values: dict[str, Any]) -> None:
        loaded = sys.modules.get("structlog")
        if loaded is not None and loaded.is_configured():
            getattr(loaded.get_logger(self._name), method)(event, **values)
            return
        if not self._logging.isEnabledFor(level):
            return
        if self._stdlib is None:
            import structlog  # noqa: PLC0415  (see the module docstring)

            self._stdlib = structlog.wrap_logger(
                self._logging,
                processors=[structlog.stdlib.filter_by_level, _as_message],
                wrapper_class=structlog.stdlib.BoundLogger,
            )
        getattr(self._stdlib, method)(event, **values)

    def debug(self, event: str, **values: Any) -> None:
        self._emit(logging.DEBUG, "debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        self._emit(logging.INFO, "info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        self._emit(logging.WARNING, "warning", event, values)

    def error(self, event: str, **values: Any) -> None:
        self._emit(logging.ERROR, "error", event, values)


def get_logger(name: str) -> LibraryLogger:
    """A logger for module ``name`` that prints nothing unless the application asks."""
    return LibraryLogger(name)
