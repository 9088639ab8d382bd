"""A plan whose every value is markup, for the HTML report and notebook escaping tests."""

from __future__ import annotations

from conftest import contact, make_student

from merge_engine import FieldEvidence, Merge, MergePlan, Roster

HOSTILE = "<img src=x onerror=window.pwned=1>"
QUOTED = 'O\'Neil "Zoë" & <b>Co</b>'


def hostile_case() -> tuple[MergePlan, Roster, Roster]:
    """One review pair whose names, ids, reasons and guardians are markup."""
    guardian = contact(
        "g<1>", "555-0100", "x@example.org", first_name=QUOTED, last_name="</td><i>Q9</i>"
    )
    archived = Roster([make_student('a"1', HOSTILE, QUOTED, contacts=[guardian])])
    synced = Roster([make_student("s'1", QUOTED, HOSTILE)])
    merge = Merge(
        archived_id='a"1',
        synced_id="s'1",
        confidence=0.5,
        decision="review",
        match_weight=0.0,
        margin_bits=None,
        evidence=[FieldEvidence("first_name", "<exact>", 3.0)],
        reasons=["<script>alert(1)</script> is close"],
    )
    plan = MergePlan(
        merges=[merge],
        unmatched_archived=[],
        unmatched_synced=[],
        warnings=[{"path": "<p>W9", "line": 1, "column": "x", "message": "&amp;"}],
        settings={"auto_threshold": 0.99, "review_threshold": 0.3},
        model={"prior": 0.4},
        stats={},
        fingerprint={"archived": "a", "synced": "b"},
    )
    return plan, archived, synced
