"""The package stays ruff-clean and passes mypy --strict (part of the test suite, so CI runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_reports_nothing() -> None:
    """Lint rules from pyproject.toml hold for the package, tests and benchmarks."""
    result = _run("ruff", "check", "merge_engine", "tests", "benchmarks")

    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    """The package type-checks under mypy --strict (configured in pyproject.toml)."""
    result = _run("mypy")

    assert result.returncode == 0, result.stdout + result.stderr


def test_codespell_finds_no_typo() -> None:
    """Prose and code of the package and the docs spell correctly (settings in pyproject.toml)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codespell_lib",
            "merge_engine",
            "docs",
            "README.md",
            "CHANGELOG.md",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
