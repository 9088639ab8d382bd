"""benchmarks/peers.py starts without its optional peers installed (they load per child)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"


def test_help_runs_and_names_every_tool_and_the_large_flag() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for word in ("--large", "--tools", "merge-engine", "splink", "recordlinkage"):
        assert word in done.stdout
