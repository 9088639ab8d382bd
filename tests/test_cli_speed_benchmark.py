"""benchmarks/cli_speed.py: each run plans into a folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from merge_engine import write_roster
from merge_engine.testing.synthetic import generate_district

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cli_speed.py"


@pytest.mark.skipif(
    not Path("/usr/bin/time").exists(), reason="the script times with /usr/bin/time"
)
def test_a_run_leaves_another_runs_plan_alone(tmp_path: Path) -> None:
    # Two runs at once used to share one plan file in the temporary folder: each replaced
    # and then deleted the other's.
    district = generate_district(30, seed=1)
    write_roster(district.archived, tmp_path / "d" / "archived")
    write_roster(district.synced, tmp_path / "d" / "synced")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    others = scratch / "cli_speed_plan.json"
    others.write_text("another run's plan", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--district", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("d: 29 x 33 ")  # the district was planned and measured
    assert others.read_text(encoding="utf-8") == "another run's plan"
    assert [p.name for p in scratch.iterdir()] == ["cli_speed_plan.json"]  # nothing left
