"""Fill the README's result blocks from results/ (--write), or fail with a diff when they differ (--check).

    .venv/bin/python scripts/readme_results.py --check     # CI, after the README's main command
    .venv/bin/python scripts/readme_results.py --write     # after a run, to update the README
    .venv/bin/python scripts/readme_results.py --command main|tests   # print an opening command of the README
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mfon.errors import MfonError  # noqa: E402
from mfon.readme_results import difference, opening_command, render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="exit 1 with a diff when the README differs")
    action.add_argument("--write", action="store_true", help="rewrite the README's result blocks")
    action.add_argument("--command", choices=("main", "tests"), help="print the README's opening command")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--workdir", type=Path, default=Path("."), help="where results/ is (default: .)")
    args = parser.parse_args(argv)
    try:
        if args.command:
            print(opening_command(args.readme.read_text(encoding="utf-8"), args.command))
            return 0
        if args.write:
            text = render(args.readme.read_text(encoding="utf-8"), args.workdir)
            args.readme.write_text(text, encoding="utf-8")
            print(f"{args.readme}: result blocks written from {args.workdir / 'results'}")
            return 0
        diff = difference(args.readme, args.workdir)
    except MfonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if diff:
        print("The README's result figures differ from what this run wrote (update them with "
              "scripts/readme_results.py --write):\n" + diff, file=sys.stderr)
        return 1
    print(f"{args.readme}: every result block matches {args.workdir / 'results'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
