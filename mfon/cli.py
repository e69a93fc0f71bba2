"""Command line: `mfon inspect FILE.h5`, `mfon demo ROOT`, `mfon predict RUN_DIR VIDEO --text ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MfonError


def _inspect(args: argparse.Namespace) -> None:
    from .h5store import FeatureReadError, summarize, verify

    damaged = []
    for path in args.files:
        try:
            print(summarize(path))
        except FeatureReadError as exc:
            if not args.verify:
                raise
            print(f"{path}\n  summary stopped: {exc}")
        if args.verify:
            found = verify(path)
            print(found.report(path))
            if found.problems:
                damaged.append(f"{path} ({len(found.problems)} damaged datasets)")
    if damaged:
        raise MfonError("damaged feature file(s): " + ", ".join(damaged)
                        + "; delete them and rerun snakemake to extract them again")


def _demo(args: argparse.Namespace) -> None:
    from .demo import generate_demo_corpus

    labels = generate_demo_corpus(Path(args.root), n_speakers=args.n_speakers,
                                  clips_per_speaker=args.clips_per_speaker, seed=args.seed)
    print(labels)


def _predict(args: argparse.Namespace) -> None:
    import json

    from .predict import format_result, predict_clip

    result = predict_clip(args.run, args.video, args.text, with_teachers=args.teachers)
    print(json.dumps(result, indent=2) if args.json else format_result(result))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarise HDF5 feature files (provenance, dims, frames, clips)")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--verify", action="store_true",
                   help="read every dataset back and check its checksum; exit 1 if any is damaged")
    p.set_defaults(func=_inspect)
    p = sub.add_parser("demo", help="write the demo corpus (label.csv + Raw/) under ROOT")
    p.add_argument("root", type=Path)
    p.add_argument("--n-speakers", type=int, default=12)
    p.add_argument("--clips-per-speaker", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)
    p = sub.add_parser("predict", help="sentiment of one clip by a trained MFON run (its own feature settings)")
    p.add_argument("run", type=Path, help="MFON run folder (results/<dataset>/mfon/<variant>/seed<S>) or its "
                                          "checkpoint.pt")
    p.add_argument("video", type=Path, help="the clip (video with an audio track)")
    p.add_argument("--text", default=None, help="the clip's transcript (needed by models that read text)")
    p.add_argument("--teachers", action="store_true",
                   help="also run the unimodal teachers of the same seed (results/<dataset>/teachers/...)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_predict)
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
