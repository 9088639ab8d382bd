"""Writing, reading and showing merge plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST
from plan_support import col

from merge_engine import MergePlan, PlanError, build_plan
from merge_engine._plan_codec import LAYOUT
from merge_engine.matching._comparisons import COMPARISONS
from merge_engine.plan import SCHEMA_VERSION, FieldEvidence, Merge
from merge_engine.testing.synthetic import generate_district


@pytest.fixture(scope="module")
def plan() -> MergePlan:
    district = generate_district(150, seed=4)
    return build_plan(district.archived, district.synced, FAST)


def _merge(**kw: Any) -> Merge:
    fields: dict[str, Any] = {
        "archived_id": "a1",
        "synced_id": "s1",
        "confidence": 0.5,
        "decision": "review",
        "match_weight": 0.0,
        "margin_bits": None,
        "evidence": [FieldEvidence("dob", "exact", 9.5)],
        "reasons": ["confidence below the auto-merge threshold"],
    }
    fields.update(kw)
    return Merge(**fields)


def test_write_read_round_trip(plan: MergePlan, tmp_path: Path) -> None:
    """A written plan reads back to the same document, and a second trip changes nothing."""
    path = tmp_path / "plan.json"
    plan.write(path)
    read = MergePlan.read(path)
    assert plan.to_json() == read.to_json()
    assert plan.to_json() == path.read_text(encoding="utf-8")
    read.write(path)
    assert read == MergePlan.read(path)
    # ids, decisions and levels survive exactly; numbers to their rounding
    assert [(m.archived_id, m.synced_id, m.decision) for m in plan.merges] == [
        (m.archived_id, m.synced_id, m.decision) for m in read.merges
    ]
    assert [[(e.comparison, e.level) for e in m.evidence] for m in plan.merges] == [
        [(e.comparison, e.level) for e in m.evidence] for m in read.merges
    ]
    for before, after in zip(plan.merges, read.merges, strict=True):
        assert before.confidence == pytest.approx(after.confidence, abs=1e-6)
    assert (plan.settings, plan.model, plan.stats, plan.fingerprint) == (
        read.settings,
        read.model,
        read.stats,
        read.fingerprint,
    )
    assert (plan.unmatched_archived, plan.unmatched_synced) == (
        read.unmatched_archived,
        read.unmatched_synced,
    )


def test_write_replaces_atomically(plan: MergePlan, tmp_path: Path) -> None:
    """Writing over an old plan replaces it and leaves no temporary file behind."""
    path = tmp_path / "plan.json"
    path.write_text("old", encoding="utf-8")
    plan.write(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]
    assert plan.to_json() == path.read_text(encoding="utf-8")


def test_json_document_shape(plan: MergePlan) -> None:
    """The JSON has the schema version first, a summary with counts, the digest last, and one
    member or one row per line."""
    text = plan.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert {
        "merges": len(plan.merges),
        "auto": len(plan.auto),
        "review": len(plan.review),
        "unmatched_archived": len(plan.unmatched_archived),
        "unmatched_synced": len(plan.unmatched_synced),
        "guardian_merges": len(plan.guardian_merges),
        "guardian_merges_auto": sum(g.decision == "auto" for g in plan.guardian_merges),
        "guardian_actions": len(plan.guardian_actions),
        "multiple_role_users": len(plan.role_links),
        "guardian_folds": len(plan.guardian_folds),
    } == data["summary"]
    assert ["schema_version", *(k for k, _ in LAYOUT), "digest"] == list(data)
    lines = text.splitlines()
    assert len(lines) == 2 + len(LAYOUT) + sum(len(data[k]) + 1 for k, s in LAYOUT if s)
    assert text.endswith("\n")
    rows = iter(lines)
    for line in rows:  # every line is a member, or a section's rows up to its "],"
        if line.endswith(":["):
            section = json.loads(line[:-2])
            got = [json.loads(r.removesuffix(",")) for r in iter(rows.__next__, "],")]
            assert data[section] == got


def test_evidence_is_written_once_and_referred_to_by_index(plan: MergePlan) -> None:
    """The (comparison, level, bits) that many merges share is one row of the evidence table;
    a merge's evidence is a list of row numbers."""
    data = json.loads(plan.to_json())
    table = [tuple(row) for row in data["evidence"]]
    used = col("evidence")

    assert len(table) == len(set(table))
    assert len(table) < len(plan.merges) * len(COMPARISONS) / 4
    for merge, row in zip(plan.merges, data["merges"], strict=True):
        assert [(e.comparison, e.level, e.bits) for e in merge.evidence] == [
            table[i] for i in row[used]
        ]


def test_unknown_schema_version(plan: MergePlan, tmp_path: Path) -> None:
    """A plan of another schema version is refused with a message saying what to do."""
    data = json.loads(plan.to_json())
    data["schema_version"] = 99
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        MergePlan.read(path)
    message = str(info.value)
    assert "99" in message
    assert str(SCHEMA_VERSION) in message
    assert "re-create" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not a JSON plan"),
        ("[1, 2]", "not a JSON plan object"),
        (b"\xff\xfe\x00garbage", "not a JSON plan"),
        (json.dumps({"schema_version": SCHEMA_VERSION}), "malformed plan"),
        (json.dumps({"schema_version": 2}), "malformed plan"),
        (json.dumps({"schema_version": 2, "merges": [{"archived_id": "a"}]}), "malformed"),
        (
            json.dumps(
                {
                    "schema_version": 2,
                    "merges": [
                        {
                            "archived_id": "a",
                            "synced_id": "s",
                            "confidence": "x",
                            "decision": "auto",
                        }
                    ],
                }
            ),
            "malformed",
        ),
        (
            json.dumps(
                {
                    "schema_version": 2,
                    "merges": [
                        {"archived_id": "a", "synced_id": "s", "confidence": 1, "decision": "yes"}
                    ],
                }
            ),
            "unknown decision",
        ),
    ],
)
def test_malformed_plans(tmp_path: Path, content: str | bytes, expected: str) -> None:
    """Broken plan files raise PlanError naming the problem, never a raw exception."""
    path = tmp_path / "plan.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PlanError, match=expected):
        MergePlan.read(path)


def test_missing_plan_file(tmp_path: Path) -> None:
    """A plan path that does not exist is a PlanError naming the path."""
    path = tmp_path / "nope.json"
    with pytest.raises(PlanError, match="cannot read plan") as info:
        MergePlan.read(path)
    assert str(path) in str(info.value)


def test_repr_is_short_with_counts(plan: MergePlan) -> None:
    """repr(plan) is one short line with the counts, not the merges."""
    text = repr(plan)
    assert "\n" not in text
    assert len(text) < 200
    assert f"{len(plan.merges)} merges" in text
    assert f"{len(plan.auto)} auto" in text
    assert f"{len(plan.review)} for review" in text
    assert f"{len(plan.unmatched_archived)} archived" in text
    assert f"{len(plan.unmatched_synced)} synced unmatched" in text


def test_to_records(plan: MergePlan) -> None:
    """to_records gives one flat row per merge with each comparison's level."""
    rows = plan.to_records()
    assert len(plan.merges) == len(rows)
    for row, merge in zip(rows, plan.merges, strict=True):
        assert (merge.archived_id, merge.synced_id, merge.decision) == (
            row["archived_id"],
            row["synced_id"],
            row["decision"],
        )
        assert "; ".join(merge.reasons) == row["reasons"]
        for comp in COMPARISONS:
            assert row[comp.name] in comp.levels
        assert all(not isinstance(v, (list, dict, tuple)) for v in row.values())


def test_to_records_joins_reasons() -> None:
    """Several review reasons become one cell."""
    plan = MergePlan(
        merges=[_merge(reasons=["birth dates differ", "surnames differ"])],
        unmatched_archived=[],
        unmatched_synced=[],
        warnings=[],
        settings={},
        model={},
        stats={},
        fingerprint={},
    )
    [row] = plan.to_records()
    assert row["reasons"] == "birth dates differ; surnames differ"
    assert row["dob"] == "exact"
    assert (len(plan.review), len(plan.auto), len(plan.merges)) == (1, 0, 1)


def test_merge_dict_round_trip() -> None:
    """A merge with values that are already rounded survives to_dict/from_dict exactly."""
    merge = _merge(margin_bits=1.5, duplicates=["a2"], archived_hash="ab", synced_hash="cd")
    assert merge == Merge.from_dict(merge.to_dict())


def test_explain_lists_evidence_and_reasons() -> None:
    """explain() shows the decision, each field and each review reason."""
    text = _merge().explain()
    lines = text.splitlines()
    assert lines[0].startswith("a1 -> s1: review")
    assert any("dob" in line and "exact" in line and "+9.50" in line for line in lines)
    assert lines[-1] == "  review: confidence below the auto-merge threshold"
