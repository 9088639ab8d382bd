"""Docs that go stale are defects: every setting and CLI command must be documented."""

from __future__ import annotations

from pathlib import Path

import attrs

from merge_engine import Settings
from merge_engine.cli import _parser

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented() -> None:
    """docs/settings.md has a row for every field of Settings."""
    text = (DOCS / "settings.md").read_text(encoding="utf-8")

    missing = [f.name for f in attrs.fields(Settings) if f"`{f.name}`" not in text]

    assert [] == missing


def test_every_cli_command_has_help_and_an_example() -> None:
    """Each sub-command has a help line and an Example: in its epilog."""
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    undocumented = [
        name
        for name, command in sub.choices.items()  # type: ignore[union-attr]
        if "Example:" not in (command.epilog or "")
    ]

    assert [] == undocumented


def test_readme_starts_with_the_two_setup_commands() -> None:
    """The README opens with the run command and the test command, in that order."""
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if line.strip()]
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]

    assert "merge-engine demo" in block[0]
    assert "pytest" in block[1]


def test_the_mapping_example_in_adapters_md_loads() -> None:
    """The worked mapping example is valid and names the account parts it shows."""
    import tomllib  # noqa: PLC0415

    from merge_engine.storage import StorageMapping  # noqa: PLC0415

    text = (DOCS / "adapters.md").read_text(encoding="utf-8")
    block = text.split("```toml\n")[1].split("```")[0]

    mapping = StorageMapping.from_dict(tomllib.loads(block))

    assert mapping.guardians.merged_into == "merged_into_contact"
    assert mapping.account_links is not None and mapping.account_links.table == "person_links"
    assert [t.name for t in mapping.guardian_history] == ["parent_messages"]
