"""The README's result figures, written from ``results/`` and checked against them.

The README marks each result block with ``<!-- results: NAME -->`` ... ``<!-- /results -->``; :data:`BLOCKS`
says which table file fills it. ``scripts/readme_results.py`` rewrites the blocks after a run (``--write``) or
fails with a diff when they differ from what the run wrote (``--check``, as CI does after running the README's
main command), so a number the README prints as "what you get" always comes from a run of the same commit.
The README's first two commands (main job, tests) are read from here too, so CI runs them exactly as written.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from . import layout
from .errors import MfonError

#: Block name -> the table (a file written by the pipeline, relative to the working directory) it shows.
BLOCKS = {
    "demo_table": layout.table("demo"),
    "demo_baselines": layout.table("demo", "baselines"),
}

_BLOCK = re.compile(r"(<!-- results: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.DOTALL)
#: The sentences that introduce the README's two opening commands, in the order they appear.
COMMAND_INTROS = {"main": "Set up and run the main job", "tests": "Set up and run the tests"}


def render(readme_text: str, workdir: Path) -> str:
    """``readme_text`` with every result block filled from the files under ``workdir``."""
    from .analysis import markdown_table, paper_table_rows  # numpy: not needed to read the opening commands

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in BLOCKS:
            raise MfonError(f"README result block {name!r} is unknown; known: {', '.join(BLOCKS)}")
        table = Path(workdir) / BLOCKS[name]
        if not table.is_file():
            raise MfonError(f"README result block {name!r} needs {table}: run the README's main command first")
        return match.group(1) + markdown_table(*paper_table_rows(table)) + match.group(4)

    text, count = _BLOCK.subn(fill, readme_text)
    if count == 0:
        raise MfonError("the README has no result blocks (<!-- results: NAME --> ... <!-- /results -->)")
    return text


def difference(readme: Path, workdir: Path) -> str:
    """A unified diff from the README as it is to the README filled from ``workdir`` ('' when they agree)."""
    current = Path(readme).read_text(encoding="utf-8")
    wanted = render(current, workdir)
    return "".join(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True),
                                        f"{readme} (as committed)", f"{readme} (from {workdir}/results)"))


def opening_command(readme_text: str, which: str) -> str:
    """The README's opening command ``which`` ("main" or "tests"): the indented line after its introduction."""
    intro = COMMAND_INTROS[which]
    lines = readme_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(intro):
            command = next((l.strip() for l in lines[i + 1:] if l.startswith("    ") and l.strip()), None)
            if command:
                return command
    raise MfonError(f"the README has no command after a line starting {intro!r}")
