"""The core imports and plans with the core dependencies alone (optional extras absent)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from merge_engine.testing.synthetic import generate_district

BLOCK_EXTRAS = textwrap.dedent(
    """
    import sys
    for name in ("sqlalchemy", "psycopg", "recordlinkage", "pandas", "hypothesis", "pytest"):
        sys.modules[name] = None  # any import of it now raises ImportError
    import merge_engine as me
    import merge_engine.storage, merge_engine.testing  # the contract suite is imported apart
    plan = me.build_plan(
        me.Roster([me.Student("a1", "Ana", "Diaz")]),
        me.Roster([me.Student("s1", "Ana", "Diaz")]),
    )
    loaded = [m for m, mod in sys.modules.items() if mod is not None and 'sqlalchemy' in m]
    print(type(plan).__name__, sorted(loaded))
    """
)


def test_core_imports_without_optional_extras() -> None:
    """Importing merge_engine (its storage and testing packages too) and planning never touches
    SQLAlchemy, psycopg or test tools: only merge_engine.testing.contract needs pytest."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_EXTRAS], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "MergePlan []" == result.stdout.strip().splitlines()[-1]


def test_commands_that_read_a_plan_do_not_load_scipy() -> None:
    """SciPy (the assignment's solvers for contested components) is loaded when a plan needs
    it, not by importing the package or the command line: show, apply and the review
    export start without it."""
    code = (
        "import sys, merge_engine, merge_engine.cli._main, merge_engine.plan_file\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_planning_a_small_district_loads_neither_scipy_nor_structlog() -> None:
    """A small district has no contested component for SciPy's solvers (its connected
    components are NumPy's), and a host that configured no logging gets no event, so
    neither SciPy nor structlog (with rich, which structlog loads) is imported."""
    code = textwrap.dedent(
        """
        import sys
        from merge_engine import Settings, build_plan
        from merge_engine.testing.synthetic import generate_district
        d = generate_district(300, seed=3)
        build_plan(d.archived, d.synced, Settings(random_pairs=20_000))
        print(sorted({m.split(".")[0] for m in sys.modules} & {"scipy", "structlog", "rich"}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "[]" == result.stdout.strip()


def test_planning_a_small_district_loads_only_what_it_needs(tmp_path: Path) -> None:
    """A 300-student plan loads neither numpy.random (its pairs are our own counter-based
    sample), OpenSSL (its few hashes are the interpreter's SHA-256), numpy.ma,
    importlib.metadata (the version is read on first use) nor the nicknames package (its
    data file is read directly): megabytes that are a small district's whole margin."""
    district = generate_district(300, seed=3)
    rosters = tmp_path / "rosters.pkl"
    rosters.write_bytes(pickle.dumps((district.archived, district.synced)))
    code = textwrap.dedent(
        f"""
        import pickle, sys
        from merge_engine import build_plan
        archived, synced = pickle.loads(open({str(rosters)!r}, "rb").read())
        plan = build_plan(archived, synced)
        assert plan.auto
        unwanted = ("numpy.random", "_hashlib", "numpy.ma", "importlib.metadata", "nicknames",
                    "phonenumbers")
        print(sorted(m for m in unwanted if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "[]" == result.stdout.strip()
