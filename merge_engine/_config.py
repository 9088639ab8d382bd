"""Reading TOML or JSON configuration files (settings, storage mappings)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from .exceptions import MergeEngineError

__all__ = ["read_config"]


def read_config(path: str | Path, error: type[MergeEngineError], what: str) -> dict[str, Any]:
    """The top-level table of a ``.json`` file, or else a TOML file.

    Errors are raised as ``error`` naming the file and ``what`` it should hold.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{file}: cannot read {what} file ({exc.strerror})") from exc
    is_json = file.suffix.casefold() == ".json"
    try:
        data: Any = json.loads(text) if is_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{file}: not valid {'JSON' if is_json else 'TOML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{file}: expected a table of {what} at the top level")
    return data
