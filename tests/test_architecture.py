"""The layers hold: import-linter's contracts (pyproject.toml) and what a light import loads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_import_contracts_hold() -> None:
    """No import runs back up the layers, matching never touches storage, no package cycle."""
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command.main(args=[])"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_reading_a_plan_loads_no_matcher() -> None:
    """``merge-engine show`` and plan readers pay for neither numpy nor scipy."""
    result = _python(
        "import sys, merge_engine, merge_engine.plan, merge_engine.settings\n"
        "heavy = ('numpy', 'scipy', 'rapidfuzz', 'merge_engine.matching', "
        "'merge_engine.accounts', 'merge_engine.planning')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_public_api_loads_on_first_use() -> None:
    """Every name in ``merge_engine.__all__`` resolves, lazily loaded or not."""
    result = _python(
        "import merge_engine as me\n"
        "missing = [n for n in me.__all__ if getattr(me, n, None) is None]\n"
        "print(missing, 'numpy' in __import__('sys').modules)"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] True"


def test_test_modules_do_not_import_each_other() -> None:
    """Shared helpers live in conftest.py or a *_support module, never in a test module."""
    tests = Path(__file__).resolve().parent
    offenders = [
        f"{path.relative_to(tests)}:{n}"
        for path in sorted(tests.rglob("test_*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*(from\s+(\.|tests\.)?test_\w+\s+import|import\s+(tests\.)?test_\w+)", line)
    ]

    assert offenders == []
