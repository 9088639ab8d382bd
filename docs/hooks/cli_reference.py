"""Build the CLI reference page from the argparse parser, so it never drifts from ``--help``.

Used as an mkdocs hook (``hooks:`` in mkdocs.yml): the page ``cli-reference.md`` is generated at
build time and never written into docs/. ``tests/test_docs_site.py`` checks that every section
equals what ``merge-engine ... --help`` prints.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The width the reference is rendered at (argparse reads it from $COLUMNS).
COLUMNS = 88
PAGE = "cli-reference.md"


@contextmanager
def columns(width: int = COLUMNS) -> Iterator[None]:
    """Render help at a fixed width, whatever the terminal that builds the docs."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command, depth first: (its words after the program name, its parser, its help)."""
    yield path, parser, ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                for words, child, text in commands(sub, (*path, name)):
                    yield words, child, text or helps.get(name, "")


def render(parser: argparse.ArgumentParser) -> str:
    """The Markdown page: a table of the commands, then each command's ``--help``."""
    with columns():
        entries = [(words, p.format_help(), text) for words, p, text in commands(parser)]
    prog = parser.prog
    lines = [
        "# Command-line reference",
        "",
        "<!-- Generated from the argparse parser by docs/hooks/cli_reference.py; do not edit. -->",
        "",
        f"Every command prints this with `{prog} COMMAND --help`. Exit codes and what to rely",
        "on when scripting are in [Running from the command line](cli.md).",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    lines += [
        f"| [`{' '.join((prog, *words))}`](#{anchor(words)}) | {cell(text)} |"
        for words, _, text in entries
        if words
    ]
    for words, text, _ in entries:
        title = " ".join((prog, *words))
        lines += ["", f"## {title} {{ #{anchor(words)} }}", "", "```text", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def anchor(words: tuple[str, ...]) -> str:
    return "-".join(("cmd", *words)) if words else "cmd"


def sections(page: str) -> dict[str, str]:
    """The ``--help`` text of each command in a rendered page, keyed by its title."""
    out = {}
    for part in page.split("\n## ")[1:]:
        title = part.split(" {", 1)[0]
        out[title] = part.split("```text\n", 1)[1].split("\n```", 1)[0]
    return out


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated page to the site."""
    from mkdocs.structure.files import File  # noqa: PLC0415

    from merge_engine.cli import _parser  # noqa: PLC0415

    files.append(File.generated(config, PAGE, content=render(_parser())))
    return files
