"""Command line: `mfon inspect FILE.h5`, `mfon demo ROOT`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MfonError


def _inspect(args: argparse.Namespace) -> None:
    from .h5store import summarize

    for path in args.files:
        print(summarize(path))


def _demo(args: argparse.Namespace) -> None:
    from .demo import generate_demo_corpus

    labels = generate_demo_corpus(Path(args.root), n_speakers=args.n_speakers,
                                  clips_per_speaker=args.clips_per_speaker, seed=args.seed)
    print(labels)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarise HDF5 feature files (provenance, dims, frames, clips)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=_inspect)
    p = sub.add_parser("demo", help="write the demo corpus (label.csv + Raw/) under ROOT")
    p.add_argument("root", type=Path)
    p.add_argument("--n-speakers", type=int, default=12)
    p.add_argument("--clips-per-speaker", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except MfonError as exc:
        print(f"mfon: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
