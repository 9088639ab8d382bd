"""Settings: defaults, loading from TOML and JSON, validation, and their effect on plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAST

from merge_engine import MergePlan, Settings, SettingsError, build_plan
from merge_engine.matching._blocking import BLOCKING_RULES
from merge_engine.matching._comparisons import COMPARISONS
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district


def test_defaults_are_valid_and_round_trip() -> None:
    """The defaults build, serialise to JSON and load back unchanged."""
    default = Settings()
    data = default.to_dict()
    assert data == json.loads(json.dumps(data))
    assert default == Settings.from_mapping(data)
    assert [c.name for c in COMPARISONS] == data["comparisons"]
    assert list(BLOCKING_RULES) == data["blocking_rules"]
    assert default.review_threshold < default.auto_threshold


def test_from_toml(tmp_path: Path) -> None:
    """A TOML file sets the named fields and keeps the other defaults."""
    path = tmp_path / "district.toml"
    path.write_text(
        'auto_threshold = 0.995\nmargin_bits = 4\nphone_region = "CA"\n'
        'comparisons = ["first_name", "last_name", "dob"]\n',
        encoding="utf-8",
    )
    loaded = Settings.from_file(path)
    expected = Settings(
        auto_threshold=0.995,
        margin_bits=4,
        phone_region="CA",
        comparisons=("first_name", "last_name", "dob"),
    )
    assert expected == loaded


def test_from_json(tmp_path: Path) -> None:
    """A JSON object loads the same way."""
    path = tmp_path / "district.json"
    path.write_text(json.dumps({"review_threshold": 0.5, "grade_progression": 0}), encoding="utf-8")
    assert Settings(review_threshold=0.5, grade_progression=0) == Settings.from_file(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.toml", "[settings]\nauto_threshold = 0.995\n"),
        ("a.json", '{"settings": {"auto_threshold": 0.995}}'),
    ],
)
def test_settings_table(tmp_path: Path, name: str, text: str) -> None:
    """Settings may sit under a [settings] table (or a "settings" object)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert Settings(auto_threshold=0.995) == Settings.from_file(path)


def test_unknown_key_lists_known_keys() -> None:
    """A misspelt key is an error that names it and lists the known settings."""
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"auto_treshold": 0.9})
    message = str(info.value)
    assert "auto_treshold" in message
    for known in ("auto_threshold", "review_threshold", "margin_bits", "blocking_rules"):
        assert known in message


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, 0.0, 1.0, "high", None, True])
@pytest.mark.parametrize(
    "name",
    ["auto_threshold", "review_threshold", "close_threshold", "name_conflict_max_probability"],
)
def test_invalid_probability(name: str, value: object) -> None:
    """Probabilities must lie strictly between 0 and 1."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_mapping({name: value})


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), "6"])
def test_invalid_margin(value: object) -> None:
    """margin_bits must be a finite non-negative number."""
    with pytest.raises(SettingsError, match="margin_bits"):
        Settings(margin_bits=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("review", "auto"), [(0.9, 0.9), (0.95, 0.9)])
def test_review_threshold_must_be_below_auto(review: float, auto: float) -> None:
    """review_threshold at or above auto_threshold is refused."""
    with pytest.raises(SettingsError, match="review_threshold must be below auto_threshold"):
        Settings(review_threshold=review, auto_threshold=auto)


def test_first_name_cannot_be_left_out() -> None:
    """Leaving out first_name is refused: it is what tells siblings apart."""
    others = [c.name for c in COMPARISONS if c.name != "first_name"]
    with pytest.raises(SettingsError, match="first_name"):
        Settings(comparisons=others)


def test_unknown_comparison() -> None:
    """An unknown comparison name is refused with the valid names."""
    with pytest.raises(SettingsError, match="shoe_size") as info:
        Settings(comparisons=["first_name", "shoe_size"])
    assert "last_name" in str(info.value)


def test_unknown_blocking_rule() -> None:
    """An unknown blocking rule is refused, listing the rules that exist."""
    with pytest.raises(SettingsError, match="soundex") as info:
        Settings.from_mapping({"blocking_rules": ["soundex"]})
    assert "guardian phone" in str(info.value)


def test_no_blocking_rules() -> None:
    """At least one blocking rule is needed."""
    with pytest.raises(SettingsError, match="blocking rule"):
        Settings(blocking_rules=[])


def test_wrong_type_is_a_settings_error() -> None:
    """A value of the wrong shape surfaces as a SettingsError, not a TypeError."""
    with pytest.raises(SettingsError):
        Settings.from_mapping({"comparisons": 5})


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.toml", "auto_threshold = = 1", "(?i)not valid toml"),
        ("bad.json", "{", "(?i)not valid json"),
        ("list.json", "[1, 2]", "expected a table of settings"),
        ("noext", "auto_threshold = [", "(?i)not valid toml"),
    ],
)
def test_unparseable_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    """Files that do not parse are SettingsErrors naming the file."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=expected) as info:
        Settings.from_file(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    """A settings path that does not exist is a SettingsError naming it."""
    with pytest.raises(SettingsError, match="cannot read settings file"):
        Settings.from_file(tmp_path / "missing.toml")


# --- settings change results ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small_district() -> SyntheticDistrict:
    return generate_district(300, seed=8)


@pytest.fixture(scope="module")
def default_plan(small_district: SyntheticDistrict) -> MergePlan:
    return build_plan(small_district.archived, small_district.synced, FAST)


def test_higher_auto_threshold_gives_fewer_autos(
    small_district: SyntheticDistrict, default_plan: MergePlan
) -> None:
    """Raising auto_threshold moves merges from auto to review, and never adds autos."""
    strict = Settings(random_pairs=FAST.random_pairs, auto_threshold=1 - 1e-12)
    plan = build_plan(small_district.archived, small_district.synced, strict)
    assert len(plan.auto) < len(default_plan.auto)
    assert {(m.archived_id, m.synced_id) for m in plan.auto} <= {
        (m.archived_id, m.synced_id) for m in default_plan.auto
    }
    assert all(m.confidence >= strict.auto_threshold for m in plan.auto)
    assert any("below the auto-merge threshold" in r for m in plan.review for r in m.reasons)
    assert strict.to_dict() == plan.settings


def test_higher_margin_gives_no_more_autos(
    small_district: SyntheticDistrict, default_plan: MergePlan
) -> None:
    """A huge margin requirement sends every contested merge to review."""
    plan = build_plan(
        small_district.archived,
        small_district.synced,
        Settings(random_pairs=FAST.random_pairs, margin_bits=1000),
    )
    assert len(plan.auto) < len(default_plan.auto)
    assert all(m.margin_bits is None for m in plan.auto)


def test_left_out_comparison_is_missing_everywhere(small_district: SyntheticDistrict) -> None:
    """A comparison left out of settings shows as missing with zero bits in every merge."""
    names = [c.name for c in COMPARISONS if c.name not in ("gender", "address")]
    plan = build_plan(
        small_district.archived,
        small_district.synced,
        Settings(random_pairs=FAST.random_pairs, comparisons=names),
    )
    assert plan.merges
    for merge in plan.merges:
        for e in merge.evidence:
            if e.comparison in ("gender", "address"):
                assert (e.level, e.bits) == ("missing", 0.0)


def test_grade_progression_changes_grade_levels(small_district: SyntheticDistrict) -> None:
    """With grade_progression 0, promoted children no longer show the expected grade."""
    plan = build_plan(
        small_district.archived,
        small_district.synced,
        Settings(random_pairs=FAST.random_pairs, grade_progression=0),
    )
    levels = [e.level for m in plan.merges for e in m.evidence if e.comparison == "grade"]
    assert levels.count("adjacent") > levels.count("expected")
    # and the plan warns that the data says otherwise
    assert any("plan again with grade_progression = 1" in w["message"] for w in plan.warnings)


def test_no_progression_warning_when_the_setting_fits(default_plan: MergePlan) -> None:
    """With the right grade_progression there is no progression warning."""
    assert not any("grade_progression" in w["message"] for w in default_plan.warnings)
