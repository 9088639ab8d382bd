"""A plan written as it is produced (``stream_plan``, what ``merge-engine plan`` does) is
byte for byte the plan ``build_plan(...).write`` writes, and a failure leaves no file."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
import structlog
from conftest import FAST
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import merge_engine.planning._planner as planner
from merge_engine import Settings, build_plan, write_roster
from merge_engine._plan_codec import PlanStream
from merge_engine.cli import main
from merge_engine.cli._common import plan_counts, print_summary
from merge_engine.planning._planner import stream_plan
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district


def _streamed(district: SyntheticDistrict, chosen: Settings) -> str:
    stream = PlanStream(None)
    stream_plan(stream, district.archived, district.synced, chosen)
    assert stream.result is not None
    return stream.result


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=160),
    seed=st.integers(min_value=0, max_value=10_000),
    synced_dob=st.booleans(),
    same_year=st.booleans(),
    household_rules=st.booleans(),
    guardian_policy=st.sampled_from(["keep_old", "remove_old"]),
    unmatched=st.sampled_from(["keep", "remove", "review"]),
    roles=st.sampled_from(["separate", "link", "merge"]),
)
def test_streamed_plan_is_the_built_plan_written(
    n: int,
    seed: int,
    synced_dob: bool,
    same_year: bool,
    household_rules: bool,
    guardian_policy: str,
    unmatched: str,
    roles: str,
) -> None:
    """Whatever the district and the account policies, the streamed text is the written one."""
    district = generate_district(n, seed=seed, synced_dob=synced_dob, same_year=same_year)
    chosen = attrs.evolve(
        FAST,
        household_rules=household_rules,
        guardian_policy=guardian_policy,
        unmatched_old_guardians=unmatched,
        multiple_role_policy=roles,
    )
    plan = build_plan(district.archived, district.synced, chosen)

    assert plan._write(None) == _streamed(district, chosen)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("district")
    district = generate_district(400, seed=12, synced_dob=False)  # a warning in the plan
    write_roster(district.archived, root / "archived")
    write_roster(district.synced, root / "synced")
    fast = root / "fast.toml"
    fast.write_text("random_pairs = 30000\n", encoding="utf-8")
    return root / "archived", root / "synced", fast


def _plan(folders: tuple[Path, Path, Path], out: Path, *extra: str) -> int:
    archived, synced, fast = folders
    code = main(
        ["plan", "--archived", str(archived), "--synced", str(synced), "--out", str(out),
         "--settings", str(fast), "--no-progress", *extra]
    )  # fmt: skip
    structlog.reset_defaults()
    return code


@pytest.mark.parametrize("name", ["plan.json", "plan.json.gz"])
def test_cli_plan_writes_and_prints_what_the_built_plan_would(
    folders: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    """`plan` streams the file; its bytes, its summary and its --json are the built plan's."""
    from merge_engine import read_roster  # noqa: PLC0415

    out = tmp_path / name
    assert _plan(folders, out) == 0
    text = capsys.readouterr().out
    assert _plan(folders, tmp_path / f"j-{name}", "--json") == 0
    counts = json.loads(capsys.readouterr().out)
    archived, synced, _ = folders
    plan = build_plan(read_roster(archived), read_roster(synced), FAST)
    expected = tmp_path / f"built-{name}"
    plan.write(expected)
    print_summary(plan, out)

    assert expected.read_bytes() == out.read_bytes()
    assert capsys.readouterr().out == text
    assert plan_counts(plan, tmp_path / f"j-{name}") == counts
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, f"j-{name}", f"built-{name}"]
    )


def test_a_failure_while_planning_leaves_no_plan(
    folders: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error after the merges were written (planning the accounts) leaves nothing at --out,
    no temporary file, and an existing file untouched."""

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(planner, "_plan_guardians", fail)
    out = tmp_path / "plan.json"
    assert _plan(folders, out) != 0
    assert list(tmp_path.iterdir()) == []
    out.write_text("an earlier plan", encoding="utf-8")
    assert _plan(folders, out, "--overwrite") != 0
    assert [out] == list(tmp_path.iterdir())
    assert out.read_text(encoding="utf-8") == "an earlier plan"


def test_stream_parts_out_of_order_are_refused() -> None:
    """A stream written out of order would not be a plan: the merges come after the head."""
    stream = PlanStream(None)
    with pytest.raises(RuntimeError, match="written after 0 parts"):
        stream.merges([])
