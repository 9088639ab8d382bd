"""`merge-engine audit`: the contact audit from folders or a database, as text, JSON and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from merge_engine.cli import main


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    assert 0 == main(["sample", "--out", str(tmp_path / "sample")])
    return tmp_path / "sample"


def test_audit_from_folders_writes_json_and_csv(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary lists every kind; JSON counts match the CSV rows."""
    code = main(
        [
            "audit",
            "--synced", str(sample / "synced"),
            "--archived", str(sample / "archived"),
            "--json", str(tmp_path / "a.json"),
            "--csv", str(tmp_path / "a.csv"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out

    assert 0 == code
    assert "guardian without a SIS id" in out
    data = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8", newline="")))
    assert sum(data["counts"].values()) == len(rows) == len(data["findings"])
    assert data["counts"]["archived_without_counterpart"] > 0


def test_audit_from_a_database_matches_the_folders(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Loading the sample into SQLite and auditing it gives the same counts (and, from a
    database, the count of merged records holding stranded history: none here)."""
    db = str(tmp_path / "d.db")
    folders = ["--synced", str(sample / "synced"), "--archived", str(sample / "archived")]
    assert 0 == main(["load", "--db", db, *folders])
    assert 0 == main(["audit", *folders, "--json", str(tmp_path / "f.json")])
    assert 0 == main(["audit", "--db", db, "--json", str(tmp_path / "d.json")])
    capsys.readouterr()

    from_folders = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))["counts"]
    from_db = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["counts"]
    assert 0 == from_db.pop("stranded_history")
    assert from_folders == from_db


def test_audit_without_a_roster_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """No --synced and no --db: exit 2 with a one-line message."""
    assert 2 == main(["audit"])
    assert capsys.readouterr().err.startswith("error: give --synced DIR")
