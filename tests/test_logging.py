"""The library prints nothing unless the application asks for logs (see docs/logging.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import structlog
from conftest import FAST
from structlog.testing import capture_logs

from merge_engine import build_plan
from merge_engine.testing.synthetic import generate_district

_SCRIPT = """
import logging, sys
from merge_engine import build_plan, Settings
from merge_engine.testing.synthetic import generate_district
d = generate_district(120, seed=3)
{setup}
plan = build_plan(d.archived, d.synced, Settings(random_pairs=20_000))
assert plan.merges
"""


def _run(setup: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(_SCRIPT).format(setup=setup)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )


def test_a_script_that_configures_nothing_prints_nothing() -> None:
    """A fresh interpreter with default structlog and logging: no output on stdout or stderr."""
    done = _run("")
    assert done.stdout == ""
    assert done.stderr == ""


def test_a_script_that_configures_logging_sees_the_events() -> None:
    done = _run("logging.basicConfig(level=logging.INFO, stream=sys.stderr)")
    assert done.stdout == ""
    assert "INFO:merge_engine.planning._planner:plan_built " in done.stderr


def test_in_process_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    d = generate_district(120, seed=3)
    assert not structlog.is_configured()
    build_plan(d.archived, d.synced, FAST)
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")


def test_an_application_that_configures_structlog_gets_the_events() -> None:
    """structlog's own configuration (here: capture_logs) still receives every event."""
    d = generate_district(120, seed=3)
    with capture_logs() as logs:
        build_plan(d.archived, d.synced, FAST)
    assert any(e["event"] == "plan_built" and e["log_level"] == "info" for e in logs)
